// The host decoder on WebAssembly SIMD (src/generate/host/) against the plain-JavaScript host decoder and the tfjs
// tensor decoder: stories260K (real weights), a tiny model with every variant the forward supports (head size ≠
// dim / heads, llama3 RoPE scaling, biases on every projection, untied head, added tokens, dims that are not
// multiples of 4 or 8), MoTE per-step merged weights with switches mid-sequence, and weights changed after the
// first copy. The kernels themselves against plain loops; the host memory's allocator.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachExperts, detachExperts } from '../../../src/experts/attach.js';
import { decodeRoute, withRoute } from '../../../src/experts/routing.js';
import { HostDecoder, TensorDecoder } from '../../../src/generate/decoder.js';
import { PREFILL_CHUNK } from '../../../src/generate/host/decoder.js';
import { WasmHeap } from '../../../src/generate/host/heap.js';
import { hostModel, packBlocks, releaseHostModel } from '../../../src/generate/host/weights.js';
import { argmax } from '../../../src/generate/sampler.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import type { LinearContext } from '../../../src/model/linear.js';
import { Transformer } from '../../../src/model/transformer.js';
import { expectClose, STORIES_BIN, seededNormal } from '../../helpers/index.js';

const STEPS = ['analysis', 'guidance', 'answer'] as const;
const ctxOf = (s: (typeof STEPS)[number] | 'shared') => withRoute(decodeRoute([...STEPS], s));

/** Feeds `ids` one token at a time to each decoder and checks every step's logits against the first one's. */
function compareSteps(decoders: HostDecoder[] | (HostDecoder | TensorDecoder)[], ids: number[], tol = 1e-5) {
  for (const id of ids) {
    const [ref, ...others] = decoders.map((d) => d.step([[id]])[0]);
    for (const o of others) expectClose(o, ref, tol, tol);
  }
}

describe('HostDecoder on WebAssembly SIMD', () => {
  let stories: Transformer;
  beforeAll(async () => {
    stories = await loadLlama2c(STORIES_BIN);
  });
  afterAll(() => stories.dispose());

  it('runs on SIMD by default', () => {
    const d = new HostDecoder(stories);
    expect(d.engine).toBe('simd');
    d.dispose();
  });

  it('stories260K: logits equal the JS host decoder to 1e-5 and the tensor decoder to 2e-5; greedy tokens identical', () => {
    const simd = new HostDecoder(stories, undefined, 'default', 'simd');
    const js = new HostDecoder(stories, undefined, 'default', 'js');
    const tensor = new TensorDecoder(stories);
    let id = 1;
    for (let t = 0; t < 120; t++) {
      const [a, b, c] = [simd, js, tensor].map((d) => d.step([[id]])[0]);
      expectClose(a, b, 1e-5, 1e-5);
      // the tensor decoder's kernels sum in other orders (XNNPACK's, the masked softmax's SIMD forward): its logits
      // differ from the host's by up to 1.6e-5, near zero too, where a relative bound does not help
      expectClose(a, c, 2e-5, 1e-4);
      expect(argmax(a)).toBe(argmax(b));
      expect(argmax(a)).toBe(argmax(c));
      id = argmax(a);
    }
    for (const d of [simd, js, tensor]) d.dispose();
  });

  it('a prompt in one step (chunked rows, several chunks) equals feeding it token by token', () => {
    const ids = Array.from({ length: 2 * PREFILL_CHUNK + 7 }, (_, i) => (i * 37 + 1) % 512);
    const whole = new HostDecoder(stories);
    const a = whole.step([ids])[0];
    const byToken = new HostDecoder(stories, undefined, 'default', 'js');
    let b: Float32Array = new Float32Array(0);
    for (const id of ids) b = byToken.step([[id]])[0];
    expectClose(a, b, 1e-5, 1e-5);
    expect(whole.position).toBe(ids.length);
    // and decoding goes on from there alike
    expectClose(whole.step([[5]])[0], byToken.step([[5]])[0], 1e-5, 1e-5);
    whole.dispose();
    byToken.dispose();
  });

  it('two sequences at once keep their own caches; a new decoder reuses the laid-out weights', () => {
    const a = new HostDecoder(stories);
    const b = new HostDecoder(stories);
    const ref = new HostDecoder(stories, undefined, 'default', 'js');
    const hm = hostModel(stories);
    expect(hm.setCount).toBe(1);
    for (const id of [1, 403, 407, 261]) {
      const la = a.step([[id]])[0];
      b.step([[(id * 7) % 512]]);
      expectClose(la, ref.step([[id]])[0], 1e-5, 1e-5);
    }
    for (const d of [a, b, ref]) d.dispose();
  });

  it('refuses a batch, an empty step, a bad id and the end of the context, as the JS decoder does', () => {
    const d = new HostDecoder(stories);
    expect(() => d.step([[1], [2]])).toThrow(/one sequence; got 2 rows/);
    expect(() => d.step([[]])).toThrow(/at least one token/);
    expect(() => d.step([[512]])).toThrow(/token id out of range: 512/);
    expect(() => d.step([[1.5]])).toThrow(/token id out of range/);
    d.dispose();
    const tiny = Transformer.init({ ...TINY, maxSeqLen: 8 }, 'ctx', { trainable: false });
    const e = new HostDecoder(tiny);
    e.step([[1, 2, 3, 4, 5, 6, 7, 8]]);
    expect(() => e.step([[1]])).toThrow(/position 9 exceeds maxSeqLen 8/);
    e.dispose();
    tiny.dispose();
  });
});

