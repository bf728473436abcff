// Training and decoding speed of the bench-256 shape (d 256, 4 layers, random frozen weights, MoTE rank 16 on every
// projection) in this process, on whatever backend is active: the figures a web page can measure of itself and Node
// can measure the same way, for a side-by-side comparison (tests/browser/playground.test.ts). Training is the real
// `train` loop, in-process (routing, AdamW, clipping), on full synthetic rows; decoding is on the decoder 'auto'
// picks for this shape on the active backend (generate/decoder-choice.ts), per-step merged weights, greedy, one token
// per step. Wall clock only (a page has no CPU clock); figures are medians.
import { attachExperts, getExperts } from '../experts/attach.js';
import { stageRoute } from '../experts/kinds.js';
import { withRoute } from '../experts/routing.js';
import { createDecoder } from '../generate/generate.js';
import { argmax } from '../generate/sampler.js';
import { resolveModelConfig } from '../model/config.js';
import { Transformer } from '../model/transformer.js';
import { train } from '../train/trainer.js';
import { syntheticChains } from './synthetic.js';

export interface ThroughputOptions {
  /** Timed optimizer steps, after one untimed. Default 3. */
  trainSteps?: number;
  /** Rows per step. Default 8. */
  batch?: number;
  /** Tokens per row. Default 256. */
  seqLen?: number;
  /** Greedy decode steps per timing (two timings after a warm-up; the faster counts). Default 64. */
  decodeTokens?: number;
  rank?: number;
}

export interface Throughput {
  model: 'bench-256';
  batch: number;
  seqLen: number;
  rank: number;
  trainSteps: number;
  trainMsPerStep: number;
  trainTokensPerSec: number;
  decodeTokens: number;
  decodeTokensPerSec: number;
}

/** Measures training and decode tokens/s of bench-256 with MoTE on the active backend (file header). */
export async function benchThroughput(options: ThroughputOptions = {}): Promise<Throughput> {
  const { trainSteps = 3, batch = 8, seqLen = 256, decodeTokens = 64, rank = 16 } = options;
  const config = resolveModelConfig({}, 'bench-256');
  const model = Transformer.init(config, 0, { trainable: false });
  try {
    attachExperts(model, { kind: 'mote', rank, seed: 0 });
    const chains = syntheticChains(batch, seqLen, config.vocabSize, 'bench-throughput');
    const times: number[] = [];
    for (let i = 0; i <= trainSteps; i++) {
      await train(
        model,
        { train: chains },
        { epochs: 1, batchSize: batch, learningRate: 1e-4, evalEvery: 0, saveEvery: 0, workers: 1 },
        { seqLen, maxSteps: 1, onEvent: (e) => e.type === 'step' && i > 0 && times.push(e.ms) },
      );
    }
    const ms = median(times);
    const ctx = withRoute(stageRoute(getExperts(model)!.config, ['answer'], true)!);
    const decode = async () => {
      const decoder = await createDecoder(model, 'auto', ctx);
      try {
        let id = 1;
        const t0 = performance.now();
        for (let i = 0; i < decodeTokens; i++) id = argmax((await decoder.next([[id]]))[0]);
        return decodeTokens / ((performance.now() - t0) / 1000);
      } finally {
        decoder.dispose();
      }
    };
    await decode();
    const decodeTokensPerSec = Math.max(await decode(), await decode());
    return {
      model: 'bench-256',
      batch,
      seqLen,
      rank,
      trainSteps,
      trainMsPerStep: round(ms),
      trainTokensPerSec: round((batch * seqLen * 1000) / ms),
      decodeTokens,
      decodeTokensPerSec: round(decodeTokensPerSec),
    };
  } finally {
    model.dispose();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number) => Number(x.toPrecision(4));
