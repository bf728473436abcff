// Entry point of one GradientPool worker thread: selects the main thread's backend (which registers the library's
// kernels in this thread), builds the replica, then for each step loads the trainable values and computes each
// work item's gradients exactly as the in-process trainer would (experts `batchRoute` + `batchGradients`; a shard
// with the route cut from its micro-batch's).
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { hostView } from '../../backend/kernels/js-kernel.js';
import { selectBackend } from '../../backend/select-node.js';
import { batchRoute } from '../../experts/kinds.js';
import { toTensors } from '../batch.js';
import { batchGradients } from '../step.js';
import type { MicroResult, StepMessage, WorkerInit, WorkerMessage, WorkItem } from './protocol.js';
import { buildReplica, type Replica, type ReplicaSpec, readTrainable } from './replica.js';

if (!parentPort)
  throw new Error('src/train/parallel/worker: run it as a worker thread (GradientPool starts it)');
const port = parentPort;
const { spec } = workerData as WorkerInit;
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

try {
  await selectBackend({ backend: spec.backend });
  const replica = buildReplica(spec);
  // steps arrive one at a time (the pool awaits each), so a promise chain keeps them in order
  let queue = Promise.resolve();
  port.on('message', (m: StepMessage) => {
    queue = queue.then(() =>
      runStep(spec, replica, m).catch((e) => post({ type: 'error', step: m.step, ...describe(e) })),
    );
  });
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'error', step: null, ...describe(e) });
}

/**
 * Gradient arrays on shared memory, one per work item of a step, reused step after step: a result passes the main
 * thread a view, not a copy, and no step allocates (and page-faults in) a new array of every trainable parameter.
 * The main thread is done with a step's arrays before it sends the next step.
 */
const gradArrays: Float32Array[] = [];

async function runStep(spec: ReplicaSpec, replica: Replica, m: StepMessage): Promise<void> {
  readTrainable(spec, replica);
  for (const [k, item] of m.items.entries()) {
    gradArrays[k] ??= new Float32Array(new SharedArrayBuffer(4 * spec.gradSize));
    const r = await gradients(spec, replica, item, m.activationCheckpointing, gradArrays[k]);
    post({ type: 'result', step: m.step, ...r }, [r.nll.buffer as ArrayBuffer]);
  }
}

/** One micro-batch: forward, backward, and every output read back to the host (the gradients into `grads`). */
async function gradients(
  spec: ReplicaSpec,
  replica: Replica,
  item: WorkItem,
  activationCheckpointing: boolean,
  grads: Float32Array,
): Promise<MicroResult> {
  const bt = toTensors(item.batch);
  const route = batchRoute(spec.experts?.config ?? null, item.batch, {
    seed: item.routeSeed,
    training: true,
    expertIds: item.route,
  });
  const out = batchGradients(
    replica.model,
    bt,
    route,
    replica.vars,
    spec.balanceWeight,
    activationCheckpointing,
  );
  route?.dispose();
  tf.dispose(Object.values(bt));
  const missing: string[] = [];
  for (const p of spec.params) {
    if (!p.trainable) continue;
    const g = out.grads[p.name];
    if (g)
      grads.set(hostView(g) ?? ((await g.data()) as Float32Array), p.gradOffset); // no copy on wasm and cpu
    else {
      missing.push(p.name);
      grads.fill(0, p.gradOffset, p.gradOffset + p.size); // a missing gradient is zeros (reduce.ts sums over them)
    }
  }
  const result: MicroResult = {
    index: item.index,
    grads,
    missing,
    nll: ((await out.nll.data()) as Float32Array).slice(),
    loss: (await out.loss.data())[0],
    balance: (await out.balance.data())[0],
  };
  tf.dispose([Object.values(out.grads), out.loss, out.nll, out.balance]);
  return result;
}

function describe(e: unknown): { message: string; stack?: string } {
  return e instanceof Error ? { message: e.message, stack: e.stack } : { message: String(e) };
}
