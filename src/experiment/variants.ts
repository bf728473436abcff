// The architectures of the paper's Table 4 (method.md §3) as data, plus plain SFT on answers only, each with the
// expert configuration, the step-skipping probability and the training data it uses, and the paper's Harm %.
import type { Chain } from '../aligncot/chain.js';
import type { ExpertPreset } from '../experts/config.js';
import { check } from '../util/errors.js';

/** Step-skipping probability of the MoTE variants that skip steps (the paper leaves p open [open]). */
export const MOTE_STEP_SKIP_PROB = 0.2;

/** One row of the ablation. */
export interface AblationVariant {
  /** Stable id, used in `--variants`, file names and the JSON. */
  name: string;
  /** The row label of the paper's Table 4 (or ours for plain SFT). */
  label: string;
  /** Expert preset of experts/config.ts (EXPERT_PRESETS); the run's seed is added. */
  preset: ExpertPreset;
  /** Probability per training chain of masking earlier steps out of later steps' attention. */
  stepSkipProb: number;
  /** 'chains': the AlignCoT chains; 'answers': their answer-only versions (see `answerOnly`). */
  data: 'chains' | 'answers';
  /** Harm % of the paper's Table 4 (Wizard-Vicuna-7B, GPT-4 judge); null where the table has no such row. */
  paperHarm: number | null;
}

/** The variants in the order of the paper's Table 4, then plain SFT. */
export const ABLATION_VARIANTS: readonly AblationVariant[] = Object.freeze([
  v('single-lora', 'single LoRA (rank 16)', 'single-lora', 0, 'chains', 90.89),
  v('lora-rank2x', 'LoRA rank×2 (32)', 'lora-rank2x', 0, 'chains', 91.02),
  v('moe-topk', 'token-routed MoE (top-2 of 3, learned gate)', 'moe-topk', 0, 'chains', 92.6),
  v('mote', 'MoTE', 'mote', MOTE_STEP_SKIP_PROB, 'chains', 94.45),
  v('mote-no-skip', 'MoTE w/o step skipping', 'mote', 0, 'chains', 93.37),
  v('mote-no-shared', 'MoTE w/o shared expert', 'mote-no-shared', MOTE_STEP_SKIP_PROB, 'chains', 87.45),
  v('mote-no-both', 'MoTE w/o both', 'mote-no-shared', 0, 'chains', 84.69),
  v('sft-answers', 'plain SFT on answers (single LoRA)', 'single-lora', 0, 'answers', null),
]);

/** Names of every variant, in table order. */
export const ABLATION_VARIANT_NAMES: readonly string[] = ABLATION_VARIANTS.map((x) => x.name);

/**
 * The variants named in `names`, in the given order; every variant when `names` is undefined. Throws a
 * ConfigError naming an unknown or repeated name and the allowed ones.
 */
export function selectVariants(names?: readonly string[]): AblationVariant[] {
  if (names === undefined) return [...ABLATION_VARIANTS];
  check(names.length > 0, 'variants', names, `a non-empty list of ${ABLATION_VARIANT_NAMES.join(', ')}`);
  return names.map((name, i) => {
    const found = ABLATION_VARIANTS.find((x) => x.name === name);
    check(found !== undefined, `variants[${i}]`, name, `one of ${ABLATION_VARIANT_NAMES.join(', ')}`);
    check(names.indexOf(name) === i, `variants[${i}]`, name, 'each variant at most once');
    return found;
  });
}

/**
 * Plain SFT data: the chain without its reasoning, i.e. the question followed directly by the answer block,
 * `User: {question}\n<|response|> {answer}<|/response|>` + EOS; the loss covers the answer block only.
 */
export function answerOnly(chain: Chain): Chain {
  return { id: chain.id, question: chain.question, answer: chain.answer };
}

function v(
  name: string,
  label: string,
  preset: ExpertPreset,
  stepSkipProb: number,
  data: AblationVariant['data'],
  paperHarm: number | null,
): AblationVariant {
  return Object.freeze({ name, label, preset, stepSkipProb, data, paperHarm });
}
