// Where our weights live in a Hugging Face Llama checkpoint (transformers `modeling_llama.py` names) and the two
// layout changes between them: PyTorch Linear weights are (out, in) where ours are (in, out), and HF's RoPE pairs
// dimension i with i + hs/2 of each head where llama2.c (and our rope.ts) pairs (2i, 2i+1), so q_proj/k_proj rows
// are permuted. The permutation is llama2.c export.py `permute_original`:
//   w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)
// i.e. HF row h·hs + j·hs/2 + i holds llama2.c row h·hs + 2i + j (j ∈ {0, 1}, i < hs/2). A q/k bias is one value
// per output row, so it moves the same way. Qwen2 and Mistral checkpoints use the same names and layout.
import { headSize, type ModelConfig } from '../model/config.js';
import type { LinearModule } from '../model/transformer.js';

/** The HF submodule of each of our projections, relative to `model.layers.L`. */
export const HF_LINEAR_NAMES: Readonly<Record<LinearModule, string>> = Object.freeze({
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
});

/** PEFT `target_modules` name of each projection (the last path component). */
export const HF_TARGET_NAMES: Readonly<Record<LinearModule, string>> = Object.freeze({
  q: 'q_proj',
  k: 'k_proj',
  v: 'v_proj',
  o: 'o_proj',
  gate: 'gate_proj',
  up: 'up_proj',
  down: 'down_proj',
});

/** Module path of a projection in the HF model: `model.layers.3.self_attn.q_proj`. */
export function hfLinearPath(layer: number, module: LinearModule): string {
  return `model.layers.${layer}.${HF_LINEAR_NAMES[module]}`;
}

/** (in, out) of a projection of a model of shape `c`. */
export function linearShape(c: ModelConfig, module: LinearModule): [number, number] {
  const qDim = headSize(c) * c.numHeads;
  const kvDim = headSize(c) * c.numKvHeads;
  switch (module) {
    case 'q':
      return [c.dim, qDim];
    case 'o':
      return [qDim, c.dim];
    case 'k':
    case 'v':
      return [c.dim, kvDim];
    case 'gate':
    case 'up':
      return [c.dim, c.hiddenDim];
    case 'down':
      return [c.hiddenDim, c.dim];
  }
}

/** Number of RoPE heads along a projection's output rows (q: query heads, k: key heads), or 0: not rotated. */
export function ropeHeads(c: ModelConfig, module: LinearModule): number {
  return module === 'q' ? c.numHeads : module === 'k' ? c.numKvHeads : 0;
}

/** Row-major (rows, cols) → (cols, rows). */
export function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/** Moves whole rows of a (rows, cols) matrix of `heads` heads: `hf` true = llama2.c pairing → HF halves. */
function permuteRows(
  src: Float32Array,
  rows: number,
  cols: number,
  heads: number,
  hf: boolean,
): Float32Array {
  const hs = rows / heads;
  if (!Number.isInteger(hs) || hs % 2 !== 0)
    throw new Error(`RoPE row permutation: ${rows} rows do not split into ${heads} heads of even size`);
  const half = hs / 2;
  const out = new Float32Array(src.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const ours = h * hs + 2 * i + j;
        const theirs = h * hs + j * half + i;
        const [from, to] = hf ? [ours, theirs] : [theirs, ours];
        out.set(src.subarray(from * cols, (from + 1) * cols), to * cols);
      }
  return out;
}

/** Rows of an (out, ·) matrix in llama2.c RoPE order → HF order (permute_original). Identity when heads is 0. */
export function rowsToHf(src: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  return heads ? permuteRows(src, rows, cols, heads, true) : src;
}

/** Inverse of `rowsToHf`. */
export function rowsFromHf(src: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  return heads ? permuteRows(src, rows, cols, heads, false) : src;
}

/** Our (in, out) weight → PyTorch (out, in) in HF row order. `heads` from `ropeHeads` (0: no permutation). */
export function linearToHf(w: Float32Array, inF: number, outF: number, heads: number): Float32Array {
  return rowsToHf(transpose(w, inF, outF), outF, inF, heads);
}

/**
 * PyTorch (out, in) in HF row order → our (in, out), in one pass and one allocation (a checkpoint's largest
 * matrices are hundreds of MB: no intermediate permuted copy).
 */
export function linearFromHf(w: Float32Array, outF: number, inF: number, heads: number): Float32Array {
  if (!heads) return transpose(w, outF, inF);
  const hs = outF / heads;
  if (!Number.isInteger(hs) || hs % 2 !== 0)
    throw new Error(`RoPE row permutation: ${outF} rows do not split into ${heads} heads of even size`);
  const half = hs / 2;
  const out = new Float32Array(w.length);
  for (let r = 0; r < outF; r++) {
    const h = Math.floor(r / hs);
    const within = r - h * hs; // = j·half + i in HF order
    const j = within >= half ? 1 : 0;
    const ours = h * hs + 2 * (within - j * half) + j;
    for (let c = 0, src = r * inF; c < inF; c++) out[c * outF + ours] = w[src + c];
  }
  return out;
}

/** A bias (out) in HF order → ours (q/k: the RoPE row permutation; others unchanged). */
export function biasFromHf(b: Float32Array, heads: number): Float32Array {
  return rowsFromHf(b, b.length, 1, heads);
}

/** Our bias → HF order. */
export function biasToHf(b: Float32Array, heads: number): Float32Array {
  return rowsToHf(b, b.length, 1, heads);
}
