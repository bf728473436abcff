// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
// ICLR 2019), step for step as PyTorch's torch.optim.AdamW computes it. tfjs has none (tfjs-notes.md).
// Moments are kept by dotted variable name, not by position, so the trainable set may change between steps.
import * as tf from '@tensorflow/tfjs';
import { ADAMW, type AdamWAttrs } from '../backend/kernels/adamw.js';
import { jsKernelsActive } from '../backend/kernels/backends.js';
import { runKernel } from '../backend/kernels/run.js';
import { gradEntries, type NamedGrads } from './clip.js';

export interface AdamWOptions {
  /** (β1, β2) of the moment averages. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** ε added to √v̂. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay λ of the decay group. Default 0.01. */
  weightDecay?: number;
  /**
   * Variables without weight decay: a predicate on the dotted name (and the variable), or an explicit list
   * of names. Default `isNoDecay` (norms, biases, added token rows, anything of rank < 2).
   */
  noDecay?: ((name: string, variable: tf.Variable) => boolean) | readonly string[];
  /**
   * Update each variable with one fused kernel (JS over the backend's memory, float64 arithmetic; wasm and cpu
   * only, src/backend/kernels/adamw.ts), else with ~14 tfjs ops. `'auto'` (default) uses the kernel on wasm and cpu.
   */
  fused?: boolean | 'auto';
}

/** One variable's optimizer state on the host. */
export interface AdamWSlot {
  shape: number[];
  /** First moment m (float32, row-major). */
  m: Float32Array;
  /** Second moment v. */
  v: Float32Array;
  /** Updates this variable has received: the t of its bias correction. */
  step: number;
}

/** Serialisable optimizer state (checkpoints). */
export interface AdamWState {
  /** `applyGradients` calls so far. */
  step: number;
  slots: Map<string, AdamWSlot>;
}

/**
 * nanoGPT's grouping by name: no decay for normalisation weights, biases, added token rows (`addedEmbedding`,
 * `addedHead`) and any tensor of rank < 2.
 */
