// The recipe a worker rebuilds the model from (ReplicaSpec): the model and expert configs and every variable's
// value, laid out in one SharedArrayBuffer that all workers read. Before each step the main thread rewrites the
// trainable values there (`writeTrainable`) and each replica loads them (`readTrainable`), so replicas always
// hold exactly the main model's weights. Works for any model `train` accepts: random-init or loaded, with added
// token rows, experts of any kind, or full fine-tuning.
import * as tf from '@tensorflow/tfjs';
import { hostTensors, hostView } from '../../backend/kernels/js-kernel.js';
import { attachExperts, getExperts } from '../../experts/attach.js';
import type { ExpertConfig, MixKernelName } from '../../experts/config.js';
import type { ModelConfig } from '../../model/config.js';
import { Transformer } from '../../model/transformer.js';
import { reduceGradient, type WeightedGradient } from './reduce.js';

/** Where a variable lives in the shared buffer (and, when trainable, in a packed gradient array). */
export interface ParamEntry {
  /** Dotted name (`Transformer.namedVariables`). */
  name: string;
  /** 'base': built by `Transformer.fromWeights`; 'added': new token rows; 'adapter': created by attachExperts. */
  role: 'base' | 'added' | 'adapter';
  shape: number[];
  size: number;
  /** Offset in the shared buffer, in floats. */
  offset: number;
  trainable: boolean;
  /** Offset in a packed gradient array (MicroResult.grads), in floats; −1 when frozen. */
  gradOffset: number;
}

/** Everything a worker needs to build a bit-identical replica; structured-cloneable. */
export interface ReplicaSpec {
  /** The main thread's tfjs backend; each worker selects the same one. */
  backend: 'wasm' | 'cpu';
  /** The base model's config (vocabulary: the frozen embedding's rows). */
  model: Readonly<ModelConfig>;
  /** Token rows made trainable by `addTokens` (appended, or over padding rows). */
  addedTokens: number;
  /** The id of the first of them (`Transformer.addedStart`). */
  addedStart: number;
  /** Attached experts, with each layer's mixing kernel; null when none. */
  experts: { config: Readonly<ExpertConfig>; kernels: Record<string, MixKernelName | 'auto'> } | null;
  /** Weight of the moe-topk balance loss (0 otherwise), as the trainer uses it. */
  balanceWeight: number;
  params: ParamEntry[];
  /** Floats of a packed gradient array: the trainable sizes summed. */
  gradSize: number;
  /** Every variable's value (float32), at `ParamEntry.offset`. */
  buffer: SharedArrayBuffer;
}

/** A replica in a worker: the model and its trainable variables by name, in the spec's order. */
export interface Replica {
  model: Transformer;
  vars: Map<string, tf.Variable>;
}

// ---------------------------------------------------------------------------------------------------
// main thread

/**
 * Snapshots `model` into a spec. Throws when a replica could not reproduce the in-process computation: a
 * backend other than wasm/cpu (native or GPU backends are not for worker threads), a non-float32 variable, or
 * LoRA dropout (its masks come from per-layer call counters that only the main model advances, drawn over the
 * whole micro-batch: per-shard seeds would make the masks, so the results, depend on the worker count).
 */
