// The seam between generation and evaluation: the generation side (staged generation with expert switching,
// generate/) implements EvalGenerator; `collectRun` asks it for one output per prompt and returns the run
// the metrics and reports read.

import type { EvalPrompt } from './prompts.js';
import type { EvalOutput, EvalRun } from './record.js';

/** What eval needs from a model in one generation mode. */
export interface EvalGenerator {
  /** The model (or method) name, e.g. 'mote-stories260K'. */
  readonly name: string;
  /** The generation mode, e.g. 'adaptive', 'answer-only', 'full-chain'. */
  readonly mode: string;
  /** The output for one prompt; the question is `prompt.question`. */
  generate(prompt: EvalPrompt, signal?: AbortSignal): Promise<EvalOutput>;
}

/** Options of `collectRun`. */
export interface CollectOptions {
  signal?: AbortSignal;
  /** Called after each output, with ids only (never question or answer text). */
  onRecord?: (event: { id: string; done: number; total: number }) => void;
}

/**
 * Generates the output of every prompt, in order, one at a time (the model is the bottleneck). An error
 * of the generator stops the run; it is rethrown with the prompt id in the message and the error as cause.
 */
export async function collectRun(
  prompts: readonly EvalPrompt[],
  generator: EvalGenerator,
  options: CollectOptions = {},
): Promise<EvalRun> {
  const records: EvalRun['records'] = [];
  for (const prompt of prompts) {
    options.signal?.throwIfAborted();
    let output: EvalOutput;
    try {
      output = await generator.generate(prompt, options.signal);
    } catch (e) {
      if (options.signal?.aborted) throw e;
      throw new Error(
        `generation failed for prompt ${prompt.id} (${generator.name}, ${generator.mode}): ${(e as Error).message}`,
        { cause: e },
      );
    }
    const { id, question, harmful, source } = prompt;
    records.push({ id, question, harmful, ...(source !== undefined && { source }), output });
    options.onRecord?.({ id, done: records.length, total: prompts.length });
  }
  return { name: generator.name, mode: generator.mode, records };
}
