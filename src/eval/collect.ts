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
  /** Prompts it decodes together: `collectRun` keeps that many `generate` calls in flight. Default 1. */
  readonly concurrency?: number;
}

/** Options of `collectRun`. */
export interface CollectOptions {
  signal?: AbortSignal;
  /** Called after each output, with ids only (never question or answer text). */
  onRecord?: (event: { id: string; done: number; total: number }) => void;
}

/**
 * Generates the output of every prompt, `generator.concurrency` at a time (one by default: the model is the
 * bottleneck; a batching generator decodes its concurrent prompts together). Records and `onRecord` events follow
 * the prompts' order. An error of the generator stops the run; it is rethrown with the prompt id in the message and
 * the error as cause.
 */
export async function collectRun(
  prompts: readonly EvalPrompt[],
  generator: EvalGenerator,
  options: CollectOptions = {},
): Promise<EvalRun> {
  const outputs: (EvalOutput | undefined)[] = new Array(prompts.length);
  const records: EvalRun['records'] = [];
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (next < prompts.length && !failure) {
      const i = next++;
      const prompt = prompts[i];
      try {
        options.signal?.throwIfAborted();
        outputs[i] = await generator.generate(prompt, options.signal);
      } catch (e) {
        failure ??= {
          error: options.signal?.aborted
            ? e
            : new Error(
                `generation failed for prompt ${prompt.id} (${generator.name}, ${generator.mode}): ${(e as Error).message}`,
                { cause: e },
              ),
        };
        return;
      }
      // the records done so far, in prompt order
      while (records.length < prompts.length && outputs[records.length]) {
        const { id, question, harmful, source } = prompts[records.length];
        const output = outputs[records.length]!;
        records.push({ id, question, harmful, ...(source !== undefined && { source }), output });
        options.onRecord?.({ id, done: records.length, total: prompts.length });
      }
    }
  };
  const n = Math.max(1, Math.min(generator.concurrency ?? 1, prompts.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (failure) throw (failure as { error: unknown }).error;
  return { name: generator.name, mode: generator.mode, records };
}
