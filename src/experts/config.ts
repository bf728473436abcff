// ExpertConfig: which adapters attach to which projections (method.md §2), presets for the paper's
// Table 4 architectures, and the validating resolver (peft LoraConfig.__post_init__ style).

import { LINEAR_MODULES, type LinearModule } from '../model/transformer.js';
import { STAGES, type Stage } from '../steps.js';
import { check } from '../util/errors.js';

/**
 * - `mote`: one LoRA expert per reasoning step + a shared expert, hard step routing (the paper);
 * - `lora`: one LoRA on every token (single LoRA / LoRA rank×2 baselines);
 * - `moe-topk`: `numExperts` LoRA experts mixed by a learned top-k gate per layer (token-routed MoE baseline).
 */
export type ExpertKind = 'lora' | 'mote' | 'moe-topk';
export const EXPERT_KINDS: readonly ExpertKind[] = ['lora', 'mote', 'moe-topk'];

/** A step expert is named after the AlignCoT stage it serves. */
export type StepExpert = Stage;

/** The mixing implementations (kernels/): all compute the same function. */
export const MIX_KERNELS = ['reference', 'dense', 'segmented'] as const;
export type MixKernelName = (typeof MIX_KERNELS)[number];

export interface ExpertConfig {
  /** Adapter architecture (see ExpertKind). Default `'mote'`. */
  kind: ExpertKind;
  /** LoRA rank r of every expert. Default 16 [paper]. */
  rank: number;
  /** LoRA alpha: scaling = loraAlpha / r (loraAlpha / √r with rsLora). Default: equal to `rank` (scaling 1). */
  loraAlpha: number;
  /** Rank-stabilised scaling loraAlpha / √r (Kalajdzievski 2023). Default false. */
  rsLora: boolean;
  /** Dropout on the adapters' input during training, in [0, 1) (seeded). Default 0. */
  dropout: number;
  /**
   * α: weight of the token's step expert; the shared expert gets 1 − α. In [0, 1]. Default 0.5 [paper] when
   * `shared`, 1 without a shared expert. Unused by `lora`.
   */
  alpha: number;
  /** Step experts of `mote`, in index order. Default analysis, guidance, answer (add `check` for 4-stage chains). */
  stepExperts: StepExpert[];
  /** Whether a shared expert sees every token (`mote`, `moe-topk`). Default true for mote, false for moe-topk. */
  shared: boolean;
  /** Number of experts of `moe-topk`. Default 3 (as many as the paper's steps). */
  numExperts: number;
  /** Experts per token of `moe-topk` (weights renormalised over them); 1 ≤ topK ≤ numExperts. Default 2. */
  topK: number;
  /** Suggested weight of the Switch load-balance loss (`balanceLoss`) for `moe-topk`; read by the trainer. Default 0.01. */
  balanceLossWeight: number;
  /** Projections to adapt. Default all: q, k, v, o, gate, up, down. */
  targets: LinearModule[];
  /** Mixing implementation; `'auto'` picks the fastest measured on the active backend (kernels/index.ts). Default 'auto'. */
  kernel: MixKernelName | 'auto';
  /** true: B = 0 so attaching leaves outputs unchanged (PEFT default). false: B random too (tests). Default true. */
  initLoraWeights: boolean;
  /** Seed of every random choice made by the adapters (init, dropout). Default 0. */
  seed: number | string;
}

export const DEFAULT_EXPERT_CONFIG: Readonly<ExpertConfig> = Object.freeze({
  kind: 'mote',
  rank: 16,
  loraAlpha: 16,
  rsLora: false,
  dropout: 0,
  alpha: 0.5,
  stepExperts: ['analysis', 'guidance', 'answer'],
  shared: true,
  numExperts: 3,
  topK: 2,
  balanceLossWeight: 0.01,
  targets: [...LINEAR_MODULES],
  kernel: 'auto',
  initLoraWeights: true,
  seed: 0,
} satisfies ExpertConfig);

/** The architectures of the paper's Table 4, from configuration alone (step skipping is a training option). */
export const EXPERT_PRESETS = {
  'single-lora': { kind: 'lora', rank: 16 },
  'lora-rank2x': { kind: 'lora', rank: 32 },
  'moe-topk': { kind: 'moe-topk', numExperts: 3, topK: 2, shared: false },
  mote: { kind: 'mote' },
  'mote-no-shared': { kind: 'mote', shared: false },
} satisfies Record<string, Partial<ExpertConfig>>;
export type ExpertPreset = keyof typeof EXPERT_PRESETS;

