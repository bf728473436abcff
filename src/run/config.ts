// The configuration of a training run: layers `{ model?, experts?, train?, data? }` (a JSON file, the flags of
// `mote train`, the config a run directory saved) merged section by section (later layers win), every key checked,
// then resolved with the library's validating resolvers into the RunConfig a run directory keeps as config.json.
//
//   { "model":   { "base": "stories260K.bin", "tokenizer": "tok512.bin" },
//     "experts": { "preset": "mote", "rank": 16 },            // Partial<ExpertConfig> + preset; kind "none" = full FT
//     "train":   { "epochs": 3, "learningRate": 2e-5, "maxSteps": 100 },   // Partial<TrainConfig> + maxSteps
//     "data":    { "train": "chains.jsonl", "evalFraction": 0.1 } }
//
// Relative paths in a file are relative to that file's directory. A resolved config has `experts: null` for full
// fine-tuning (written `{ "kind": "none" }` in a layer).
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  DEFAULT_EXPERT_CONFIG,
  EXPERT_PRESETS,
  type ExpertConfig,
  type ExpertKind,
  type ExpertPreset,
  resolveExpertConfig,
} from '../experts/config.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../model/config.js';
import { DEFAULT_TRAIN_CONFIG, resolveTrainConfig, type TrainConfig } from '../train/config.js';
import { ConfigError, check } from '../util/errors.js';

/** Where the chains come from and how they become training rows. */
export interface DataConfig {
  /** Chains JSONL (loadChains). */
  train: string;
  /** Held-out chains JSONL; null: split `evalFraction` of `train` off instead. */
  eval: string | null;
  /** Share of the training chains held out (seeded split by id) when `eval` is null; 0 = no evaluation. */
  evalFraction: number;
  /** Longest encoded chain; null = the model's context. */
  maxLen: number | null;
  /** What to do with a chain longer than maxLen (encodeChains). */
  onOverflow: 'throw' | 'drop' | 'truncate-reasoning' | 'truncate';
  /** One chain per row, or several packed into a row. */
  mode: 'pad' | 'pack';
}

/** One layer of configuration, as a file or the flags give it: every field optional. */
export interface RunConfigInput {
  model?: { base?: string; tokenizer?: string; config?: Partial<ModelConfig> };
  /** Partial experts and a preset; `{ kind: 'none' }` or null: no experts (full fine-tuning). */
  experts?:
    | (Omit<Partial<ExpertConfig>, 'kind'> & { kind?: ExpertKind | 'none'; preset?: ExpertPreset })
    | null;
  train?: Partial<TrainConfig> & { maxSteps?: number | null };
  data?: Partial<DataConfig>;
}

/** The resolved run: what `mote train` does, printed and saved as <out>/config.json. */
export interface RunConfig {
  /** `config` is the loaded model's shape (with the step tokens added); filled in after loading. */
  model: { base: string; tokenizer: string; config?: ModelConfig };
  /** The attached experts, or null for full fine-tuning. */
  experts: Readonly<ExpertConfig> | null;
  train: Readonly<TrainConfig> & { maxSteps: number | null };
  data: DataConfig;
}

const DATA_DEFAULTS: Omit<DataConfig, 'train'> = {
  eval: null,
  evalFraction: 0,
  maxLen: null,
  onOverflow: 'truncate-reasoning',
  mode: 'pad',
};
const SECTION_KEYS: Record<keyof RunConfigInput, readonly string[]> = {
  model: ['base', 'tokenizer', 'config'],
  experts: [...Object.keys(DEFAULT_EXPERT_CONFIG), 'preset'],
  train: [...Object.keys(DEFAULT_TRAIN_CONFIG), 'maxSteps'],
  data: ['train', ...Object.keys(DATA_DEFAULTS)],
};
const PATH_KEYS: Partial<Record<keyof RunConfigInput, string[]>> = {
  model: ['base', 'tokenizer'],
  data: ['train', 'eval'],
};
/** Expert fields that decide the shape of the adapter variables: a resumed run must keep them. */
const EXPERT_SHAPE_KEYS = ['kind', 'rank', 'stepExperts', 'shared', 'numExperts', 'targets'] as const;

// ---------------------------------------------------------------- reading

