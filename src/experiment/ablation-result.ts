// The ablation table as data: one row per variant with its held-out losses, eval figures, size and timing, in a
// versioned JSON shape. Everything is a deterministic function of the seed except `timing` (wall-clock).

import { type Rate, rate } from '../eval/stats.js';
import type { ReportRun } from '../eval/types.js';
import type { ExpertConfig } from '../experts/config.js';
import type { EvalResult } from '../train/evaluate.js';
import type { AblationVariant } from './variants.js';

/** The `schema` field of ablation.json. */
export const ABLATION_SCHEMA = 'mote-ablation';
/** Bumped on any change of the JSON shape. */
export const ABLATION_VERSION = 1;

/** How the run was made (everything needed to repeat it, with the command line). */
export interface AblationSettings {
  /** The command line that produced the run, as the caller gave it (null from the library). */
  command: string | null;
  seed: number | string;
  train: {
    epochs: number;
    learningRate: number;
    batchSize: number;
    microBatchSize: number;
    warmupSteps: number;
    schedule: string;
    maxSteps: number | null;
  };
  /** Step-skipping probability of the MoTE variants that skip steps. */
  moteStepSkipProb: number;
  data: {
    chains: string;
    trainChains: number;
    heldOutChains: number;
    droppedAsTooLong: number;
    evalPrompts: string;
    harmfulPrompts: number;
    benignPrompts: number;
  };
  generation: { mode: 'adaptive'; temperature: number; maxTokensPerStage: number };
  model: string;
  backend: string;
}

/** One variant's figures. Losses are mean NLL per trained token (nats), rounded to 1e-4. */
export interface AblationRow {
  variant: string;
  label: string;
  /** Harm % of the paper's Table 4, or null. */
  paperHarm: number | null;
  experts: { kind: string; rank: number; shared: boolean; alpha: number; numExperts: number; topK: number };
  stepSkipProb: number;
  data: AblationVariant['data'];
  /** Every trainable variable: the adapters (and routers) plus the added step-token rows. */
  trainableParameters: number;
  /** Adapters and routers only. */
  adapterParameters: number;
  trainChains: number;
  steps: number;
  /** Loss of the last training step. */
  finalTrainLoss: number;
  heldOut: {
    /** Over every trained token of the held-out chains. */
    loss: number;
    /** Per step type: analysis, guidance, answer blocks (step tokens included). */
    analysis: number | null;
    guidance: number | null;
    answer: number | null;
    /** The answer of the held-out chains given the question alone (answer-only versions, no reasoning). */
    answerWithoutChain: number;
  };
  eval: {
    refusalOnHarmful: Rate;
    complianceOnBenign: Rate;
    formatAdherence: Rate;
    /** Harmful / benign outputs that wrote at least one reasoning block (adaptive length). */
    reasoningOnHarmful: Rate;
    reasoningOnBenign: Rate;
    /** Different answer texts among the outputs (a model that says the same thing to every prompt has 1). */
    distinctAnswers: number;
    /** Mean content tokens of the answer block (outputs that have one). */
    tokensPerAnswer: number | null;
    /** Mean generated tokens per output (step tokens included). */
    tokensPerOutput: number | null;
  };
  /** Wall-clock seconds: the only figures that change between identical runs. */
  timing: { trainSeconds: number; evalSeconds: number };
}

/** The whole ablation (ablation.json). */
export interface AblationResult {
  schema: typeof ABLATION_SCHEMA;
  version: typeof ABLATION_VERSION;
  settings: AblationSettings;
  rows: AblationRow[];
}

/** What a variant's run produced, before rounding. */
export interface VariantOutcome {
  experts: Readonly<ExpertConfig>;
  adapterParameters: number;
  trainableParameters: number;
  trainChains: number;
  steps: number;
  finalTrainLoss: number;
  heldOut: EvalResult;
  answerOnlyLoss: number;
  /** The variant's eval run (figures and per-output results). */
  report: ReportRun;
  distinctAnswers: number;
  trainMs: number;
  evalMs: number;
}

/** Builds a row from a variant and its outcome. */
export function toRow(variant: AblationVariant, o: VariantOutcome): AblationRow {
  const m = o.report.metrics;
  const withReasoning = (harmful: boolean): Rate => {
    const items = o.report.items.filter((it) => it.harmful === harmful);
    const k = items.filter(
      (it) => it.tokensPerStage.analysis !== undefined || it.tokensPerStage.guidance !== undefined,
    );
    return rate(k.length, items.length);
  };
  return {
    variant: variant.name,
    label: variant.label,
    paperHarm: variant.paperHarm,
    experts: {
      kind: o.experts.kind,
      rank: o.experts.rank,
      shared: o.experts.shared,
      alpha: o.experts.alpha,
      numExperts: o.experts.numExperts,
      topK: o.experts.topK,
    },
    stepSkipProb: variant.stepSkipProb,
    data: variant.data,
    trainableParameters: o.trainableParameters,
    adapterParameters: o.adapterParameters,
    trainChains: o.trainChains,
    steps: o.steps,
    finalTrainLoss: round(o.finalTrainLoss),
    heldOut: {
      loss: round(o.heldOut.loss),
      analysis: roundOrNull(o.heldOut.byStage.analysis),
      guidance: roundOrNull(o.heldOut.byStage.guidance),
      answer: roundOrNull(o.heldOut.byStage.answer),
      answerWithoutChain: round(o.answerOnlyLoss),
    },
    eval: {
      refusalOnHarmful: m.refusalOnHarmful,
      complianceOnBenign: m.complianceOnBenign,
      formatAdherence: m.formatAdherence,
      reasoningOnHarmful: withReasoning(true),
      reasoningOnBenign: withReasoning(false),
      distinctAnswers: o.distinctAnswers,
      tokensPerAnswer: roundOrNull(m.tokens.all.answer.mean, 1e2),
      tokensPerOutput: roundOrNull(m.tokens.all.total.mean, 1e2),
    },
    timing: { trainSeconds: round(o.trainMs / 1000, 10), evalSeconds: round(o.evalMs / 1000, 10) },
  };
}

/** The result without its wall-clock figures: equal for two runs with the same settings and seed. */
export function withoutTiming(result: AblationResult): Omit<AblationResult, 'rows'> & {
  rows: Omit<AblationRow, 'timing'>[];
} {
  return { ...result, rows: result.rows.map(({ timing: _, ...row }) => row) };
}

function round(x: number, scale = 1e4): number {
  return Math.round(x * scale) / scale;
}

function roundOrNull(x: number | null | undefined, scale = 1e4): number | null {
  return x === undefined || x === null ? null : round(x, scale);
}
