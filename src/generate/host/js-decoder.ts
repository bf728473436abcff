// The host decoder in plain JavaScript: llama2.c run.c's forward on host Float32Arrays, one sequence. It is the
// fallback where WebAssembly SIMD is missing, and the reference the SIMD decoder (host/decoder.ts) is tested against.
import * as tf from '@tensorflow/tfjs';
import { headSize } from '../../model/config.js';
import type { LinearContext } from '../../model/linear.js';
import type { Transformer } from '../../model/transformer.js';
import type { Decoder } from '../types.js';

/** One projection on the host: weight (out, in) row-major, so a matvec is a run of dot products; bias or null. */
interface HostLinear {
  w: Float32Array;
  b: Float32Array | null;
}

/** Host copies of one routing's weights. */
interface LayerWeights {
  attnNorm: Float32Array;
  q: HostLinear;
  k: HostLinear;
  v: HostLinear;
  o: HostLinear;
  mlpNorm: Float32Array;
  gate: HostLinear;
  up: HostLinear;
  down: HostLinear;
}

interface HostWeights {
  /** (vocab, d), added rows included */
  embedding: Float32Array;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  /** (vocab, d) when untied; null when tied to the embedding (then `embedding` serves) */
  head: Float32Array | null;
}

const read = (t: { dataSync(): ArrayLike<number> }) => Float32Array.from(t.dataSync());

/** Host copy of a table the model built: its variable `own` itself when nothing is added, else a new tensor (disposed). */
function readTable<T extends { dispose(): void }>(
  t: T,
  own: unknown,
  host: (t: T) => Float32Array,
): Float32Array {
  try {
    return host(t);
  } finally {
    if (t !== own) t.dispose();
  }
}

