// The WGSL programs of the segmented LoRA mixing on webgpu (webgpu-sgmv.ts holds the op), in the shape
// tfjs-backend-webgpu runs its own: an object with the output shape, the input names (bound in order after the
// output), extra uniforms, a workgroup size and a dispatch, whose `getUserCode` is the body of `main(index)`; tfjs adds
// the bindings, the uniforms `<name>Shape`, `outShape` and `size`, and `setOutputAtIndex`. One invocation computes one
// output element, so no shape needs to be a multiple of the workgroup size or of 4 (the rank often is not).
//
// Token t's expert is e_t = tokExp[t] (−1: none); the factors of the step experts are stacked, A (in, E·r) and
// B (E·r, out), expert e's block starting at column / row e·r; the hidden H (N, r′) holds the shared block first
// (rSh = r columns, or 0 without a shared expert) and then the step block (r columns, or none without step experts).
//   shrink:  H[t, j]  = s_blk · Σ_k src[t, k] · W_blk(k, j)       (forward: src = x̃, W = A;  backward: src = dy, W = Bᵀ)
//   expand:  out[t, c] = base[t, c] + Σ_blk s_blk · Σ_j H[t, j] · W_blk(j, c)   (forward: W = B;  backward dx̃: W = Aᵀ)
//   reduce:  the factor gradients, Σ over the tokens of one expert (the sorted segment rows[start, start + count)) or of
//            the shared expert (every token) of p[t, k] · q[t, j]: dA (in, ·r) from x̃ and dH, dB (·r, out) from H and dy.
// shrink and expand run token-major (each token reads its own expert's block, Punica's BGMV form); reduce walks the
// segments that the host plan sorted by expert (SGMV). Each is one dispatch for all the experts.

/** What tfjs-backend-webgpu's runWebGPUProgram reads of a program (webgpu_program.ts WebGPUProgram). */
export interface WgslProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms: string;
  workgroupSize: [number, number, number];
  size: boolean;
  getUserCode(): string;
}

const WORKGROUP = 64;

function flatProgram(
  name: string,
  outputShape: number[],
  variableNames: string[],
  uniforms: string,
  code: string,
): WgslProgram {
  const size = outputShape.reduce((n, d) => n * d, 1);
  const groups = Math.ceil(size / WORKGROUP);
  return {
    outputShape,
    shaderKey: name,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    // more than 65535 workgroups in x: tfjs spreads them over y and z itself (backend_webgpu.ts reshapeDispatch)
    dispatch: [Math.max(groups, 1), 1, 1],
    variableNames,
    uniforms,
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => code,
  };
}

/** Which blocks a program reads. */
export interface Blocks {
  shared: boolean;
  step: boolean;
}

/**
 * H (N, r′) = per block, scale · src (N, K) · W: W = the shared (K, r) and step (K, E·r) factors, or with `transposed`
 * the (r, K) and (E·r, K) factors read transposed. Inputs in order: src, wsh?, wst?, tokExp? (step only).
 * Uniforms: r, rSh (r or 0), sSh, sSt.
 */
export function shrinkProgram(N: number, rOut: number, blocks: Blocks, transposed: boolean): WgslProgram {
  const { shared, step } = blocks;
  const names = ['src', ...(shared ? ['wsh'] : []), ...(step ? ['wst', 'tokExp'] : [])];
  // W(k, j) of a (K, n) factor, or of its transpose (n, K)
  const w = (name: string, k: string, j: string, n: string) =>
    transposed ? `${name}[(${j}) * K + ${k}]` : `${name}[(${k}) * ${n} + ${j}]`;
  const code = `
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let cols = uniforms.outShape[1];
      let t = index / cols;
      let j = index - t * cols;
      let K = uniforms.srcShape[1];
      let row = t * K;
      var acc = 0.0;
      ${
        shared
          ? `if (j < uniforms.rSh) {
        for (var k = 0; k < K; k++) { acc += src[row + k] * ${w('wsh', 'k', 'j', 'uniforms.r')}; }
        setOutputAtIndex(index, acc * uniforms.sSh);
        return;
      }`
          : ''
      }
      ${
        step
          ? `let e = tokExp[t];
      if (e >= 0) {
        let n = ${transposed ? 'uniforms.wstShape[0]' : 'uniforms.wstShape[1]'};
        let c = e * uniforms.r + j - uniforms.rSh;
        for (var k = 0; k < K; k++) { acc += src[row + k] * ${w('wst', 'k', 'c', 'n')}; }
      }
      setOutputAtIndex(index, acc * uniforms.sSt);`
          : 'setOutputAtIndex(index, acc);'
      }
    }`;
  return flatProgram(
    `moteSgmvShrink_${shared}_${step}_${transposed}`,
    [N, rOut],
    names,
    'r : i32, rSh : i32, sSh : f32, sSt : f32,',
    code,
  );
}