const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Merges `partial` over a preset (or the defaults) and validates every field; errors name the key, the value
 * and what is allowed. Defaults that depend on others (loraAlpha = rank, alpha and shared by kind) are filled here.
 */
export function resolveExpertConfig(
  partial: Partial<ExpertConfig> = {},
  preset?: ExpertPreset,
): Readonly<ExpertConfig> {
  if (preset !== undefined)
    check(preset in EXPERT_PRESETS, 'preset', preset, `one of ${Object.keys(EXPERT_PRESETS).join(', ')}`);
  const given: Partial<ExpertConfig> = { ...(preset ? EXPERT_PRESETS[preset] : {}), ...partial };
  const known = Object.keys(DEFAULT_EXPERT_CONFIG);
  for (const k of Object.keys(given))
    check(known.includes(k), k, (given as Record<string, unknown>)[k], `a known key (${known.join(', ')})`);

  const kind = given.kind ?? DEFAULT_EXPERT_CONFIG.kind;
  check(EXPERT_KINDS.includes(kind), 'kind', kind, `one of ${EXPERT_KINDS.join(', ')}`);
  const shared = given.shared ?? kind === 'mote';
  const rank = given.rank ?? DEFAULT_EXPERT_CONFIG.rank;
  const c: ExpertConfig = {
    ...DEFAULT_EXPERT_CONFIG,
    ...given,
    kind,
    shared,
    loraAlpha: given.loraAlpha ?? rank,
    alpha: given.alpha ?? (shared ? 0.5 : 1),
    stepExperts: [...(given.stepExperts ?? DEFAULT_EXPERT_CONFIG.stepExperts)],
    targets: [...(given.targets ?? DEFAULT_EXPERT_CONFIG.targets)],
  };

  check(isPosInt(c.rank), 'rank', c.rank, 'a positive integer');
  check(isNum(c.loraAlpha) && c.loraAlpha > 0, 'loraAlpha', c.loraAlpha, 'a number > 0');
  check(typeof c.rsLora === 'boolean', 'rsLora', c.rsLora, 'a boolean');
  check(isNum(c.dropout) && c.dropout >= 0 && c.dropout < 1, 'dropout', c.dropout, 'a number in [0, 1)');
  check(isNum(c.alpha) && c.alpha >= 0 && c.alpha <= 1, 'alpha', c.alpha, 'a number in [0, 1]');
  check(typeof c.shared === 'boolean', 'shared', c.shared, 'a boolean');
  check(
    Array.isArray(c.stepExperts) && c.stepExperts.length > 0,
    'stepExperts',
    c.stepExperts,
    `a non-empty list of ${STAGES.join(', ')}`,
  );
  for (const s of c.stepExperts)
    check((STAGES as readonly string[]).includes(s), 'stepExperts', s, `one of ${STAGES.join(', ')}`);
  check(new Set(c.stepExperts).size === c.stepExperts.length, 'stepExperts', c.stepExperts, 'no repeats');
  check(isPosInt(c.numExperts), 'numExperts', c.numExperts, 'a positive integer');
  check(
    isPosInt(c.topK) && c.topK <= c.numExperts,
    'topK',
    c.topK,
    `an integer in [1, numExperts = ${c.numExperts}]`,
  );
  check(
    isNum(c.balanceLossWeight) && c.balanceLossWeight >= 0,
    'balanceLossWeight',
    c.balanceLossWeight,
    'a number ≥ 0',
  );
  check(
    Array.isArray(c.targets) && c.targets.length > 0,
    'targets',
    c.targets,
    `a non-empty list of ${LINEAR_MODULES.join(', ')}`,
  );
  for (const t of c.targets)
    check(
      (LINEAR_MODULES as readonly string[]).includes(t),
      'targets',
      t,
      `one of ${LINEAR_MODULES.join(', ')}`,
    );
  check(new Set(c.targets).size === c.targets.length, 'targets', c.targets, 'no repeats');
  const kernels = ['auto', ...MIX_KERNELS];
  check(kernels.includes(c.kernel), 'kernel', c.kernel, `one of ${kernels.join(', ')}`);
  check(typeof c.initLoraWeights === 'boolean', 'initLoraWeights', c.initLoraWeights, 'a boolean');
  check(
    isNum(c.seed) || (typeof c.seed === 'string' && c.seed.length > 0),
    'seed',
    c.seed,
    'a number or a non-empty string',
  );
  return Object.freeze(c);
}