export function isNoDecay(name: string, variable: tf.Variable): boolean {
  const parts = name.split('.');
  return (
    variable.rank < 2 ||
    parts[parts.length - 1] === 'bias' ||
    parts.some((p) => /norm/i.test(p) || p.startsWith('added'))
  );
}

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  step: number;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** `applyGradients` calls so far. */
  step = 0;
  private params: ReadonlyMap<string, tf.Variable>;
  private readonly slots = new Map<string, Slot>();
  private readonly noDecay: (name: string, variable: tf.Variable) => boolean;
  private readonly fused: boolean | 'auto';

  /** `params`: the variables it may update, by dotted name (e.g. `model.namedVariables()` filtered). */
  constructor(params: ReadonlyMap<string, tf.Variable>, options: AdamWOptions = {}) {
    const [beta1, beta2] = options.betas ?? [0.9, 0.999];
    const { eps = 1e-8, weightDecay = 0.01, noDecay = isNoDecay, fused = 'auto' } = options;
    const bad = (what: string, value: unknown) => {
      throw new RangeError(`AdamW: ${what}, got ${JSON.stringify(value)}`);
    };
    if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) bad('betas must be in [0, 1)', [beta1, beta2]);
    if (!(eps > 0)) bad('eps must be > 0', eps);
    if (!(weightDecay >= 0)) bad('weightDecay must be ≥ 0', weightDecay);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.noDecay = typeof noDecay === 'function' ? noDecay : (name) => noDecay.includes(name);
    this.fused = fused;
    this.params = params;
  }

  /** Replaces the name → variable map (e.g. after attaching experts). Moments of names still present are kept. */
  setParams(params: ReadonlyMap<string, tf.Variable>): void {
    this.params = params;
  }

  /** λ applied to variable `name`: 0 in the no-decay group. */
  weightDecayOf(name: string): number {
    const v = this.params.get(name);
    return v && !this.noDecay(name, v) ? this.weightDecay : 0;
  }

  /**
   * One AdamW step at learning rate `lr` for every variable named in `grads` (others are untouched; their moments
   * wait). Per variable, with t its own update count (PyTorch keeps `step` per parameter too):
   *   p ← p − lr·λ·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
   *   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε),
   * with g the gradient times `gradScale` (default 1): global-norm clipping's coefficient (clip.ts
   * `clipCoefficient`), applied inside the update instead of to a clipped copy of every gradient.
   * Every name and shape is checked before any variable changes. Tidied; the gradients are not disposed.
   */
  applyGradients(grads: NamedGrads, lr: number, gradScale = 1): void {
    if (!(Number.isFinite(lr) && lr >= 0))
      throw new RangeError(`AdamW: lr must be a finite number ≥ 0, got ${lr}`);
    if (!(Number.isFinite(gradScale) && gradScale >= 0))
      throw new RangeError(`AdamW: gradScale must be a finite number ≥ 0, got ${gradScale}`);
    const entries = gradEntries(grads);
    const targets = entries.map(([name, g]) => this.target(name, g));
    const fused = this.fused === 'auto' ? jsKernelsActive() : this.fused;
    if (fused && !jsKernelsActive())
      throw new Error(
        `AdamW: fused: true needs the wasm or cpu backend; the active one is '${tf.getBackend()}'`,
      );
    tf.tidy('adamw', () => {
      entries.forEach(([name, g], i) => {
        const p = targets[i];
        const slot = this.slotFor(name, p);
        const t = slot.step + 1;
        const attrs: AdamWAttrs = {
          beta1: this.beta1,
          beta2: this.beta2,
          decay: 1 - lr * this.weightDecayOf(name),
          stepSize: lr / (1 - this.beta1 ** t),
          sqrtBc2: Math.sqrt(1 - this.beta2 ** t),
          eps: this.eps,
          gradScale,
        };
        const [pNew, mNew, vNew] = fused ? fusedUpdate(p, g, slot, attrs) : opsUpdate(p, g, slot, attrs);
        slot.m.assign(mNew);
        slot.v.assign(vNew);
        p.assign(pNew);
        slot.step = t;
      });
    });
    this.step++;
  }

  /** The state on the host (one read per moment), for checkpoints. */
  async getState(): Promise<AdamWState> {
    const slots = new Map<string, AdamWSlot>();
    for (const [name, s] of this.slots) {
      const [m, v] = await Promise.all([
        s.m.data() as Promise<Float32Array>,
        s.v.data() as Promise<Float32Array>,
      ]);
      slots.set(name, { shape: [...s.m.shape], m, v, step: s.step });
    }
    return { step: this.step, slots };
  }

  /**
   * Replaces the state (e.g. from a checkpoint). Slots of names this optimizer knows must match the variable's
   * shape; others are kept for when the variable appears. Throws before changing anything.
   */
  setState(state: AdamWState): void {
    for (const [name, s] of state.slots) {
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (s.m.length !== size || s.v.length !== size) {
        throw new Error(
          `AdamW state for ${name}: shape [${s.shape}] needs ${size} values, got m ${s.m.length} and v ${s.v.length}`,
        );
      }
      if (!(Number.isInteger(s.step) && s.step >= 0))
        throw new Error(`AdamW state for ${name}: bad step ${s.step}`);
      const p = this.params.get(name);
      if (p && p.shape.join() !== s.shape.join()) {
        throw new Error(`AdamW state for ${name}: expected shape [${p.shape}], got [${s.shape}]`);
      }
    }
    this.disposeSlots();
    for (const [name, s] of state.slots) {
      this.slots.set(name, {
        m: tf.variable(tf.tensor(s.m, s.shape), false),
        v: tf.variable(tf.tensor(s.v, s.shape), false),
        step: s.step,
      });
    }
    this.step = state.step;
  }

  /** Drops the moments of `names` (e.g. a variable replaced by one of another shape). */
  forget(names: Iterable<string>): void {
    for (const name of names) {
      const s = this.slots.get(name);
      s?.m.dispose();
      s?.v.dispose();
      this.slots.delete(name);
    }
  }

  /** Frees the moments. */
  dispose(): void {
    this.disposeSlots();
  }

  private disposeSlots(): void {
    this.forget([...this.slots.keys()]);
  }

  /** The variable a gradient is for, after checking name, shape, dtype and the shape of existing moments. */
  private target(name: string, g: tf.Tensor): tf.Variable {
    const p = this.params.get(name);
    if (!p) throw new Error(`AdamW: gradient for unknown variable ${name}`);
    if (g.shape.join() !== p.shape.join())
      throw new Error(`AdamW: gradient of ${name} has shape [${g.shape}], the variable [${p.shape}]`);
    if (g.dtype !== 'float32' || p.dtype !== 'float32')
      throw new Error(`AdamW: ${name} must be float32 (variable ${p.dtype}, gradient ${g.dtype})`);
    const s = this.slots.get(name);
    if (s && s.m.shape.join() !== p.shape.join()) {
      throw new Error(
        `AdamW: moments of ${name} have shape [${s.m.shape}], the variable [${p.shape}]; call forget(['${name}'])`,
      );
    }
    return p;
  }

  private slotFor(name: string, p: tf.Variable): Slot {
    let s = this.slots.get(name);
    if (!s) {
      s = { m: tf.variable(tf.zerosLike(p), false), v: tf.variable(tf.zerosLike(p), false), step: 0 };
      this.slots.set(name, s);
    }
    return s;
  }
}

// ---------------------------------------------------------------- the update, two ways

/** The update in tfjs ops (any backend). Returns [p, m, v]. */
function opsUpdate(p: tf.Tensor, grad: tf.Tensor, s: Slot, a: AdamWAttrs): tf.Tensor[] {
  const g = a.gradScale === 1 ? grad : tf.mul(grad, a.gradScale);
  const m = tf.add(tf.mul(s.m, a.beta1), tf.mul(g, 1 - a.beta1));
  const v = tf.add(tf.mul(s.v, a.beta2), tf.mul(tf.square(g), 1 - a.beta2));
  const denom = tf.add(tf.div(tf.sqrt(v), a.sqrtBc2), a.eps);
  const decayed = a.decay === 1 ? p : tf.mul(p, a.decay);
  return [tf.sub(decayed, tf.mul(tf.div(m, denom), a.stepSize)), m, v];
}

/** The update as one kernel call (wasm, cpu). Returns [p, m, v]. */
function fusedUpdate(p: tf.Tensor, g: tf.Tensor, s: Slot, a: AdamWAttrs): tf.Tensor[] {
  return runKernel(ADAMW, { p, g, m: s.m, v: s.v }, a);
}
