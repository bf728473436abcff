// The training loop: `train(model, data, config)` for any attached variant (single LoRA, double rank, moe-topk,
// MoTE with or without shared expert), or full fine-tuning when no experts are attached and the base is trainable.
// Seeded data order, gradient accumulation, warm-up + decay, clipping, AdamW, held-out evaluation, NaN stops,
// atomic checkpoints and exact resume. It prints nothing: progress is reported through `onEvent`.
import * as tf from '@tensorflow/tfjs';
import { type BatchOptions, batches, countBatches, type HostBatch, toTensors } from '../aligncot/batch.js';
import type { EncodedChain } from '../aligncot/encode.js';
import { getExperts } from '../experts/attach.js';
import type { Transformer } from '../model/transformer.js';
import { check } from '../util/errors.js';
import { clipByGlobalNorm, NonFiniteError } from './clip.js';
import { accumulationSteps, resolveTrainConfig, type TrainConfig } from './config.js';
import { type EvalResult, evaluate } from './evaluate.js';
import { AdamW } from './optimizer.js';
import { resolveWorkers } from './parallel/auto.js';
import { GradientPool, type ParallelOptions } from './parallel/pool.js';
import { gradsFromHost } from './parallel/replica.js';
import { meanGradient, stepGradients } from './parallel/shard.js';
import { learningRateAt } from './schedule.js';
import { type LossByStage, StageLoss } from './stats.js';
import { batchGradients, routeForBatch } from './step.js';

export interface TrainData {
  train: readonly EncodedChain[];
  /** Held-out chains for the evaluation loss (optional). */
  eval?: readonly EncodedChain[];
}

/** Where the run is in its data: enough to resume exactly. */
export interface TrainPosition {
  /** Optimizer steps taken. */
  step: number;
  epoch: number;
  /** Micro-batches of `epoch` already consumed. */
  microInEpoch: number;
}

export type TrainEvent =
  | {
      type: 'start';
      totalSteps: number;
      stepsPerEpoch: number;
      trainableParameters: number;
      seqLen: number;
      /** Worker threads computing the gradients (1: in-process), and why (`set`, or `auto: …`: parallel/auto.ts). */
      workers: number;
      workersReason: string;
      resumedFrom?: number;
    }
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      byStage: LossByStage;
      balanceLoss: number;
      lr: number;
      gradNorm: number;
      tokensPerSec: number;
      ms: number;
    }
  | { type: 'eval'; step: number; result: EvalResult }
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'stopped'; step: number; reason: 'signal' }
  | { type: 'done'; step: number; ms: number };

/** Saves and restores run state; `checkpointer.ts` provides the file-based one. */
export interface Checkpointer {
  save(position: TrainPosition, optimizer: AdamW): Promise<string>;
  /** Restores variables and optimizer state from the latest checkpoint; null when there is none. */
  restore(optimizer: AdamW): Promise<TrainPosition | null>;
}

export interface TrainOptions {
  /** Tokens per row; default: the longest chain (at most the model's context). */
  seqLen?: number;
  /** 'pad' one chain per row (default) or 'pack' several. */
  mode?: 'pad' | 'pack';
  /** Padding id. Default 0. */
  padId?: number;
  /** Batch chains of similar length together (less padding, see aligncot/batch.ts). Default true. */
  groupByLength?: boolean;
  /** Stop after this many optimizer steps (smoke runs, CI); the schedule still spans the full run. */
  maxSteps?: number;
  /** Checkpointing (and resume when `resume` is true). */
  checkpointer?: Checkpointer;
  resume?: boolean;
  /** Abort (e.g. Ctrl-C): the loop saves a checkpoint and returns. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
  /** Worker pool settings when the run uses workers (timeout, a callback receiving the pool): parallel/pool.ts. */
  parallel?: ParallelOptions;
}

export interface TrainResult {
  position: TrainPosition;
  /** Loss of the last step. */
  loss: number;
  /** Final held-out evaluation, when eval data was given. */
  eval?: EvalResult;
  stopped: boolean;
}

/** Trainable variables by dotted name, in model order (the optimizer keys its moments by these names). */
export function trainableByName(model: Transformer): Map<string, tf.Variable> {
  return new Map([...model.namedVariables()].filter(([, v]) => v.trainable));
}

