// Decode speed, side by side in one run: greedy KV-cached decoding on the host decoder and the tfjs (tensor)
// decoder, for the base model and with MoTE attached (per-step merged weights, and unmerged per-token mixing),
// on stories260K (real weights) and the d=256 benchmark preset (random weights); and the time to switch experts
// at a step token.
import * as tf from '@tensorflow/tfjs';
import { attachExperts } from '../experts/attach.js';
import { decodeRoute, withRoute } from '../experts/routing.js';
import { type Decoder, HostDecoder, TensorDecoder } from '../generate/decoder.js';
import { argmax } from '../generate/sampler.js';
import { loadLlama2c } from '../io/llama2c-node.js';
import { resolveModelConfig } from '../model/config.js';
import type { LinearContext } from '../model/linear.js';
import { Transformer } from '../model/transformer.js';

const STEPS = ['analysis', 'guidance', 'answer'] as const;

/** Greedy-decodes `n` tokens from BOS and returns the best tokens/s of two timed runs (after a warm-up). */
function tokensPerSecond(make: () => Decoder, n: number): number {
  const run = () => {
    const d = make();
    let id = 1;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) id = argmax(d.step([[id]])[0]);
    const s = (performance.now() - t0) / 1000;
    d.dispose();
    return n / s;
  };
  run();
  return Math.max(run(), run());
}

/** Milliseconds for `setContext` to a step never used before (snapshot) and to one already cached. */
function switchMs(model: Transformer): { first: number; cached: number } {
  const ctx = (s: (typeof STEPS)[number]) => withRoute(decodeRoute([...STEPS], s));
  const d = new HostDecoder(model, ctx('analysis'), 'analysis');
  let t = performance.now();
  d.setContext(ctx('guidance'), 'guidance');
  const first = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 100; i++)
    d.setContext(ctx(i % 2 ? 'guidance' : 'analysis'), i % 2 ? 'guidance' : 'analysis');
  const cached = (performance.now() - t) / 100;
  d.dispose();
  return { first, cached };
}

/** Records {bench:'decode', …}; `tokens` overrides the decoded length of every case (200 and 60 by default). */
export async function benchDecode(
  modelPath = 'models/stories260K/stories260K.bin',
  opts: { tokens?: number } = {},
): Promise<object[]> {
  const backend = tf.getBackend();
  const out: object[] = [];
  const cases: [string, () => Promise<Transformer>, number][] = [
    ['stories260K', () => loadLlama2c(modelPath), opts.tokens ?? 200],
    [
      'bench-256',
      async () => Transformer.init(resolveModelConfig({}, 'bench-256'), 0, { trainable: false }),
      opts.tokens ?? 60,
    ],
  ];
  for (const [name, load, n] of cases) {
    const model = await load();
    const record = (decoder: string, experts: string, tps: number) =>
      out.push({
        bench: 'decode',
        backend,
        model: name,
        decoder,
        experts,
        tokens: n,
        tokensPerSec: Math.round(tps),
      });
    const host = tokensPerSecond(() => new HostDecoder(model), n);
    const tensor = tokensPerSecond(() => new TensorDecoder(model), n);
    record('host', 'none', host);
    record('tensor', 'none', tensor);

    attachExperts(model, { kind: 'mote', rank: 16, initLoraWeights: false, seed: 1 });
    const merged: LinearContext = withRoute(decodeRoute([...STEPS], 'answer'));
    const unmerged: LinearContext = withRoute(decodeRoute([...STEPS], 'answer', { merged: false }));
    const moteHost = tokensPerSecond(() => new HostDecoder(model, merged), n);
    const moteTensorMerged = tokensPerSecond(() => new TensorDecoder(model, 1, merged), n);
    const moteTensorUnmerged = tokensPerSecond(() => new TensorDecoder(model, 1, unmerged), n);
    record('host', 'mote-merged', moteHost);
    record('tensor', 'mote-merged', moteTensorMerged);
    record('tensor', 'mote-unmerged', moteTensorUnmerged);
    const sw = switchMs(model);
    out.push({
      bench: 'decode',
      backend,
      model: name,
      ratios: {
        hostOverTensor: +(host / tensor).toFixed(2),
        bestVsRunC4000: +(Math.max(host, tensor) / 4000).toFixed(3),
        // a step with merged weights costs what a base step costs (target ≤ 1.05)
        moteMergedCostVsBase_host: +(host / moteHost).toFixed(3),
        moteMergedCostVsBase_tensor: +(tensor / moteTensorMerged).toFixed(3),
        moteUnmergedCostVsBase_tensor: +(tensor / moteTensorUnmerged).toFixed(3),
      },
      expertSwitchMs: { firstTime: +sw.first.toFixed(2), cached: +sw.cached.toFixed(3) },
    });
    model.dispose();
  }
  return out;
}
