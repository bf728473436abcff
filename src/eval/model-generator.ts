// The EvalGenerator of a mote-tfjs model: staged generation in one mode (adaptive, or forced stages), turned into
// the EvalOutput the metrics read. Prompts are decoded `batchSize` at a time in one continuous batch (StagedBatcher):
// collectRun keeps that many in flight, and each gets what it would get alone.
import {
  DEFAULT_STAGED_BATCH_SIZE,
  type StagedBatchConfig,
  StagedBatcher,
} from '../generate/staged-batch.js';
import type { StagedResult } from '../generate/types.js';
import type { Transformer } from '../model/transformer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { EvalGenerator } from './collect.js';
import type { EvalOutput, OutputStage } from './record.js';

/** StagedResult → EvalOutput (the check stage, never generated at inference, is left out). */
export function toEvalOutput(r: StagedResult): EvalOutput {
  const stages: EvalOutput['stages'] = {};
  const tokensPerStage: EvalOutput['tokensPerStage'] = {};
  for (const s of ['analysis', 'guidance', 'answer'] as OutputStage[]) {
    if (r.stages[s] !== undefined) {
      stages[s] = r.stages[s];
      tokensPerStage[s] = r.tokensPerStage[s] ?? 0;
    }
  }
  return { text: r.text, stages, tokensPerStage, totalTokens: r.totalTokens };
}

/**
 * Generates each prompt's staged answer under `config` (mode, sampling, budgets; `batchSize` prompts decoded
 * together, default 8), as `generateStaged` would alone.
 */
export function modelEvalGenerator(
  model: Transformer,
  tokenizer: Tokenizer,
  name: string,
  config: Partial<StagedBatchConfig> = {},
): EvalGenerator {
  const mode = Array.isArray(config.mode)
    ? config.mode.join('-')
    : ((config.mode as string | undefined) ?? 'adaptive');
  let batcher: Promise<StagedBatcher> | null = null;
  return {
    name,
    mode,
    concurrency: config.batchSize ?? DEFAULT_STAGED_BATCH_SIZE,
    async generate(prompt) {
      batcher ??= StagedBatcher.create(model, tokenizer, config, 'eval');
      return toEvalOutput(await (await batcher).generate(prompt.question, undefined, 'eval'));
    },
  };
}