/**
 * out (N, C) = base? + Σ_blk s_blk · H_blk (N, r) · W_blk: W = the shared (r, C) and step (E·r, C) factors, or with
 * `transposed` the (C, r) and (C, E·r) factors read transposed. Inputs in order: base?, h, wsh?, wst?, tokExp?.
 * Uniforms: r, rSh, sSh, sSt.
 */
export function expandProgram(
  N: number,
  C: number,
  blocks: Blocks,
  transposed: boolean,
  base: boolean,
): WgslProgram {
  const { shared, step } = blocks;
  const names = [
    ...(base ? ['base'] : []),
    'h',
    ...(shared ? ['wsh'] : []),
    ...(step ? ['wst', 'tokExp'] : []),
  ];
  // W(j, c) of a (n, C) factor, or of its transpose (C, n)
  const w = (name: string, j: string, n: string) =>
    transposed ? `${name}[c * ${n} + ${j}]` : `${name}[(${j}) * C + c]`;
  const code = `
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let C = uniforms.outShape[1];
      let t = index / C;
      let c = index - t * C;
      let R = uniforms.hShape[1];
      let row = t * R;
      var acc = 0.0;
      ${
        shared
          ? `var s = 0.0;
      for (var j = 0; j < uniforms.r; j++) { s += h[row + j] * ${w('wsh', 'j', 'uniforms.r')}; }
      acc += s * uniforms.sSh;`
          : ''
      }
      ${
        step
          ? `let e = tokExp[t];
      if (e >= 0) {
        let n = ${transposed ? 'uniforms.wstShape[1]' : 'uniforms.wstShape[0]'};
        let first = e * uniforms.r;
        var s2 = 0.0;
        for (var j = 0; j < uniforms.r; j++) { s2 += h[row + uniforms.rSh + j] * ${w('wst', 'first + j', 'n')}; }
        acc += s2 * uniforms.sSt;
      }`
          : ''
      }
      ${base ? 'acc = base[index] + acc;' : ''}
      setOutputAtIndex(index, acc);
    }`;
  return flatProgram(
    `moteSgmvExpand_${shared}_${step}_${transposed}_${base}`,
    [N, C],
    names,
    'r : i32, rSh : i32, sSh : f32, sSt : f32,',
    code,
  );
}

/**
 * A factor gradient: out[k, b·r + j] (`layout` 'cols': (C, blocks·r), like A) or out[b·r + j, k] ('rows':
 * (blocks·r, C), like B) = scale · Σ_t p[t, k] · q[t, qOff + j] over the tokens t of block b: the segment
 * rows[ranges[2b] … ranges[2b] + ranges[2b+1]) for the step experts (`segmented`), every token for the shared expert.
 * Inputs in order: p (N, C), q (N, r′), rows?, ranges? (segmented only). Uniforms: r, qOff, scale.
 */
export function reduceProgram(
  C: number,
  numBlocks: number,
  r: number,
  layout: 'cols' | 'rows',
  segmented: boolean,
): WgslProgram {
  const names = ['p', 'q', ...(segmented ? ['rows', 'ranges'] : [])];
  const loop = segmented
    ? `let start = ranges[2 * b];
      let end = start + ranges[2 * b + 1];
      for (var i = start; i < end; i++) {
        let t = rows[i];
        acc += p[t * C + k] * q[t * R + col];
      }`
    : `let N = uniforms.pShape[0];
      for (var t = 0; t < N; t++) { acc += p[t * C + k] * q[t * R + col]; }`;
  const code = `
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let C = uniforms.pShape[1];
      let R = uniforms.qShape[1];
      let width = ${layout === 'cols' ? 'uniforms.outShape[1]' : 'C'};
      let major = index / width;
      let minor = index - major * width;
      let k = ${layout === 'cols' ? 'major' : 'minor'};
      let bj = ${layout === 'cols' ? 'minor' : 'major'};
      let b = bj / uniforms.r;
      let col = uniforms.qOff + bj - b * uniforms.r;
      var acc = 0.0;
      ${loop}
      setOutputAtIndex(index, acc * uniforms.scale);
    }`;
  const blocksR = numBlocks * r;
  return flatProgram(
    `moteSgmvReduce_${layout}_${segmented}`,
    layout === 'cols' ? [C, blocksR] : [blocksR, C],
    names,
    'r : i32, qOff : i32, scale : f32,',
    code,
  );
}
