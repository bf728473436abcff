// The messages between the GradientPool (main thread) and its workers (worker.ts). A worker gets its
// ReplicaSpec as `workerData`, answers `ready`, then one `result` per work item of every `step` message, in the
// order the items were sent. Host arrays travel by structured clone; result buffers are transferred.
import type { HostBatch } from '../batch.js';
import type { ReplicaSpec } from './replica.js';

/** What a worker receives as `workerData`. */
export interface WorkerInit {
  spec: ReplicaSpec;
}

/** One micro-batch of an optimizer step, or one shard (a run of its rows) of a micro-batch: shard.ts. */
export interface WorkItem {
  /** Position of the item in its step (results are combined and summed in this order). */
  index: number;
  /** The host batch (its `docs` placements are not needed and may be empty). */
  batch: HostBatch;
  /** Seed of the expert routing (`routeForBatch`), the one the in-process path would use. */
  routeSeed: string;
  /**
   * A shard's step-expert index per token (B·T), cut from the route of its whole micro-batch, so it gets the
   * same question-token draws; when present it replaces `routeSeed`. MoTE only.
   */
  route?: Int32Array;
}

/** Main → worker. The trainable values of the step are in the shared buffer before this is posted. */
export interface StepMessage {
  type: 'step';
  /** Optimizer step, 1-based (error messages). */
  step: number;
  items: WorkItem[];
  /** Recompute blocks' activations in the backward (TrainConfig.activationCheckpointing). */
  activationCheckpointing: boolean;
}

/** The gradients of one micro-batch, on the host. */
export interface MicroResult {
  /** The WorkItem's index. */
  index: number;
  /**
   * Every trainable variable's gradient, concatenated in the spec's order (`ParamEntry.gradOffset`); zeros for the
   * missing ones. From a worker: a view of its shared array, which it overwrites in the next step.
   */
  grads: Float32Array;
  /** Trainable variables the loss does not reach (no gradient, as `namedGradients` leaves them out). */
  missing: string[];
  /** Per-token NLL (B·T). */
  nll: Float32Array;
  /** Mean NLL over the trained tokens. */
  loss: number;
  /** moe-topk balance loss (0 otherwise). */
  balance: number;
}

/** Worker → main. */
export type WorkerMessage =
  | { type: 'ready' }
  | ({ type: 'result'; step: number } & MicroResult)
  | { type: 'error'; step: number | null; message: string; stack?: string };
