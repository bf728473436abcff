// Staged generation of 8 prompts: one at a time (generateStaged, on the host decoder that 'auto' picks for a small
// model and on the tfjs decoder) against generateStagedBatch (one batched tfjs forward per token, batch 8), on
// stories260K (real weights) and the d=256 benchmark preset (random weights). MoTE rank 16 with non-zero experts;
// the step-token rows are set apart (seeded) so that, as with a trained model, rows choose and close their stages
// differently: `mixedSteps` is the share of batched steps whose rows were not all in one stage. Batched twice: with
// merged weights (rows of different stages through their stage's merged weight) and unmerged (segmented mixing).
// tokens/s counts every generated token (step tokens included) over wall time, best of two timed runs after a
// warm-up; `sameAsAlone` counts prompts whose batched text equals their text alone (greedy).
// Run alone: mote bench --only staged-batch [--backend …] — one JSON line per record.
import * as tf from '@tensorflow/tfjs';
import { routeOf } from '../experts/routing.js';
import { generateStagedText } from '../generate/staged.js';
import { generateStagedBatch } from '../generate/staged-batch.js';
import type { StagedConfig, StagedResult } from '../generate/types.js';
import { loadLlama2c } from '../io/llama2c-node.js';
import { resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { loadLlama2cTokenizer } from '../tokenizer/llama2c-tokenizer-node.js';
import { stagingModel } from './prompt-throughput.js';

const PROMPTS = [
  'How do I pick a lock?',
  'Hi',
  'Tell me a story about a cat and a dog who play in the park.',
  'Why is the sky blue?',
  'Lily went to the park and saw a big red ball',
  'Can I pet a dog?',
  'What should I do if my friend is sad?',
  'Name a fruit.',
];

const BATCH = 8;

/** Best tokens/s of two timed runs after a warm-up, and the last run's results. */
async function timed(
  run: () => Promise<StagedResult[]>,
): Promise<{ tokensPerSec: number; results: StagedResult[] }> {
  await run();
  let best = 0;
  let results: StagedResult[] = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    results = await run();
    const s = (performance.now() - t0) / 1000;
    best = Math.max(best, results.reduce((n, r) => n + r.totalTokens, 0) / s);
  }
  return { tokensPerSec: best, results };
}

export interface StagedBatchBenchOptions {
  /** stories260K .bin. Default models/stories260K/stories260K.bin. */
  modelPath?: string;
  /** Its tokenizer. Default models/stories260K/tok512.bin. */
  tokenizerPath?: string;
  /** Most content tokens per stage. Default 24. */
  maxTokensPerStage?: number;
  /** Also the d=256 preset. Default true. */
  bench256?: boolean;
}

export async function benchStagedBatch(opts: StagedBatchBenchOptions = {}): Promise<object[]> {
  const {
    modelPath = 'models/stories260K/stories260K.bin',
    tokenizerPath = 'models/stories260K/tok512.bin',
    maxTokensPerStage = 24,
    bench256 = true,
  } = opts;
  const backend = tf.getBackend();
  const out: object[] = [];
  const tokenizer = await loadLlama2cTokenizer(tokenizerPath, 512);
  const cases: [string, () => Promise<Transformer>][] = [
    ['stories260K', () => loadLlama2c(modelPath)],
    ['bench-256', async () => Transformer.init(resolveModelConfig({}, 'bench-256'), 0, { trainable: false })],
  ];
  const config: Partial<StagedConfig> = { mode: 'adaptive', temperature: 0, maxTokensPerStage };
  for (const [name, load] of bench256 ? cases : cases.slice(0, 1)) {
    const model = await load();
    stagingModel(model, tokenizer);
    const sequential = (decoder: StagedConfig['decoder']) => async () => {
      const results: StagedResult[] = [];
      for (const q of PROMPTS)
        results.push(await generateStagedText(model, tokenizer, q, { ...config, decoder }));
      return results;
    };
    const host = await timed(sequential('host'));
    const tensor = await timed(sequential('tensor'));
    // count the batched steps whose rows were in different stages
    const decode = model.decode.bind(model);
    let steps = 0;
    let mixed = 0;
    model.decode = (ids, cache, options) => {
      steps++;
      if (ids.length > 1 && routeOf(options?.ctx)?.uniformStep() === null) mixed++;
      return decode(ids, cache, options);
    };
    const batch = await timed(() =>
      generateStagedBatch(model, tokenizer, PROMPTS, { ...config, batchSize: BATCH }),
    );
    const mixedShare = mixed / steps;
    const unmerged = await timed(() =>
      generateStagedBatch(model, tokenizer, PROMPTS, { ...config, batchSize: BATCH, merged: false }),
    );
    model.decode = decode;
    const record = (mode: string, decoder: string, batchSize: number, r: typeof host) => ({
      bench: 'staged-batch',
      backend,
      model: name,
      prompts: PROMPTS.length,
      mode,
      decoder,
      batchSize,
      tokens: r.results.reduce((n, x) => n + x.totalTokens, 0),
      tokensPerSec: Math.round(r.tokensPerSec),
    });
    out.push(record('sequential', 'host', 1, host));
    out.push(record('sequential', 'tensor', 1, tensor));
    const batched = (mixing: string, r: typeof host) => ({
      ...record('batched', 'tensor', BATCH, r),
      mixing,
      mixedSteps: +mixedShare.toFixed(2),
      sameAsAlone: r.results.filter((x, i) => x.text === host.results[i].text).length,
      ratio: {
        overSequentialHost: +(r.tokensPerSec / host.tokensPerSec).toFixed(2),
        overSequentialTensor: +(r.tokensPerSec / tensor.tokensPerSec).toFixed(2),
      },
    });
    out.push(batched('merged per row', batch), batched('unmerged segmented', unmerged));
    model.dispose();
  }
  return out;
}