export async function train(
  model: Transformer,
  data: TrainData,
  config: Partial<TrainConfig> = {},
  options: TrainOptions = {},
): Promise<TrainResult> {
  const c = resolveTrainConfig(config);
  if (data.train.length === 0)
    throw new Error('train: the training set is empty (no chains survived encoding?)');
  let longest = 0;
  for (const e of [...data.train, ...(data.eval ?? [])]) longest = Math.max(longest, e.ids.length);
  const seqLen = options.seqLen ?? Math.min(longest, model.config.maxSeqLen);
  if (seqLen > model.config.maxSeqLen)
    throw new Error(`train: seqLen ${seqLen} exceeds the model's context ${model.config.maxSeqLen}`);
  if (longest > seqLen)
    throw new Error(
      `train: a chain has ${longest} tokens, more than seqLen ${seqLen}; encode with a smaller maxLen`,
    );
  const vars = trainableByName(model);
  if (vars.size === 0)
    throw new Error(
      'train: the model has no trainable variables (attach experts, or setBaseTrainable(true) for full fine-tuning)',
    );

  const accum = accumulationSteps(c);
  const batchOptions = (epoch: number): BatchOptions => ({
    batchSize: c.microBatchSize,
    seqLen,
    mode: options.mode ?? 'pad',
    seed: c.seed,
    epoch,
    stepSkipProb: c.stepSkipProb,
    padId: options.padId ?? 0,
    trim: true,
    groupByLength: options.groupByLength ?? true,
  });
  const microPerEpoch = countBatches(data.train, batchOptions(0));
  const stepsPerEpoch = Math.ceil(microPerEpoch / accum);
  const totalSteps = stepsPerEpoch * c.epochs;
  const lastStep = Math.min(totalSteps, options.maxSteps ?? totalSteps);
  const balanceWeight =
    getExperts(model)?.config.kind === 'moe-topk' ? (getExperts(model)?.config.balanceLossWeight ?? 0) : 0;
  const optimizer = new AdamW(vars, { betas: c.betas, eps: c.eps, weightDecay: c.weightDecay });
  // the moments are freed when train returns or throws (checkpoints keep them for a resume)
  using _moments = { [Symbol.dispose]: () => optimizer.dispose() };
  const emit = options.onEvent ?? (() => {});
  const evalOptions = {
    batchSize: c.microBatchSize,
    seqLen,
    mode: options.mode ?? 'pad',
    padId: options.padId ?? 0,
  };

  let pos: TrainPosition = { step: 0, epoch: 0, microInEpoch: 0 };
  const restored =
    options.resume && options.checkpointer ? await options.checkpointer.restore(optimizer) : null;
  if (restored) pos = restored;
  // workers > 1: each step's micro-batch gradients are computed by replicas in worker threads (parallel/pool.ts);
  // a pool started here is stopped when train returns or throws, one given by the caller is left running.
  // 'auto' weighs the run (parallel/auto.ts).
  let trainTokens = 0;
  for (const e of data.train) trainTokens += e.ids.length;
  const given = options.parallel?.pool;
  if (given) {
    check(
      c.workers === 'auto' || c.workers === given.size,
      'workers',
      c.workers,
      `'auto' or ${given.size}, the size of the pool given in options.parallel.pool`,
    );
    await given.checkModel(model, balanceWeight);
  }
  const workers = given
    ? { workers: given.size, reason: 'the pool given in options.parallel.pool' }
    : resolveWorkers(c.workers, {
        backend: tf.getBackend(),
        dropout: getExperts(model)?.config.dropout ?? 0,
        parameters: model.parameterCount(),
        tokensPerStep: (trainTokens / microPerEpoch) * accum,
        rows: c.batchSize,
        microBatches: accum,
        splittable: getExperts(model)?.config.kind !== 'moe-topk',
      });
  await using owned =
    !given && workers.workers > 1
      ? await GradientPool.forModel(model, {
          workers: workers.workers,
          balanceWeight,
          timeoutMs: options.parallel?.timeoutMs,
        })
      : null;
  const pool = given ?? owned;
  if (pool) options.parallel?.onStart?.(pool);
  emit({
    type: 'start',
    totalSteps,
    stepsPerEpoch,
    trainableParameters: [...vars.values()].reduce((n, v) => n + v.size, 0),
    seqLen,
    workers: workers.workers,
    workersReason: workers.reason,
    resumedFrom: restored?.step,
  });

  const t0 = performance.now();
  let lastLoss = Number.NaN;
  const save = async () => {
    if (!options.checkpointer) return;
    const path = await options.checkpointer.save(pos, optimizer);
    emit({ type: 'checkpoint', step: pos.step, path });
  };

  let stopped = false;
  outer: for (let epoch = pos.epoch; epoch < c.epochs && pos.step < lastStep; epoch++) {
    const it = batches(data.train, batchOptions(epoch));
    for (let k = 0; k < pos.microInEpoch; k++) it.next(); // resume: skip consumed micro-batches
    let group: HostBatch[] = [];
    for (let r = it.next(); ; r = it.next()) {
      if (!r.done) group.push(r.value);
      const endOfEpoch = r.done === true;
      if (group.length < accum && !endOfEpoch) continue;
      if (group.length > 0) {
        lastLoss = await optimizerStep(group, epoch).catch((e) => {
          throw explainBackendFailure(e, pos.step + 1, group);
        });
        pos = { step: pos.step + 1, epoch, microInEpoch: pos.microInEpoch + group.length };
        group = [];
        // on cpu and wasm, tensor reads resolve as microtasks: yield to the event loop once per step so signal
        // handlers (Ctrl-C → abort → checkpoint), timers and file writes run during training
        await new Promise((resolve) => setImmediate(resolve));
        if (c.evalEvery > 0 && data.eval?.length && pos.step % c.evalEvery === 0 && pos.step < lastStep) {
          emit({ type: 'eval', step: pos.step, result: await evaluate(model, data.eval, evalOptions) });
        }
        if (options.signal?.aborted) {
          await save();
          emit({ type: 'stopped', step: pos.step, reason: 'signal' });
          stopped = true;
          break outer;
        }
        if (c.saveEvery > 0 && pos.step % c.saveEvery === 0 && pos.step < lastStep) await save();
        if (pos.step >= lastStep) break outer;
      }
      if (endOfEpoch) break;
    }
    pos = { step: pos.step, epoch: epoch + 1, microInEpoch: 0 };
  }

  let evalResult: EvalResult | undefined;
  if (!stopped) {
    await save();
    if (data.eval?.length) {
      evalResult = await evaluate(model, data.eval, evalOptions);
      emit({ type: 'eval', step: pos.step, result: evalResult });
    }
    emit({ type: 'done', step: pos.step, ms: performance.now() - t0 });
  }
  return { position: pos, loss: lastLoss, eval: evalResult, stopped };

  /** One micro-batch's gradients in this process. */
  function localGradients(batch: HostBatch, seed: string) {
    const bt = toTensors(batch);
    const route = routeForBatch(model, batch, seed, true);
    const out = batchGradients(model, bt, route, vars, balanceWeight);
    route?.dispose();
    tf.dispose(Object.values(bt));
    return out;
  }

  /** What a step's gradient path reports of each micro-batch. */
  type MicroStats = (batch: HostBatch, nll: Float32Array, balance: number) => void;

  /** The step's averaged, clipped gradients computed in this process (tensor ops); the caller disposes them. */
  async function localStepGradients(
    group: HostBatch[],
    routeSeed: (m: number) => string,
    record: MicroStats,
  ) {
    let sum: tf.NamedTensorMap | null = null;
    for (let m = 0; m < group.length; m++) {
      const out = localGradients(group[m], routeSeed(m));
      const prev: tf.NamedTensorMap | null = sum;
      // a variable that one micro-batch does not reach has no gradient there: keep the union of the keys
      sum = prev
        ? tf.tidy((): tf.NamedTensorMap => {
            const keys = new Set<string>([...Object.keys(prev), ...Object.keys(out.grads)]);
            return Object.fromEntries(
              [...keys].map((k): [string, tf.Tensor] => {
                const [a, b] = [prev[k], out.grads[k]];
                return [k, a && b ? tf.add(a, b) : tf.clone((a ?? b) as tf.Tensor)];
              }),
            );
          })
        : out.grads;
      if (prev) tf.dispose([Object.values(prev), Object.values(out.grads)]);
      record(group[m], (await out.nll.data()) as Float32Array, (await out.balance.data())[0]);
      tf.dispose([out.loss, out.nll, out.balance]);
    }
    const grads = sum!;
    const mean = tf.tidy(() =>
      Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.div(g, group.length)])),
    );
    tf.dispose(Object.values(grads));
    return clip(mean);
  }

  /** Global-norm clipping of the step's mean gradients (disposed); the caller disposes the clipped ones. */
  async function clip(mean: tf.NamedTensorMap) {
    const { clipped, norm } = tf.tidy('clip', () => {
      const r = clipByGlobalNorm(mean, c.clipNorm);
      return { clipped: r.grads, norm: r.norm };
    });
    if (c.clipNorm > 0) tf.dispose(Object.values(mean)); // with clipping off, the clipped gradients are these
    const gradNorm = (await norm.data())[0];
    norm.dispose();
    return { clipped, gradNorm };
  }

  /**
   * The same from a worker pool: the workers' results are combined and averaged on the host in micro-batch order
   * (so the result does not depend on which worker finished first), and uploaded once to be clipped. The workers
   * wait while this runs, so the host does the per-micro-batch sums the in-process path does with tensor ops.
   */
  async function remoteGradients(
    pool: GradientPool,
    group: HostBatch[],
    routeSeed: (m: number) => string,
    record: MicroStats,
  ) {
    // fewer micro-batches than workers: each is split into shards whose results combine into its own (shard.ts)
    const results = await stepGradients(
      pool,
      pos.step + 1,
      vars,
      group.map((batch, m) => ({ batch, routeSeed: routeSeed(m) })),
    );
    for (const [m, r] of results.entries()) record(group[m], r.nll, r.balance);
    const { grads, missing } = meanGradient(results);
    return clip(gradsFromHost(pool.spec, grads, missing));
  }

  /** Accumulates the gradients of `group` (averaged), clips, checks, and applies one AdamW step. */
  async function optimizerStep(group: HostBatch[], epoch: number): Promise<number> {
    const start = performance.now();
    const stats = new StageLoss();
    let balance = 0;
    let tokens = 0;
    /** Per-stage NLL, balance loss and token count of micro-batch `batch`. */
    const record = (batch: HostBatch, nll: Float32Array, batchBalance: number) => {
      stats.add(batch, nll);
      balance += batchBalance / group.length;
      tokens += batch.docIds.reduce((n, d) => n + (d >= 0 ? 1 : 0), 0);
    };
    const routeSeed = (m: number) => `${c.seed}:${pos.step}:${m}`;
    const { clipped, gradNorm } = pool
      ? await remoteGradients(pool, group, routeSeed, record)
      : await localStepGradients(group, routeSeed, record);
    const loss = stats.mean();
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      tf.dispose(Object.values(clipped));
      throw new NonFiniteError(
        Number.isFinite(loss) ? 'grad norm' : 'loss',
        Number.isFinite(loss) ? gradNorm : loss,
        pos.step,
      );
    }
    const lr = learningRateAt(pos.step, {
      learningRate: c.learningRate,
      warmupSteps: c.warmupSteps,
      totalSteps,
      schedule: c.schedule,
      minLrRatio: c.minLrRatio,
    });
    optimizer.applyGradients(clipped, lr);
    tf.dispose(Object.values(clipped));
    const ms = performance.now() - start;
    emit({
      type: 'step',
      step: pos.step + 1,
      totalSteps: lastStep,
      epoch,
      loss,
      byStage: stats.byStage(),
      balanceLoss: balance,
      lr,
      gradNorm,
      tokensPerSec: (tokens / ms) * 1000,
      ms,
    });
    return loss;
  }
}

/** A wasm abort (heap exhausted, or a C++ assertion) becomes an error that says what to change. */
function explainBackendFailure(e: unknown, step: number, group: HostBatch[]): unknown {
  const message = (e as Error)?.message ?? '';
  if (tf.getBackend() !== 'wasm' || !/Aborted|memory access out of bounds|Out of memory/i.test(message))
    return e;
  const shapes = group.map((b) => `${b.B}×${b.T}`).join(', ');
  return new Error(
    `the wasm backend aborted at step ${step} (micro-batches ${shapes}), most likely out of memory: its heap is at most 4 GiB and attention keeps B·heads·T² floats per layer for the backward pass; lower microBatchSize or the chains' maxLen. The wasm backend cannot continue in this process; resume from the last checkpoint.`,
    { cause: e },
  );
}