/** head size 6 ≠ 20 / 4 (q 24 wide), kv dim 12, SwiGLU 37, vocabulary 45 + 3 added: no dim a multiple of 8. */
const TINY = {
  dim: 20,
  hiddenDim: 37,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 6,
  vocabSize: 45,
  maxSeqLen: 96,
  tiedEmbeddings: false,
  biases: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const,
  ropeScaling: {
    type: 'llama3' as const,
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositions: 64,
  },
};

describe('HostDecoder on a model with every variant', () => {
  let model: Transformer;
  beforeAll(() => {
    model = Transformer.init(TINY, 'variants', { trainable: false });
    model.addTokens(3);
    // non-zero biases and added rows, so that each is really in the path
    for (const [name, v] of model.namedVariables())
      if (name.endsWith('.bias') || name.startsWith('added'))
        v.assign(seededNormal(v.shape, `b:${name}`, 0.5) as tf.Tensor);
  });
  afterAll(() => model.dispose());

  it('SIMD equals the JS host decoder (1e-5) and the tensor decoder, step by step past a prompt', () => {
    const simd = new HostDecoder(model, undefined, 'default', 'simd');
    const js = new HostDecoder(model, undefined, 'default', 'js');
    const tensor = new TensorDecoder(model);
    const prompt = [1, 46, 7, 47, 30, 2];
    const [a, b, c] = [simd, js, tensor].map((d) => d.step([prompt])[0]);
    expectClose(a, b, 1e-5, 1e-5);
    expectClose(a, c, 1e-5, 1e-4);
    compareSteps([simd, js], [44, 45, 46, 47, 3, 9, 0, 13, 21, 8]);
    for (const d of [simd, js, tensor]) d.dispose();
  });

  it('MoTE: per-step merged weights equal the tensor decoder, switching steps mid-sequence; sets are shared', () => {
    const held = hostModel(model).setCount; // the base weights' set, from the tests above
    attachExperts(model, { kind: 'mote', rank: 3, initLoraWeights: false, seed: 4 });
    try {
      const simd = new HostDecoder(model, ctxOf('shared'));
      const tensor = new TensorDecoder(model, 1, ctxOf('shared'));
      const js = new HostDecoder(model, ctxOf('shared'), 'shared', 'js');
      const feed = (ids: number[]) => compareSteps([simd, js], ids);
      expectClose(simd.step([[1, 5, 9]])[0], tensor.step([[1, 5, 9]])[0], 1e-5, 1e-4);
      js.step([[1, 5, 9]]);
      let ctx: LinearContext;
      for (const step of [...STEPS, 'analysis'] as const) {
        ctx = ctxOf(step);
        simd.setContext(ctx, step);
        js.setContext(ctx, step);
        tensor.setContext(ctx);
        feed([11, 12]);
        tensor.step([[11]]);
        tensor.step([[12]]);
        expectClose(simd.step([[13]])[0], tensor.step([[13]])[0], 1e-5, 1e-4);
        js.step([[13]]);
      }
      // shared + 3 steps, each laid out once for the model, whichever decoder asks
      expect(hostModel(model).setCount).toBe(held + 4);
      const again = new HostDecoder(model, ctxOf('guidance'));
      expect(hostModel(model).setCount).toBe(held + 4);
      for (const d of [simd, js, tensor, again]) d.dispose();
    } finally {
      detachExperts(model);
    }
  });

  it('notices weights assigned after the copy (a new decoder reads the new values)', () => {
    const before = new HostDecoder(model);
    const a = before.step([[3]])[0];
    const w = model.blocks[1].mlp.down.weightFor();
    const old = tf.clone(w);
    (w as tf.Variable).assign(tf.mul(w, 2));
    const after = new HostDecoder(model);
    const js = new HostDecoder(model, undefined, 'default', 'js');
    const b = after.step([[3]])[0];
    expectClose(b, js.step([[3]])[0], 1e-5, 1e-5);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeGreaterThan(1e-3);
    (w as tf.Variable).assign(old);
    old.dispose();
    for (const d of [before, after, js]) d.dispose();
  });

  it('releaseHostModel lets the layout go; the next decoder lays the weights out again', () => {
    const first = hostModel(model);
    releaseHostModel(model);
    const d = new HostDecoder(model);
    expect(hostModel(model)).not.toBe(first);
    d.dispose();
  });

  it('leaves no tensor behind', () => {
    const n = tf.memory().numTensors;
    const d = new HostDecoder(model);
    d.step([[1, 2, 3]]);
    d.step([[4]]);
    d.dispose();
    expect(tf.memory().numTensors).toBe(n);
  });
});

