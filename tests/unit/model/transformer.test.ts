import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { HostDecoder } from '../../../src/generate/decoder.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import { MASKED } from '../../../src/model/attention.js';
import { resolveModelConfig } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import { expectClose, expectNoLeak, onBackend, STORIES_BIN } from '../../helpers/index.js';

const tiny = resolveModelConfig({}, 'tiny-test');
const ids = [
  [1, 5, 9, 3, 7, 2, 11, 4],
  [1, 8, 8, 6, 0, 13, 12, 10],
];

describe('Transformer', () => {
  it.each([
    ['tied', true],
    ['untied', false],
  ])('KV-cached decoding gives the logits of a full forward (%s head)', (_, tied) => {
    const model = Transformer.init({ ...tiny, tiedEmbeddings: tied }, 'kv');
    const full = model.logits(ids); // (B, T, V)
    const cache = model.newCache(2);
    // prefill 3 tokens, then one at a time
    const steps: tf.Tensor2D[] = [
      model.decode(
        ids.map((r) => r.slice(0, 3)),
        cache,
      ),
    ];
    for (let t = 3; t < 8; t++)
      steps.push(
        model.decode(
          ids.map((r) => [r[t]]),
          cache,
        ),
      );
    for (let i = 0; i < steps.length; i++) {
      const t = i === 0 ? 2 : i + 2;
      expectClose(steps[i], tf.squeeze(tf.slice(full, [0, t, 0], [2, 1, -1]), [1]), 1e-4, 1e-4);
    }
    tf.dispose([full, ...steps]);
    cache.dispose();
    model.dispose();
  });

  it('stories260K: host decoder logits equal the tensor path to 1e-4', async () => {
    const model = await loadLlama2c(STORIES_BIN);
    const host = new HostDecoder(model);
    const cache = model.newCache(1);
    for (const id of [1, 403, 407, 261, 378, 300]) {
      const a = host.step([[id]])[0];
      const b = model.decode([[id]], cache);
      expectClose(a, b, 1e-4, 1e-4);
      b.dispose();
    }
    cache.dispose();
    model.dispose();
  });

  it('matches the cpu backend (wasm vs cpu logits)', async () => {
    const model = Transformer.init(tiny, 'backends');
    const wasm = model.logits(ids);
    const cpu = await onBackend('cpu', () => model.logits(ids).arraySync());
    expectClose(wasm, cpu.flat(2), 1e-5, 1e-4);
    wasm.dispose();
    model.dispose();
  });

  it('an additive attention mask hides keys: hiding everything but self equals a 1-token forward', () => {
    const model = Transformer.init(tiny, 'mask');
    const T = 4;
    const row = [[1, 5, 9, 3]];
    const m = new Float32Array(T * T).fill(MASKED);
    for (let i = 0; i < T; i++) m[i * T + i] = 0;
    const mask = tf.tensor3d(m, [1, T, T]);
    const masked = model.logits(row, { attnMask: mask });
    // the last token, seeing only itself, still carries its RoPE position: compare with attention to
    // itself at position 3 via a cache whose earlier keys are masked → equivalently, check first token unchanged
    const plain = model.logits(row);
    expectClose(tf.slice(masked, [0, 0, 0], [1, 1, -1]), tf.slice(plain, [0, 0, 0], [1, 1, -1]));
    // and later tokens change (they no longer see the prefix)
    const d = tf
      .max(tf.abs(tf.sub(tf.slice(masked, [0, 3, 0], [1, 1, -1]), tf.slice(plain, [0, 3, 0], [1, 1, -1]))))
      .dataSync()[0];
    expect(d).toBeGreaterThan(1e-4);
    tf.dispose([mask, masked, plain]);
    model.dispose();
  });

  it('does not leak: forward, decode loop and a gradient step keep numTensors flat', async () => {
    const model = Transformer.init(tiny, 'leak');
    await expectNoLeak(() => model.logits(ids).dispose());
    const cache = model.newCache(1);
    await expectNoLeak(() => model.decode([[3]], cache).dispose());
    cache.dispose();
    const input = model.idsTensor(ids);
    const opt = tf.train.adam(1e-3);
    const vars = model.trainableVariables();
    await expectNoLeak(() => {
      const loss = tf.tidy(
        () => opt.minimize(() => tf.mean(tf.square(model.forward(input))) as tf.Scalar, true, vars)!,
      );
      loss.dispose();
    });
    input.dispose();
    opt.dispose();
    model.dispose();
  });

  it('addTokens grows the vocabulary with mean-initialised trainable rows, base frozen', async () => {
    const model = await loadLlama2c(STORIES_BIN);
    const before = model.logits([[1, 50]]);
    model.addTokens(3);
    expect(model.config.vocabSize).toBe(515);
    expect(model.trainableVariables()).toEqual([model.addedEmbedding]);
    const after = model.logits([[1, 50, 513]]);
    expect(after.shape).toEqual([1, 3, 515]);
    // old positions unchanged over the old vocabulary
    expectClose(tf.slice(after, [0, 0, 0], [1, 2, 512]), before, 1e-5, 1e-5);
    const meanRow = tf.mean(model.embedding, 0);
    expectClose(tf.slice(model.addedEmbedding!, [2, 0], [1, -1]).reshape([-1]), meanRow);
    tf.dispose([before, after, meanRow]);
    model.dispose();
  });

  it('rejects out-of-range token ids and positions past the context', () => {
    const model = Transformer.init(tiny, 'bad');
    expect(() => model.logits([[1, 64]])).toThrow(
      /token id out of range at \[0\]\[1\]: 64; expected an integer in \[0, 64\)/,
    );
    expect(() => model.logits([[1, -1]])).toThrow(/out of range/);
    expect(() => model.logits([[1, 2], [3]])).toThrow(/row 1 has 1 tokens, row 0 has 2/);
    const cache = model.newCache(1);
    expect(() => model.decode([new Array(65).fill(1)], cache)).toThrow(/exceeds maxSeqLen 64/);
    cache.dispose();
    model.dispose();
  });

  it('setBaseTrainable toggles full fine-tuning', () => {
    const model = Transformer.init(tiny, 'sft', { trainable: false });
    expect(model.parameterCount(true)).toBe(0);
    model.setBaseTrainable(true);
    expect(model.parameterCount(true)).toBe(model.parameterCount());
    model.dispose();
  });
});
