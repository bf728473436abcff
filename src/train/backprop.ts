// Reverse-mode gradients on tfjs's tape that free memory as they go. tfjs's own `gradients()` (what
// tf.variableGrads calls) keeps, until the whole backward pass ends, every gradient it computed for every
// intermediate tensor, every partial sum of a gradient, and every tensor saved for the backward: at the
// SmolLM2-135M shape that doubled a training step's memory (docs/performance.md, "Real size"). This walks
// the same tape with the same gradient functions in the same order, so the gradients are the same numbers, and
// releases
//   - a tensor's gradient once the node that produced the tensor has consumed it,
//   - a node's saved tensors once its gradient has run,
//   - the temporaries of a node's gradient functions when the node is done (one tidy per node).
import * as tf from '@tensorflow/tfjs';

/** A node of tfjs's tape (tfjs-core `TapeNode`; not exported by tfjs). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

/** The parts of tfjs's Engine used here (public at run time, not in its typings). */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
}

/** A tape node on a path from the sources to the result, with the inputs that lie on such a path. */
interface PathNode {
  node: TapeNode;
  inputs: string[];
}

/**
 * The nodes of `tape` through which `y` depends on a tensor of `sources`, in tape order, each with the inputs
 * that depend on a source (the only ones whose gradient is needed).
 */
export function nodesOnPath(
  tape: readonly TapeNode[],
  sources: readonly tf.Tensor[],
  y: tf.Tensor,
): PathNode[] {
  const fromSource = new Set<number>(sources.map((s) => s.id));
  const reached = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromSource.has(t.id))) {
      reached.add(node.id);
      for (const o of node.outputs) fromSource.add(o.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const path: PathNode[] = [];
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    for (const t of Object.values(node.inputs)) toY.add(t.id);
    if (!reached.has(node.id)) continue;
    const inputs = Object.keys(node.inputs).filter((k) => fromSource.has(node.inputs[k].id));
    path.push({ node, inputs });
  }
  return path.reverse();
}

/**
 * d f() / d x for every x of `xs`, as tf.variableGrads computes them (x not reached: undefined), releasing memory
 * during the backward pass (see the file header). `f` returns a scalar. Nested calls (a gradient function that
 * computes gradients itself, as activation checkpointing does) are allowed. Returns f's value (owned by the
 * caller's scope) and the gradients (new tensors).
 */
export function leanGradients(
  f: () => tf.Scalar,
  xs: readonly tf.Tensor[],
): { value: tf.Scalar; grads: (tf.Tensor | undefined)[] } {
  const engine = tf.engine() as unknown as EngineInternals;
  const outerTape = engine.state.gradientDepth > 0;
  engine.startTape();
  let tape: TapeNode[] = [];
  let value: tf.Scalar;
  try {
    value = tf.tidy(f);
    tape = engine.state.activeTape ?? [];
  } finally {
    engine.endTape();
  }
  if (!(value instanceof tf.Tensor) || value.rank !== 0)
    throw new Error(`leanGradients: f must return a scalar tensor, got ${describe(value)}`);
  try {
    const path = nodesOnPath(tape, xs, value);
    const grads = tf.tidy(() => backward(path, value, xs, !outerTape));
    return { value, grads };
  } finally {
    if (!outerTape) {
      for (const node of tape) for (const t of node.saved ?? []) t.dispose();
      engine.state.activeTape = null;
    }
  }
}

/** Walks `path` backwards from d value / d value = 1; returns the gradients of `xs`. */
function backward(
  path: readonly PathNode[],
  value: tf.Scalar,
  xs: readonly tf.Tensor[],
  release: boolean,
): (tf.Tensor | undefined)[] {
  const keep = new Set(xs.map((x) => x.id));
  const acc = new GradientMap();
  acc.set(value.id, tf.onesLike(value));
  for (let i = path.length - 1; i >= 0; i--) {
    const { node, inputs } = path[i];
    if (!node.gradient)
      throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
    const dxs = tf.tidy(() => {
      const fns = node.gradient!(dys);
      return inputs.map((name) => {
        if (!(name in fns))
          throw new Error(
            `Cannot backprop through input ${name} of ${node.kernelName}. Available gradients found: ${Object.keys(fns)}.`,
          );
        return fns[name]();
      });
    });
    inputs.forEach((name, k) => {
      const x = node.inputs[name];
      const dx = dxs[k];
      if (dx.dtype !== 'float32')
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`,
        );
      if (!tf.util.arraysEqual(dx.shape, x.shape))
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
        );
      acc.accumulate(x.id, dx);
    });
    // the outputs' gradients are complete and consumed: every node that reads an output comes later on the tape
    if (release) {
      for (const o of node.outputs) if (!keep.has(o.id)) acc.release(o.id);
      for (const t of node.saved ?? []) t.dispose();
    }
  }
  return xs.map((x) => acc.take(x.id));
}

/** Gradients by tensor id; a tensor object held under two ids (a gradient function may pass dy through) is freed last. */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();

  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }

  set(id: number, t: tf.Tensor): void {
    this.byId.set(id, t);
    this.holders.set(t, (this.holders.get(t) ?? 0) + 1);
  }

  /** Adds dx to the gradient of `id`; the partial sum and dx are freed unless held elsewhere. */
  accumulate(id: number, dx: tf.Tensor): void {
    const current = this.byId.get(id);
    if (!current) {
      this.set(id, dx);
      return;
    }
    const sum = tf.add(current, dx);
    this.release(id);
    this.set(id, sum);
    if (!this.holders.has(dx)) dx.dispose();
  }

  /** Forgets the gradient of `id`, freeing it unless it is held under another id. */
  release(id: number): void {
    const t = this.byId.get(id);
    if (!t) return;
    this.byId.delete(id);
    const n = (this.holders.get(t) ?? 1) - 1;
    if (n > 0) this.holders.set(t, n);
    else {
      this.holders.delete(t);
      t.dispose();
    }
  }

  /** The gradient of `id`, handed to the caller (not freed here). */
  take(id: number): tf.Tensor | undefined {
    const t = this.byId.get(id);
    if (!t) return undefined;
    this.byId.delete(id);
    const n = (this.holders.get(t) ?? 1) - 1;
    if (n > 0) this.holders.set(t, n);
    else this.holders.delete(t);
    return t;
  }
}

function describe(v: unknown): string {
  return v instanceof tf.Tensor ? `a tensor of shape [${v.shape}]` : typeof v;
}