/** Reads and checks a run config file; relative paths become absolute (relative to the file). */
export async function readRunConfigFile(path: string): Promise<RunConfigInput> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`config file ${path}: cannot read (${e.code ?? e.message})`);
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`config file ${path}: not valid JSON (${(e as Error).message})`);
  }
  const input = checkRunConfigInput(value, `config file ${path}`);
  for (const [section, keys] of Object.entries(PATH_KEYS)) {
    const s = input[section as keyof RunConfigInput] as Record<string, unknown> | undefined;
    for (const k of keys) if (s && typeof s[k] === 'string') s[k] = resolve(dirname(path), s[k] as string);
  }
  return input;
}

/**
 * Checks the structure of one layer: an object of known sections, each an object of known keys. Errors name the
 * source, the key path and the allowed keys. Values are checked later, by `resolveRunConfig`.
 */
export function checkRunConfigInput(value: unknown, source: string): RunConfigInput {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(value)) throw new Error(`${source}: expected a JSON object, got ${kindOf(value)}`);
  const sections = Object.keys(SECTION_KEYS);
  for (const [section, body] of Object.entries(value)) {
    if (!sections.includes(section))
      throw new Error(`${source}: unknown key "${section}"; allowed keys: ${sections.join(', ')}`);
    if (section === 'experts' && body === null) continue; // full fine-tuning, as a resolved config saves it
    if (!isObject(body)) throw new Error(`${source}: "${section}" must be an object, got ${kindOf(body)}`);
    const allowed = SECTION_KEYS[section as keyof RunConfigInput];
    for (const key of Object.keys(body))
      if (!allowed.includes(key))
        throw new Error(
          `${source}: unknown key "${section}.${key}"; allowed keys in ${section}: ${allowed.join(', ')}`,
        );
  }
  return structuredClone(value) as RunConfigInput;
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

// ---------------------------------------------------------------- merging and resolving

/** Merges layers section by section; a later layer's defined values win. */
export function mergeRunConfig(...layers: RunConfigInput[]): RunConfigInput {
  const out: Record<string, Record<string, unknown>> = {};
  for (const layer of layers)
    for (const [section, body] of Object.entries(layer)) {
      if (body === null) {
        out[section] = { kind: 'none' }; // a saved full fine-tuning run: later layers may still change it
        continue;
      }
      const defined = Object.entries(body ?? {}).filter(([, v]) => v !== undefined);
      out[section] = { ...out[section], ...Object.fromEntries(defined) };
    }
  return out as RunConfigInput;
}

/** Fills defaults and validates every value; a ConfigError names the key as `section.key`. */
export function resolveRunConfig(input: RunConfigInput): RunConfig {
  const within = <T>(section: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(`${section}.${e.key}`, e.value, e.expected);
      throw e;
    }
  };
  const m = input.model ?? {};
  check(
    typeof m.base === 'string' && m.base !== '',
    'model.base',
    m.base,
    'a base model path: a llama2.c .bin or a Hugging Face model directory (--base)',
  );
  check(
    typeof m.tokenizer === 'string',
    'model.tokenizer',
    m.tokenizer,
    "a tokenizer path (--tokenizer; '' = the one in the base's directory)",
  );

  const { maxSteps = null, ...trainPartial } = input.train ?? {};
  const base = within('train', () => resolveTrainConfig(trainPartial));
  check(
    maxSteps === null || (Number.isInteger(maxSteps) && maxSteps >= 1),
    'train.maxSteps',
    maxSteps,
    'an integer ≥ 1, or null (the whole schedule)',
  );

  const { preset, kind, ...rest } = input.experts ?? {};
  let experts: RunConfig['experts'];
  if (kind === 'none') {
    check(preset === undefined, 'experts.preset', preset, 'no preset with kind "none" (full fine-tuning)');
    experts = null;
  } else {
    if (preset !== undefined)
      check(
        preset in EXPERT_PRESETS,
        'experts.preset',
        preset,
        `one of ${Object.keys(EXPERT_PRESETS).join(', ')}`,
      );
    const partial = { seed: base.seed, ...rest, ...(kind ? { kind } : {}) } as Partial<ExpertConfig>;
    experts = within('experts', () => resolveExpertConfig(partial, preset));
  }

  const data = { ...DATA_DEFAULTS, ...(input.data ?? {}) } as DataConfig;
  check(
    typeof data.train === 'string' && data.train !== '',
    'data.train',
    data.train,
    'a chains JSONL path (--data)',
  );
  check(data.eval === null || typeof data.eval === 'string', 'data.eval', data.eval, 'a path or null');
  const f = data.evalFraction;
  check(typeof f === 'number' && f >= 0 && f < 1, 'data.evalFraction', f, 'a number in [0, 1)');
  check(data.eval === null || f === 0, 'data.evalFraction', f, '0 when data.eval (--eval-data) is given');
  check(
    data.maxLen === null || (Number.isInteger(data.maxLen) && data.maxLen >= 1),
    'data.maxLen',
    data.maxLen,
    'a positive integer, or null (the model context)',
  );
  const overflow = ['throw', 'drop', 'truncate-reasoning', 'truncate'];
  check(
    overflow.includes(data.onOverflow),
    'data.onOverflow',
    data.onOverflow,
    `one of ${overflow.join(', ')}`,
  );
  check(['pad', 'pack'].includes(data.mode), 'data.mode', data.mode, 'pad or pack');

  const known = Object.keys(DEFAULT_MODEL_CONFIG);
  for (const k of Object.keys(m.config ?? {}))
    check(
      known.includes(k),
      `model.config.${k}`,
      m.config?.[k as keyof ModelConfig],
      `a known key (${known.join(', ')})`,
    );
  const model: RunConfig['model'] = { base: m.base, tokenizer: m.tokenizer };
  if (m.config) model.config = m.config as ModelConfig;
  return { model, experts, train: { ...base, maxSteps }, data };
}

