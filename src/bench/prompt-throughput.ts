// Throughput over many prompts: staged answers (adaptive mode, greedy, MoTE rank 16 with non-zero experts, the
// step-token rows set apart so rows choose and close stages differently, as with a trained model) to the held-out
// eval prompts, decoded one at a time (batch 1) against a continuous batch of 8 (StagedBatcher: a finished row takes
// the next prompt at once), paired in one run (paired.ts). The decoder is 'auto' (decoder-choice.ts), measured for
// each batch size; the record names what it chose. On stories260K (real weights, all 100 prompts) and the SmolLM2-135M
// shape (random seeded weights, its real tokenizer; by default a shortened run: fewer prompts and tokens per stage).
import * as tf from '@tensorflow/tfjs';
import { loadEvalPrompts } from '../eval/prompts-node.js';
import { attachExperts } from '../experts/attach.js';
import { decoderCalibrationOf } from '../generate/decoder-choice.js';
import { releaseHostModel } from '../generate/host/weights.js';
import { questionFits } from '../generate/staged.js';
import { generateStagedBatch } from '../generate/staged-batch.js';
import type { StagedConfig } from '../generate/types.js';
import { loadLlama2c } from '../io/llama2c-node.js';
import { resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { addStepTokens, type Tokenizer } from '../tokenizer/index.js';
import { loadLlama2cTokenizer } from '../tokenizer/llama2c-tokenizer-node.js';
import { loadTokenizer } from '../tokenizer/load-tokenizer-node.js';
import { SMOLLM2_135M } from './decode-scale.js';
import { pairedRounds, rateSpread, ratioSpread } from './paired.js';

/**
 * Gives `model` the step tokens of `tokenizer` and MoTE rank 16 with non-zero experts, and sets the step tokens'
 * embedding rows apart (seeded) so that greedy decoding opens and closes stages at different places per prompt.
 */
export function stagingModel(model: Transformer, tokenizer: Tokenizer): void {
  addStepTokens(tokenizer);
  model.addTokens(tokenizer.vocabSize - model.config.vocabSize);
  attachExperts(model, { kind: 'mote', rank: 16, initLoraWeights: false, seed: 1 });
  tf.tidy(() => {
    const added = model.addedEmbedding!;
    const std = tf.sqrt(tf.moments(model.embedding).variance);
    added.assign(tf.add(added, tf.mul(tf.randomNormal(added.shape, 0, 2, 'float32', 3), std)));
  });
}

/** One case: a model, its tokenizer, how many prompts and tokens per stage. */
interface ThroughputCase {
  name: string;
  load: () => Promise<{ model: Transformer; tokenizer: Tokenizer }>;
  prompts: number;
  maxTokensPerStage: number;
  rounds: number;
}

/** Options of benchPromptThroughput. */
export interface PromptThroughputOptions {
  modelPath?: string;
  tokenizerPath?: string;
  /** The held-out prompts (default examples/data/eval-prompts.jsonl). */
  promptsPath?: string;
  /** SmolLM2's tokenizer directory (default ../shared/models/hf/smollm2-135m-instruct; absent: case skipped). */
  smolTokenizer?: string;
  /** Prompts and tokens per stage at the SmolLM2 shape (default 16 and 8: shortened; 100 and 24 is the full run). */
  smolPrompts?: number;
  smolMaxTokensPerStage?: number;
  /** Prompts and tokens per stage at stories260K (default 100 and 24). */
  prompts?: number;
  maxTokensPerStage?: number;
  /** Timed rounds (default 2 at stories260K, 1 at the SmolLM2 shape). */
  rounds?: number;
  /** Also the SmolLM2 shape (default true). */
  smol?: boolean;
}

const BATCH = 8;

/** Records {bench:'prompt-throughput', …}. */
export async function benchPromptThroughput(opts: PromptThroughputOptions = {}): Promise<object[]> {
  const {
    modelPath = 'models/stories260K/stories260K.bin',
    tokenizerPath = 'models/stories260K/tok512.bin',
    promptsPath = 'examples/data/eval-prompts.jsonl',
    smolTokenizer = '../shared/models/hf/smollm2-135m-instruct',
  } = opts;
  const backend = tf.getBackend();
  const all = await loadEvalPrompts(promptsPath);
  const cases: ThroughputCase[] = [
    {
      name: 'stories260K',
      load: async () => ({
        model: await loadLlama2c(modelPath),
        tokenizer: await loadLlama2cTokenizer(tokenizerPath, 512),
      }),
      prompts: opts.prompts ?? 100,
      maxTokensPerStage: opts.maxTokensPerStage ?? 24,
      rounds: opts.rounds ?? 2,
    },
    {
      name: 'smollm2-135m-shape',
      load: async () => ({
        model: Transformer.init(resolveModelConfig(SMOLLM2_135M), 0, { trainable: false }),
        tokenizer: await loadTokenizer(smolTokenizer),
      }),
      prompts: opts.smolPrompts ?? 16,
      maxTokensPerStage: opts.smolMaxTokensPerStage ?? 8,
      rounds: opts.rounds ?? 1,
    },
  ];
  const out: object[] = [];
  for (const c of opts.smol === false ? cases.slice(0, 1) : cases) {
    let loaded: { model: Transformer; tokenizer: Tokenizer };
    try {
      loaded = await c.load();
    } catch (e) {
      out.push({ bench: 'prompt-throughput', backend, model: c.name, skipped: (e as Error).message });
      continue;
    }
    const { model, tokenizer } = loaded;
    stagingModel(model, tokenizer);
    const config: Partial<StagedConfig> = {
      mode: 'adaptive',
      temperature: 0,
      maxTokensPerStage: c.maxTokensPerStage,
    };
    // spread over the file (harmful and benign alike), those that fit the context
    const step = all.length / c.prompts;
    const questions = Array.from({ length: c.prompts }, (_, i) => all[Math.floor(i * step)].question).filter(
      (q) => questionFits(model, tokenizer, q, c.maxTokensPerStage),
    );
    const tokens: Record<string, number> = {};
    const run = (batchSize: number) => async () => {
      const t0 = performance.now();
      const results = await generateStagedBatch(model, tokenizer, questions, { ...config, batchSize });
      tokens[batchSize] = results.reduce((n, r) => n + r.totalTokens, 0);
      return questions.length / ((performance.now() - t0) / 1000);
    };
    const variants = [
      { name: 'batch-1', run: run(1) },
      { name: `batch-${BATCH}`, run: run(BATCH) },
    ];
    const p = await pairedRounds(variants, c.rounds);
    const common = {
      bench: 'prompt-throughput',
      backend,
      model: c.name,
      prompts: questions.length,
      rounds: c.rounds,
    };
    for (const [i, v] of variants.entries()) {
      const batchSize = i === 0 ? 1 : BATCH;
      out.push({
        ...common,
        batchSize,
        maxTokensPerStage: c.maxTokensPerStage,
        decoder: decoderCalibrationOf(model.config, batchSize)?.choice ?? 'tensor',
        tokens: tokens[batchSize],
        promptsPerSec: rateSpread(p, v.name, 2),
      });
    }
    out.push({ ...common, ratios: { batch8OverBatch1: ratioSpread(p, `batch-${BATCH}`, 'batch-1', 2) } });
    releaseHostModel(model);
    model.dispose();
  }
  return out;
}