export async function replicaSpec(model: Transformer, balanceWeight: number): Promise<ReplicaSpec> {
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu')
    throw new Error(
      `parallel training: workers run the wasm or cpu backend, but the active backend is '${backend}'; use workers: 1`,
    );
  const experts = getExperts(model);
  if (experts && experts.config.dropout > 0)
    throw new Error(
      `parallel training: LoRA dropout = ${experts.config.dropout} cannot be reproduced by worker replicas: each layer draws its masks over a whole micro-batch from its own call counter, which neither another thread nor a shard of the rows shares, so results would depend on the worker count; use workers: 1 or dropout 0 (workers 'auto' trains in-process when dropout is on)`,
    );
  const adapterNames = new Set<string>();
  for (const [path, layer] of experts?.layers ?? [])
    for (const k of layer.namedVariables().keys())
      if (k !== 'weight' && k !== 'bias') adapterNames.add(`${path}.${k}`); // weight and bias are the base's

  const params: ParamEntry[] = [];
  let offset = 0;
  let gradSize = 0;
  for (const [name, v] of model.namedVariables()) {
    if (v.dtype !== 'float32')
      throw new Error(`parallel training: variable ${name} is ${v.dtype}, expected float32`);
    const role = adapterNames.has(name)
      ? 'adapter'
      : name === 'addedEmbedding' || name === 'addedHead'
        ? 'added'
        : 'base';
    const gradOffset = v.trainable ? gradSize : -1;
    params.push({
      name,
      role,
      shape: [...v.shape],
      size: v.size,
      offset,
      trainable: v.trainable,
      gradOffset,
    });
    offset += v.size;
    if (v.trainable) gradSize += v.size;
  }
  const buffer = new SharedArrayBuffer(offset * 4);
  const view = new Float32Array(buffer);
  const vars = model.namedVariables();
  for (const p of params) view.set((await vars.get(p.name)!.data()) as Float32Array, p.offset);

  const addedTokens = model.addedEmbedding?.shape[0] ?? 0;
  return {
    backend,
    model: { ...model.config, vocabSize: model.embedding.shape[0] },
    addedTokens,
    addedStart: model.addedStart,
    experts: experts && {
      config: experts.config,
      kernels: Object.fromEntries([...experts.layers].map(([path, l]) => [path, l.kernel])),
    },
    balanceWeight,
    params,
    gradSize,
    buffer,
  };
}

/**
 * Why `model` is not the model `spec` was made from, or null when it is: same backend, experts, balance weight and
 * variables (names, shapes, trainability), and every frozen value still equal to the snapshot (replicas only
 * reload the trainable ones each step). Reads every frozen variable: a few ms per million parameters.
 */
export async function specMismatch(
  spec: ReplicaSpec,
  model: Transformer,
  balanceWeight: number,
): Promise<string | null> {
  if (spec.backend !== tf.getBackend())
    return `its workers run '${spec.backend}', the active backend is '${tf.getBackend()}'`;
  if (spec.balanceWeight !== balanceWeight)
    return `its balance loss weight is ${spec.balanceWeight}, the run's is ${balanceWeight}`;
  const experts = getExperts(model);
  const kernels = experts && Object.fromEntries([...experts.layers].map(([path, l]) => [path, l.kernel]));
  if (JSON.stringify(spec.experts) !== JSON.stringify(experts && { config: experts.config, kernels }))
    return 'the attached experts (kind, rank, step experts or mixing kernels) differ';
  const have = model.namedVariables();
  const layout = (name: string, shape: readonly number[], trainable: boolean) =>
    `${name}[${shape.join(',')}]${trainable ? '*' : ''}`;
  const theirs = spec.params.map((p) => layout(p.name, p.shape, p.trainable)).join(' ');
  const ours = [...have].map(([name, v]) => layout(name, v.shape, v.trainable)).join(' ');
  if (theirs !== ours) return 'the variables (names, shapes or trainability) differ';
  const view = new Float32Array(spec.buffer);
  for (const p of spec.params) {
    if (p.trainable) continue;
    const v = have.get(p.name)!;
    const values = hostView(v) ?? ((await v.data()) as Float32Array);
    for (let i = 0; i < p.size; i++)
      if (!Object.is(values[i], view[p.offset + i])) return `the frozen variable ${p.name} has changed`;
  }
  return null;
}

/** Copies the current values of the trainable variables `vars` (by name) into the shared buffer. */
export async function writeTrainable(
  spec: ReplicaSpec,
  vars: ReadonlyMap<string, tf.Variable>,
): Promise<void> {
  const view = new Float32Array(spec.buffer);
  for (const p of spec.params) {
    if (!p.trainable) continue;
    const v = vars.get(p.name);
    if (!v) throw new Error(`parallel training: trainable variable ${p.name} is missing from the model`);
    view.set(hostView(v) ?? ((await v.data()) as Float32Array), p.offset); // no copy on wasm and cpu
  }
}