// ---------------------------------------------------------------- resume checks

/**
 * Why a checkpoint saved with config `saved` cannot be resumed with `current`: one line per differing model
 * field or adapter-shape field (empty when they fit). `current.model.config` must be filled in.
 */
export function shapeMismatches(saved: unknown, current: RunConfig): string[] {
  const s = (saved ?? {}) as Partial<RunConfig>;
  const out: string[] = [];
  const differ = (path: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      out.push(`${path}: checkpoint ${JSON.stringify(a)}, this run ${JSON.stringify(b)}`);
  };
  // a key a checkpoint does not record (saved before the key existed) has its default
  const withDefaults = (c: Partial<ModelConfig> | undefined) =>
    c ? { ...DEFAULT_MODEL_CONFIG, ...c } : undefined;
  const [sm, cm] = [withDefaults(s.model?.config), withDefaults(current.model.config)];
  for (const k of Object.keys(DEFAULT_MODEL_CONFIG) as (keyof ModelConfig)[])
    differ(`model.config.${k}`, sm?.[k], cm?.[k]);
  const se = fullFineTuning(s.experts) ? null : (s.experts as Record<string, unknown>);
  const ce = current.experts as Record<string, unknown> | null;
  const none = 'none (full fine-tuning)';
  if (!se || !ce) differ('experts.kind', se ? se.kind : none, ce ? ce.kind : none);
  else for (const k of EXPERT_SHAPE_KEYS) differ(`experts.${k}`, se[k], ce[k]);
  return out;
}

/** Settings that changed since the checkpoint but do not prevent resuming (printed as warnings). */
export function settingChanges(saved: unknown, current: RunConfig): string[] {
  const s = (saved ?? {}) as Partial<RunConfig>;
  const out: string[] = [];
  for (const section of ['experts', 'train', 'data'] as const) {
    const a = (s[section] ?? {}) as Record<string, unknown>;
    const b = (current[section] ?? {}) as Record<string, unknown>;
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (section === 'experts' && (EXPERT_SHAPE_KEYS as readonly string[]).includes(k)) continue;
      if (section === 'train' && k === 'maxSteps') continue;
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k]))
        out.push(`${section}.${k}: ${JSON.stringify(a[k])} → ${JSON.stringify(b[k])}`);
    }
  }
  return out;
}

/** Whether a saved experts section means full fine-tuning (null, or `{ kind: 'none' }` in older run directories). */
function fullFineTuning(experts: unknown): boolean {
  return experts === null || (experts as { kind?: unknown } | undefined)?.kind === 'none';
}