/** Host copy of an (in, out) tensor, transposed to (out, in). */
function readTransposed(t: { shape: number[]; dataSync(): ArrayLike<number> }): Float32Array {
  const [rows, cols] = t.shape;
  const src = t.dataSync();
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/**
 * Single-sequence decoding on the host, llama2.c style: preallocated KV cache updated in place. Covers every model
 * the Transformer computes: head size ≠ dim / heads, scaled RoPE (the model's own rotation tables), biases.
 */
export class JsHostDecoder implements Decoder {
  position = 0;
  private weights: HostWeights;
  private readonly byKey = new Map<string, HostWeights>();
  private readonly keyCache: Float32Array; // (layers, maxSeqLen, kvDim)
  private readonly valueCache: Float32Array;
  private readonly cos2: Float32Array; // (maxSeqLen, hs)
  private readonly sin2: Float32Array;
  // scratch buffers (llama2.c RunState)
  private readonly x: Float32Array;
  private readonly xb: Float32Array;
  private readonly q: Float32Array;
  /** Attention output, every head concatenated (nh·hs): o's input. */
  private readonly heads: Float32Array;
  private readonly att: Float32Array;
  private readonly hb: Float32Array;
  private readonly hb2: Float32Array;
  private readonly xb2: Float32Array;

  constructor(
    private readonly model: Transformer,
    ctx?: LinearContext,
    key = 'default',
  ) {
    const c = model.config;
    const kvDim = headSize(c) * c.numKvHeads;
    this.keyCache = new Float32Array(c.numLayers * c.maxSeqLen * kvDim);
    this.valueCache = new Float32Array(c.numLayers * c.maxSeqLen * kvDim);
    this.cos2 = read(model.rope.cos2);
    this.sin2 = read(model.rope.sin2);
    this.x = new Float32Array(c.dim);
    this.xb = new Float32Array(c.dim);
    this.q = new Float32Array(headSize(c) * c.numHeads);
    this.heads = new Float32Array(headSize(c) * c.numHeads);
    this.att = new Float32Array(c.maxSeqLen);
    this.hb = new Float32Array(c.hiddenDim);
    this.hb2 = new Float32Array(c.hiddenDim);
    this.xb2 = new Float32Array(c.dim);
    this.weights = this.snapshot(ctx);
    this.byKey.set(key, this.weights);
  }

  /** Copies the weights that apply under `ctx` (experts merged) to the host. */
  private snapshot(ctx?: LinearContext): HostWeights {
    const m = this.model;
    const slots = m.linearSlots();
    const w = (layer: number, module: string): HostLinear => {
      const l = slots.find((s) => s.layer === layer && s.module === module)!.get();
      return { w: readTransposed(l.weightFor(ctx)), b: l.bias ? read(l.bias) : null };
    };
    const layers = m.blocks.map((b, l) => ({
      attnNorm: read(b.attnNorm.weight),
      q: w(l, 'q'),
      k: w(l, 'k'),
      v: w(l, 'v'),
      o: w(l, 'o'),
      mlpNorm: read(b.mlpNorm.weight),
      gate: w(l, 'gate'),
      up: w(l, 'up'),
      down: w(l, 'down'),
    }));
    // the tables with the added token rows in place (appended, or over padding rows), (vocab, d)
    const embedding = readTable(
      tf.tidy(() => m.embeddingTable()),
      m.embedding,
      read,
    );
    const head = m.head
      ? readTable(
          tf.tidy(() => m.headTable()!),
          m.head.weight,
          readTransposed,
        )
      : null;
    return { embedding, layers, finalNorm: read(m.finalNorm.weight), head };
  }

  setContext(ctx: LinearContext | undefined, key = JSON.stringify(ctx ?? null)): void {
    let w = this.byKey.get(key);
    if (!w) this.byKey.set(key, (w = this.snapshot(ctx)));
    this.weights = w;
  }

  async next(ids: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return this.step(ids);
  }

  step(ids: readonly (readonly number[])[]): Float32Array[] {
    if (ids.length !== 1) throw new Error(`HostDecoder decodes one sequence; got ${ids.length} rows`);
    const row = ids[0];
    if (row.length === 0) return [new Float32Array(0)];
    // only the last token's logits are returned: the others (a prompt's prefill) skip the head's matvec, which
    // for a real vocabulary (49K–152K rows) costs more than the rest of the token
    for (let t = 0; t < row.length - 1; t++) this.forward(row[t], false);
    return [this.forward(row[row.length - 1], true)!];
  }

  /** One token at `position` → its logits (run.c `forward`), or null when not `withLogits`. */
  private forward(token: number, withLogits: boolean): Float32Array | null {
    const c = this.model.config;
    const { dim, hiddenDim, numHeads: nh, numKvHeads: nkv, vocabSize: V, maxSeqLen } = c;
    const hs = headSize(c);
    if (!Number.isInteger(token) || token < 0 || token >= V)
      throw new Error(`token id out of range: ${token}; expected an integer in [0, ${V})`);
    const pos = this.position;
    if (pos >= maxSeqLen) throw new Error(`decode: position ${pos + 1} exceeds maxSeqLen ${maxSeqLen}`);
    const qDim = hs * nh;
    const kvDim = hs * nkv;
    const group = nh / nkv;
    const { x, xb, xb2, q, heads, att, hb, hb2 } = this;
    const W = this.weights;
    x.set(W.embedding.subarray(token * dim, (token + 1) * dim));
    const cos = this.cos2.subarray(pos * hs, (pos + 1) * hs);
    const sin = this.sin2.subarray(pos * hs, (pos + 1) * hs);
    const scale = 1 / Math.sqrt(hs);
    for (let l = 0; l < W.layers.length; l++) {
      const L = W.layers[l];
      rmsnorm(xb, x, L.attnNorm, c.normEps);
      const cacheOff = (l * maxSeqLen + pos) * kvDim;
      const k = this.keyCache.subarray(cacheOff, cacheOff + kvDim);
      const v = this.valueCache.subarray(cacheOff, cacheOff + kvDim);
      linear(q, xb, L.q, dim, qDim);
      linear(k, xb, L.k, dim, kvDim);
      linear(v, xb, L.v, dim, kvDim);
      rope(q, cos, sin, hs);
      rope(k, cos, sin, hs);
      // attention, head by head, over positions 0..pos
      for (let h = 0; h < nh; h++) {
        const qo = h * hs;
        const ko = Math.floor(h / group) * hs;
        let max = Number.NEGATIVE_INFINITY;
        for (let t = 0; t <= pos; t++) {
          const kt = (l * maxSeqLen + t) * kvDim + ko;
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[qo + i] * this.keyCache[kt + i];
          att[t] = s * scale;
          if (att[t] > max) max = att[t];
        }
        let z = 0;
        for (let t = 0; t <= pos; t++) z += att[t] = Math.exp(att[t] - max);
        const out = heads.subarray(qo, qo + hs);
        out.fill(0);
        for (let t = 0; t <= pos; t++) {
          const a = att[t] / z;
          const vt = (l * maxSeqLen + t) * kvDim + ko;
          for (let i = 0; i < hs; i++) out[i] += a * this.valueCache[vt + i];
        }
      }
      linearAdd(x, heads, L.o, qDim, dim, xb2);
      // SwiGLU feed-forward
      rmsnorm(xb, x, L.mlpNorm, c.normEps);
      linear(hb, xb, L.gate, dim, hiddenDim);
      linear(hb2, xb, L.up, dim, hiddenDim);
      for (let i = 0; i < hiddenDim; i++) hb[i] = (hb[i] / (1 + Math.exp(-hb[i]))) * hb2[i];
      linearAdd(x, hb, L.down, hiddenDim, dim, xb2);
    }
    this.position++;
    if (!withLogits) return null;
    rmsnorm(x, x, W.finalNorm, c.normEps);
    const logits = new Float32Array(V);
    matvec(logits, x, W.head ?? W.embedding, dim, V);
    return logits;
  }

  dispose(): void {
    this.byKey.clear();
  }
}

// ---------------------------------------------------------------- kernels (run.c's, on (in, out) weights)

function rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, eps: number): void {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const r = 1 / Math.sqrt(ss / x.length + eps);
  for (let i = 0; i < x.length; i++) out[i] = w[i] * (r * x[i]);
}

