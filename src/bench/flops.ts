// Training FLOPs of a frozen-base + LoRA-expert model, counted from its shapes (matmuls only).
//
// Why not 6·N_params·tokens: that rule assumes every weight gets a gradient. With a frozen base W0 the backward
// skips dW0 = xᵀ·dy, and the adapters are tiny, so the real count is near 4·N_base (forward + activation grads).
//
// Convention: a matmul (M, K)·(K, N) costs 2·M·K·N FLOPs (multiply + add). Elementwise work (norms, RoPE, SiLU,
// softmax, the loss, AdamW) is not counted, as in the PaLM/Chinchilla accounting. For B rows of T tokens, N = B·T:
//
//   forward
//     base linear (in → out), per projection      2·N·in·out
//     LoRA expert on it, per active expert        2·N·r·(in + out)        x·A (in → r), then ·B (r → out)
//     top-k gate (moe-topk)                       2·N·in·E
//     attention, per layer                        4·B·T²·d                QKᵀ and att·V over the full T×T square
//                                                                         (the kernel computes it, then masks)
//     head (tied or not)                          2·N·d·V
//   backward
//     frozen matmul (base linears, head)          1 × its forward         dx = dy·Wᵀ only, no dW
//     trainable matmul (LoRA, gate, base in full FT)  2 × its forward     dx and dW
//     attention (both operands are activations)   2 × its forward         d(Q), d(K) / d(att), d(V)
//     added token rows of a frozen tied head      2·N·d·added             their weight gradient
//
// "Active experts" is what the MoTE algorithm needs per token, not what a kernel happens to compute: 2 for MoTE
// (its step expert + the shared one), 1 without the shared expert or for a single LoRA, topK (+1 shared) for
// moe-topk. The segmented kernel computes exactly that; the dense one computes every expert for every token.
import type { ExpertConfig } from '../experts/config.js';
import { adapterKind } from '../experts/kinds.js';
import type { ModelConfig } from '../model/config.js';
import { LINEAR_MODULES, type LinearModule } from '../model/transformer.js';

/** What the count needs to know about a model and its adapters. */
export interface FlopShape {
  dim: number;
  hiddenDim: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Head size; null or absent: dim / numHeads. */
  headDim?: number | null;
  /** Vocabulary including added tokens. */
  vocabSize: number;
  /** Projections carrying adapters (none: no adapters). */
  targets: readonly LinearModule[];
  rank: number;
  /** LoRA experts applied to each token of an adapted projection (see the file header). */
  expertsPerToken: number;
  /** Experts scored by a learned top-k gate per adapted projection (0: no gate). */
  gateExperts: number;
  /** Whether the base weights train too (full fine-tuning). */
  trainBase: boolean;
  /** Added token rows that train while the head is frozen (their weight gradient is counted). */
  trainableVocabRows: number;
}

export interface FlopCount {
  forward: number;
  backward: number;
  total: number;
}

/** The FlopShape of a model config with experts (null: full fine-tuning) and `addedTokens` new rows. */
export function flopShape(
  model: Pick<ModelConfig, 'dim' | 'hiddenDim' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'vocabSize'> &
    Partial<Pick<ModelConfig, 'headDim'>>,
  experts: Readonly<ExpertConfig> | null,
  addedTokens = 0,
): FlopShape {
  const shape = { ...pick(model), trainableVocabRows: addedTokens };
  if (!experts)
    return { ...shape, targets: [], rank: 0, expertsPerToken: 0, gateExperts: 0, trainBase: true };
  const kind = adapterKind(experts);
  return {
    ...shape,
    targets: experts.targets,
    rank: experts.rank,
    expertsPerToken: kind.expertsPerToken(experts),
    gateExperts: kind.routerParameters(experts, 1), // a gate (in, E) has E parameters per input feature
    trainBase: false,
  };
}

function pick(c: Parameters<typeof flopShape>[0]) {
  const { dim, hiddenDim, numLayers, numHeads, numKvHeads, vocabSize, headDim } = c;
  return { dim, hiddenDim, numLayers, numHeads, numKvHeads, vocabSize, headDim };
}

/** (in, out) of each projection. */
export function projectionDims(s: FlopShape): Record<LinearModule, [number, number]> {
  const hd = s.headDim ?? s.dim / s.numHeads;
  const [qd, kv] = [hd * s.numHeads, hd * s.numKvHeads];
  const { dim: d, hiddenDim: h } = s;
  return { q: [d, qd], k: [d, kv], v: [d, kv], o: [qd, d], gate: [d, h], up: [d, h], down: [h, d] };
}

/** FLOPs of one training step (forward + backward) on B rows of T tokens. */
export function trainStepFlops(s: FlopShape, B: number, T: number): FlopCount {
  const N = B * T;
  const dims = projectionDims(s);
  let base = 0;
  let adapters = 0;
  for (const m of LINEAR_MODULES) {
    const [i, o] = dims[m];
    base += 2 * N * i * o;
    if (s.targets.includes(m))
      adapters += s.expertsPerToken * 2 * N * s.rank * (i + o) + 2 * N * i * s.gateExperts;
  }
  base *= s.numLayers;
  adapters *= s.numLayers;
  const attention = s.numLayers * 4 * B * T * T * (s.headDim ?? s.dim / s.numHeads) * s.numHeads; // nh·hd = d unless head_dim differs
  const head = 2 * N * s.dim * s.vocabSize;
  const forward = base + adapters + attention + head;
  const frozen = s.trainBase ? 2 : 1;
  const backward =
    frozen * (base + head) +
    2 * adapters +
    2 * attention +
    (s.trainBase ? 0 : 2 * N * s.dim * s.trainableVocabRows);
  return { forward, backward, total: forward + backward };
}

/** Sum of `trainStepFlops` over batches given as [B, T] shapes. */
export function sumFlops(s: FlopShape, shapes: Iterable<readonly [number, number]>): FlopCount {
  const sum: FlopCount = { forward: 0, backward: 0, total: 0 };
  for (const [B, T] of shapes) {
    const f = trainStepFlops(s, B, T);
    sum.forward += f.forward;
    sum.backward += f.backward;
    sum.total += f.total;
  }
  return sum;
}