/**
 * A step's mean gradient from its micro-batches' weighted sums of packed arrays (reduce.ts `reduceGradient`): the
 * gradient tensors by name (minus the names in `missing`; the caller owns them) and their global norm, summed in the
 * spec's order. On wasm and cpu the reduction writes straight into the tensors; the arrays are the workers', reused
 * next step, so no tensor aliases them.
 */
export function gradsFromHost(
  spec: ReplicaSpec,
  micro: readonly WeightedGradient[],
  missing: readonly string[] = [],
): { grads: tf.NamedTensorMap; norm: number } {
  const params = spec.params.filter((p) => p.trainable && !missing.includes(p.name));
  let ss = 0;
  const reduce = (views: Float32Array[]) =>
    params.forEach((p, i) => {
      ss = reduceGradient(micro, p.gradOffset, p.gradOffset + p.size, views[i], ss);
    });
  let tensors = hostTensors(
    params.map((p) => p.shape),
    reduce,
  );
  if (!tensors) {
    const arrays = params.map((p) => new Float32Array(p.size));
    reduce(arrays);
    tensors = arrays.map((a, i) => tf.tensor(a, params[i].shape, 'float32'));
  }
  return { grads: Object.fromEntries(params.map((p, i) => [p.name, tensors[i]])), norm: Math.sqrt(ss) };
}

/**
 * A tensor of `values` (a view of shared memory) that does not alias them: wasm copies a new tensor's values into
 * its heap at once, so the view is enough there; the cpu backend keeps the array it is given, so it gets a copy.
 */
function ownTensor(values: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(tf.getBackend() === 'wasm' ? values : values.slice(), shape, 'float32');
}

// ---------------------------------------------------------------------------------------------------
// worker

/** Builds the replica of `spec` on the active backend: base weights, added rows, experts, trainability. */
export function buildReplica(spec: ReplicaSpec): Replica {
  const view = new Float32Array(spec.buffer);
  const values = (p: ParamEntry) => view.subarray(p.offset, p.offset + p.size); // copied by ownTensor
  const weights = new Map<string, tf.Tensor>(
    spec.params.filter((p) => p.role === 'base').map((p) => [p.name, ownTensor(values(p), p.shape)]),
  );
  const model = Transformer.fromWeights(spec.model, weights, { trainable: false });
  if (spec.addedTokens > 0) model.addTokens(spec.addedTokens, spec.addedStart);
  if (spec.experts) {
    const experts = attachExperts(model, spec.experts.config);
    for (const [path, l] of experts.layers) l.kernel = spec.experts.kernels[path] ?? l.kernel;
  }
  const have = model.namedVariables();
  const names = (xs: Iterable<string>) => [...xs].join(', ');
  if (names(have.keys()) !== names(spec.params.map((p) => p.name)))
    throw new Error(
      `parallel training: the replica's variables [${names(have.keys())}] differ from the model's [${names(spec.params.map((p) => p.name))}]`,
    );
  for (const p of spec.params) {
    const v = have.get(p.name)!;
    if (p.role !== 'base') assignFrom(v, values(p), p.shape);
    v.trainable = p.trainable;
  }
  const vars = new Map(spec.params.filter((p) => p.trainable).map((p) => [p.name, have.get(p.name)!]));
  return { model, vars };
}

/** Loads the trainable values of the step from the shared buffer into the replica. */
export function readTrainable(spec: ReplicaSpec, replica: Replica): void {
  const view = new Float32Array(spec.buffer);
  for (const p of spec.params)
    if (p.trainable)
      assignFrom(replica.vars.get(p.name)!, view.subarray(p.offset, p.offset + p.size), p.shape);
}

function assignFrom(v: tf.Variable, values: Float32Array, shape: number[]): void {
  const t = ownTensor(values, shape);
  v.assign(t);
  t.dispose();
}