/** out (n) = W (n, m) · x (m): one dot product per row, four accumulators (0.5 GMAC/s in V8 here vs 0.3 for one). */
function matvec(out: Float32Array, x: Float32Array, w: Float32Array, m: number, n: number): void {
  const m4 = m - (m % 4);
  for (let j = 0; j < n; j++) {
    const o = j * m;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let i = 0; i < m4; i += 4) {
      s0 += x[i] * w[o + i];
      s1 += x[i + 1] * w[o + i + 1];
      s2 += x[i + 2] * w[o + i + 2];
      s3 += x[i + 3] * w[o + i + 3];
    }
    for (let i = m4; i < m; i++) s0 += x[i] * w[o + i];
    out[j] = s0 + s1 + (s2 + s3);
  }
}

/** out (n) = W (n, m) · x (m) + b. */
function linear(out: Float32Array, x: Float32Array, p: HostLinear, m: number, n: number): void {
  matvec(out, x, p.w, m, n);
  if (p.b) for (let j = 0; j < n; j++) out[j] += p.b[j];
}

/** out (n) += W (n, m) · x (m) + b, through `tmp` (the residual add). */
function linearAdd(
  out: Float32Array,
  x: Float32Array,
  p: HostLinear,
  m: number,
  n: number,
  tmp: Float32Array,
): void {
  linear(tmp, x, p, m, n);
  for (let j = 0; j < n; j++) out[j] += tmp[j];
}

/** Rotates adjacent pairs of every head in place (cos2/sin2 rows as in model/rope.ts). */
function rope(v: Float32Array, cos: Float32Array, sin: Float32Array, hs: number): void {
  for (let i = 0; i < v.length; i += 2) {
    const j = i % hs;
    const v0 = v[i];
    const v1 = v[i + 1];
    v[i] = v0 * cos[j] + v1 * sin[j];
    v[i + 1] = v1 * cos[j + 1] + v0 * sin[j + 1];
  }
}
