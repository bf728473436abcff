// Decode speed: tokens/s of greedy KV-cached decoding on the host decoder and the tfjs (tensor) decoder,
// side by side in one run, for stories260K (real weights) and the d=256 benchmark preset (random weights).
import * as tf from '@tensorflow/tfjs';
import { type Decoder, HostDecoder, TensorDecoder } from '../src/generate/decoder.js';
import { argmax } from '../src/generate/sampler.js';
import { loadLlama2c } from '../src/io/llama2c.js';
import { resolveModelConfig } from '../src/model/config.js';
import { Transformer } from '../src/model/transformer.js';

/** Greedy-decodes `n` tokens from BOS and returns tokens/s (after a warm-up run). */
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

export async function benchDecode(modelPath = 'models/stories260K/stories260K.bin'): Promise<object[]> {
  const backend = tf.getBackend();
  const out: object[] = [];
  const cases: [string, () => Promise<Transformer>, number][] = [
    ['stories260K', () => loadLlama2c(modelPath), 200],
    [
      'bench-256',
      async () => Transformer.init(resolveModelConfig({}, 'bench-256'), 0, { trainable: false }),
      100,
    ],
  ];
  for (const [name, load, n] of cases) {
    const model = await load();
    const host = tokensPerSecond(() => new HostDecoder(model), n);
    const tensor = tokensPerSecond(() => new TensorDecoder(model), n);
    out.push({
      bench: 'decode',
      backend,
      model: name,
      decoder: 'host',
      tokens: n,
      tokensPerSec: Math.round(host),
    });
    out.push({
      bench: 'decode',
      backend,
      model: name,
      decoder: 'tensor',
      tokens: n,
      tokensPerSec: Math.round(tensor),
    });
    out.push({
      bench: 'decode',
      backend,
      model: name,
      ratio: 'host/tensor',
      value: +(host / tensor).toFixed(2),
      vsRunC4000: +(Math.max(host, tensor) / 4000).toFixed(3),
    });
    model.dispose();
  }
  return out;
}