describe('decode kernels against plain loops', () => {
  const heap = new WasmHeap();
  const k = heap.kernels;
  const put = (v: Float32Array) => {
    const at = heap.alloc(v.length);
    heap.f32.set(v, at / 4);
    return at;
  };
  const get = (at: number, n: number) => heap.f32.slice(at / 4, at / 4 + n);
  const rand = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 97 + i * 1.3));

  it.each([
    [13, 7, 3, 'row-major'],
    [16, 8, 1, 'row-major'],
    [5, 2, 2, 'row-major'],
    [64, 172, 4, 'row-major'],
    [13, 7, 3, 'packed'],
    [16, 8, 1, 'packed'],
    [5, 2, 2, 'packed'],
    [64, 172, 4, 'packed'],
    [21, 11, 2, 'packed'],
    [576, 192, 1, 'packed'],
  ] as const)('matmul n %i, m %i, rows %i, W %s: x·Wᵀ + b, and += with acc', (n, m, rows, layout) => {
    const x = rand(rows * n, 1);
    const w = rand(m * n, 2);
    const b = rand(m, 3);
    const o0 = rand(rows * m, 4);
    let stored = w;
    if (layout === 'packed') {
      stored = new Float32Array(m * n);
      packBlocks(w, m, n, stored, 0);
      if (n > 8 && m >= 4) expect(stored).not.toEqual(w); // the layout really differs
    }
    const mm = layout === 'packed' ? k.matmulPacked : k.matmul;
    const [px, pw, pb, po] = [put(x), put(stored), put(b), put(o0)];
    mm(po, px, pw, pb, n, m, rows, 1);
    const acc = get(po, rows * m);
    mm(po, px, pw, 0, n, m, rows, 0);
    const plain = get(po, rows * m);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += x[r * n + i] * w[j * n + i];
        const want = o0[r * m + j] + s + b[j];
        expect(Math.abs(plain[r * m + j] - s)).toBeLessThan(1e-6 * (1 + Math.abs(s)) * Math.sqrt(n));
        expect(Math.abs(acc[r * m + j] - want)).toBeLessThan(1e-6 * (1 + Math.abs(want)) * Math.sqrt(n));
      }
  });

  it('swiglu: silu(h)·g with the polynomial exp, to 1e-6 relative, over a wide range', () => {
    const n = 203;
    const h = Float32Array.from({ length: n }, (_, i) => -95 + i * 0.95);
    const g = rand(n, 5);
    const ph = put(h);
    k.swiglu(ph, put(g), n);
    const out = get(ph, n);
    for (let i = 0; i < n; i++) {
      const want = (h[i] / (1 + Math.exp(-h[i]))) * g[i];
      expect(Math.abs(out[i] - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-30);
    }
  });

  it('attention: softmax-weighted values per head, grouped kv heads, against a loop', () => {
    const [nh, nkv, hs, len, stride] = [4, 2, 6, 11, 12];
    const q = rand(nh * hs, 6);
    const kc = rand(len * stride, 7);
    const vc = rand(len * stride, 8);
    const pOut = heap.alloc(nh * hs);
    k.attention(pOut, put(q), put(kc), put(vc), heap.alloc(len), len, nh, nkv, hs, stride, Math.sqrt(hs));
    const out = get(pOut, nh * hs);
    for (let h = 0; h < nh; h++) {
      const ko = Math.floor(h / (nh / nkv)) * hs;
      const s = Array.from({ length: len }, (_, t) => {
        let d = 0;
        for (let i = 0; i < hs; i++) d += q[h * hs + i] * kc[t * stride + ko + i];
        return d / Math.sqrt(hs);
      });
      const max = Math.max(...s);
      const e = s.map((v) => Math.exp(v - max));
      const z = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < hs; i++) {
        let want = 0;
        for (let t = 0; t < len; t++) want += (e[t] / z) * vc[t * stride + ko + i];
        expect(out[h * hs + i]).toBeCloseTo(want, 6);
      }
    }
  });
});

describe('host memory allocator', () => {
  it('reuses freed regions, merges neighbours, zero-fills, and lowers its top', () => {
    const heap = new WasmHeap();
    const a = heap.alloc(100);
    const b = heap.alloc(100);
    const c = heap.alloc(100);
    heap.f32.fill(7, b / 4, b / 4 + 100);
    heap.release(b, 100);
    expect(heap.alloc(50)).toBe(b); // first fit, split
    expect(heap.f32[b / 4]).toBe(0);
    heap.release(b, 50);
    heap.release(a, 100);
    expect(heap.alloc(200)).toBe(a); // a and b merged
    const used = heap.usedBytes;
    heap.release(c, 100);
    expect(heap.usedBytes).toBeLessThan(used);
    expect(heap.alloc(1000)).toBeLessThanOrEqual(c); // c was at the top: the top came down
  });
});
