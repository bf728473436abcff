// Per-step merged weights for decoding (PEFT-style merge without touching W0):
//   W_s = W0 + stepCoef·A_s·B_s + sharedCoef·A_sh·B_sh      (in, out)
// so a decode step costs exactly one base matmul. The cache is invalidated without help from the trainer: every
// entry remembers the dataIds of the variables it was built from, and tfjs gives a variable a new dataId on every
// `assign` (which is how every tfjs optimizer updates it), so a changed factor or base is always noticed.
import * as tf from '@tensorflow/tfjs';

/** The pieces of one projection that a merged weight is built from. */
export interface MergeParts {
  w0: tf.Variable;
  /** Routed experts stacked (in, E·r) / (E·r, out), or null. */
  stepA: tf.Variable | null;
  stepB: tf.Variable | null;
  sharedA: tf.Variable | null;
  sharedB: tf.Variable | null;
  rank: number;
  stepCoef: number;
  sharedCoef: number;
}

/** W_s for routed expert `step` (−1: shared expert only). A new tensor; pure. */
export function mergedWeight(p: MergeParts, step: number): tf.Tensor2D {
  return tf.tidy(() => {
    let w: tf.Tensor = p.w0;
    const r = p.rank;
    if (step >= 0 && p.stepA && p.stepB) {
      const A = tf.slice(p.stepA, [0, step * r], [-1, r]); // (in, r)
      const B = tf.slice(p.stepB, [step * r, 0], [r, -1]); // (r, out)
      w = tf.add(w, tf.mul(tf.matMul(A, B), p.stepCoef)); // (in, out)
    }
    if (p.sharedA && p.sharedB)
      w = tf.add(w, tf.mul(tf.matMul(p.sharedA as tf.Tensor2D, p.sharedB as tf.Tensor2D), p.sharedCoef));
    return w === p.w0 ? tf.clone(w) : w;
  }) as tf.Tensor2D;
}

const stampOf = (p: MergeParts): unknown[] =>
  [p.w0, p.stepA, p.stepB, p.sharedA, p.sharedB].map((v) => v?.dataId ?? null);

/** Whether the variables of `p` still hold the data `stamp` recorded (no allocation: runs every decode step). */
function fresh(stamp: unknown[], p: MergeParts): boolean {
  return (
    stamp[0] === p.w0.dataId &&
    stamp[1] === (p.stepA?.dataId ?? null) &&
    stamp[2] === (p.stepB?.dataId ?? null) &&
    stamp[3] === (p.sharedA?.dataId ?? null) &&
    stamp[4] === (p.sharedB?.dataId ?? null)
  );
}

/** Merged weights by step, rebuilt when any source variable has been reassigned since. Owns its tensors. */
export class MergedWeightCache {
  private readonly entries = new Map<number, { weight: tf.Tensor2D; stamp: unknown[] }>();

  get(parts: MergeParts, step: number): tf.Tensor2D {
    const hit = this.entries.get(step);
    if (hit && !hit.weight.isDisposed && fresh(hit.stamp, parts)) return hit.weight;
    hit?.weight.dispose();
    const weight = tf.keep(mergedWeight(parts, step)); // kept: outlives the caller's tidy
    this.entries.set(step, { weight, stamp: stampOf(parts) });
    return weight;
  }

  /** Number of cached steps (for tests and memory accounting). */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    for (const e of this.entries.values()) e.weight.dispose();
    this.entries.clear();
  }
}
