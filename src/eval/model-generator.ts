// The EvalGenerator of a mote-tfjs model: staged generation in one mode (adaptive, or forced stages), turned into
// the EvalOutput the metrics read.
import { generateStagedText } from '../generate/staged.js';
import type { StagedConfig, StagedResult } from '../generate/types.js';
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

/** Generates each prompt's answer with `generateStaged` under `config` (mode, sampling, budgets). */
export function modelEvalGenerator(
  model: Transformer,
  tokenizer: Tokenizer,
  name: string,
  config: Partial<StagedConfig> = {},
): EvalGenerator {
  const mode = Array.isArray(config.mode)
    ? config.mode.join('-')
    : ((config.mode as string | undefined) ?? 'adaptive');
  return {
    name,
    mode,
    async generate(prompt) {
      return toEvalOutput(await generateStagedText(model, tokenizer, prompt.question, config));
    },
  };
}
