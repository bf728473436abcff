// The training loop: `train(model, data, config)` on next-token examples (example.ts: AlignCoT chains, or plain
// text windows) for any attached experts (experts/ decides their routing), or full fine-tuning when none are
// attached and the base is trainable. Seeded data order, gradient accumulation, warm-up + decay, clipping, AdamW,
// held-out evaluation, NaN stops, atomic checkpoints and exact resume; the gradients of a step come from this
// process, or from a worker pool when the Node entry's `train` (trainer-node.ts) opens one (gradients.ts). It
// prints nothing: progress is reported through `onEvent`.
import * as tf from '@tensorflow/tfjs';
import { describeMeasuredMemory, measureMemory } from '../backend/memory.js';
import { getExperts } from '../experts/attach.js';
import type { ExpertConfig } from '../experts/config.js';
import { adapterKind, auxLossWeight, checkpointable, describeExperts, shardable } from '../experts/kinds.js';
import {
  checkTrainingFits,
  estimateMemory,
  type MemoryOptions,
  WASM_HEAP_LIMIT_BYTES,
} from '../model/memory.js';
import type { Transformer } from '../model/transformer.js';
import { cleanupAfterFailure } from '../util/cleanup.js';
import { ConfigError, check } from '../util/errors.js';
import { type BatchOptions, batches, countBatches, type HostBatch } from './batch.js';
import { NonFiniteError } from './clip.js';
import { accumulationSteps, resolveTrainConfig, type TrainConfig } from './config.js';
import { type EvalResult, evaluate } from './evaluate.js';
import type { TrainData } from './example.js';
import {
  type GradientPath,
  type GradientPathOpener,
  type GradientSettings,
  type OpenedGradientPath,
  openLocalGradients,
} from './gradients.js';
import { AdamW } from './optimizer.js';
import type { ParallelOptions } from './parallel/pool.js';
import { shardsPerMicroBatch } from './parallel/shard.js';
import { learningRateAt } from './schedule.js';
import { type LossByStage, StageLoss } from './stats.js';

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
  /** Tokens per row; default: the longest example (at most the model's context). */
  seqLen?: number;
  /** 'pad' one example per row (default) or 'pack' several. */
  mode?: 'pad' | 'pack';
  /** Padding id. Default 0. */
  padId?: number;
  /** Batch examples of similar length together (less padding, see batch.ts). Default true. */
  groupByLength?: boolean;
  /** Stop after this many optimizer steps (smoke runs, CI); the schedule still spans the full run. */
  maxSteps?: number;
  /**
   * Bytes the run may use: `train` refuses before its first step, with a MemoryRefusedError naming what to lower,
   * when the memory estimate (model/memory.ts) exceeds them. Default: the 4 GiB heap on wasm (an abort there loses
   * the process), no limit on other backends (bounded by the machine, which can page); false: no check.
   */
  memoryLimit?: number | false;
  /** Checkpointing (and resume when `resume` is true). */
  checkpointer?: Checkpointer;
  resume?: boolean;
  /** Abort (e.g. Ctrl-C): the loop saves a checkpoint and returns. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
  /** Worker pool settings when the run uses workers (timeout, a callback receiving the pool): parallel/pool.ts. */
  parallel?: ParallelOptions;
  /**
   * Where the gradients are computed. Default: in this process, one micro-batch after the other (the only way in
   * a page: run `train` in a Web Worker to keep the page responsive). The Node entry's `train` opens a pool of
   * worker threads when `workers` asks for more than one (parallel/open.ts).
   */
  gradients?: GradientPathOpener;
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
  const seqLen = checkData(model, data, options.seqLen);
  const vars = trainableByName(model);
  if (vars.size === 0)
    throw new Error(
      'train: the model has no trainable variables (attach experts, or setBaseTrainable(true) for full fine-tuning)',
    );
  const experts = getExperts(model)?.config ?? null;
  if (c.activationCheckpointing && !checkpointable(experts))
    throw new ConfigError(
      'activationCheckpointing',
      true,
      `false with ${describeExperts(experts)} (its routers' balance loss is taken over the whole forward, which a recomputed block would count again)`,
    );
  // a worker holds its share of a micro-batch in a heap of its own (parallel/shard.ts splits one when there are
  // fewer micro-batches than workers); 'auto' is resolved later, so it is estimated as one worker
  const shards =
    typeof c.workers === 'number' ? shardsPerMicroBatch(experts, c.workers, accumulationSteps(c)) : 1;
  const rows = Math.ceil(c.microBatchSize / shards);
  const memory = {
    ...memoryOptions(experts, vars, seqLen, rows),
    activationCheckpointing: c.activationCheckpointing,
  };
  const limit = options.memoryLimit ?? (tf.getBackend() === 'wasm' ? WASM_HEAP_LIMIT_BYTES : false);
  if (limit !== false) {
    check(Number.isFinite(limit) && limit > 0, 'memoryLimit', limit, 'a positive number of bytes, or false');
    const backend = tf.getBackend() === 'wasm' ? 'wasm' : 'cpu'; // cpu: the estimate without the wasm heap's overhead
    const where = rows < c.microBatchSize ? `train (each of ${c.workers} workers: ${rows} rows)` : 'train';
    checkTrainingFits(model.config, memory, limit, where, backend);
  }
  const settings: GradientSettings = {
    vars,
    experts,
    auxWeight: auxLossWeight(experts),
    clipNorm: c.clipNorm,
    activationCheckpointing: c.activationCheckpointing,
  };

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
  const optimizer = new AdamW(vars, { betas: c.betas, eps: c.eps, weightDecay: c.weightDecay });
  // the moments (and a worker pool the gradient path started) are freed when train returns or throws; checkpoints
  // keep them for a resume. A free that fails after a failure (a dead wasm heap) does not replace it (util/cleanup.ts).
  let opened: OpenedGradientPath | null = null;
  const free = async () => {
    await opened?.[Symbol.asyncDispose]();
    optimizer.dispose();
  };
  let result: TrainResult;
  try {
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

    // where each step's gradients are computed (gradients.ts): in this process, or replicas in worker threads when
    // the opener starts a pool (stopped when train returns or throws; one given by the caller is left running)
    let trainTokens = 0;
    for (const e of data.train) trainTokens += e.ids.length;
    opened = await (options.gradients ?? openLocalGradients)({
      model,
      settings,
      workers: c.workers,
      workload: {
        backend: tf.getBackend(),
        dropout: experts?.dropout ?? 0,
        parameters: model.parameterCount(),
        tokensPerStep: (trainTokens / microPerEpoch) * accum,
        rows: c.batchSize,
        microBatches: accum,
        splittable: shardable(experts),
      },
      parallel: options.parallel,
    });
    const path: GradientPath = opened.path;
    const workers = { workers: opened.workers, reason: opened.reason };
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
      const dir = await options.checkpointer.save(pos, optimizer);
      emit({ type: 'checkpoint', step: pos.step, path: dir });
    };
    const step = (group: HostBatch[], epoch: number) =>
      optimizerStep({ path, optimizer, c, step: pos.step, totalSteps, lastStep, emit }, group, epoch);

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
          lastLoss = await step(group, epoch).catch((e) => {
            throw explainBackendFailure(e, pos.step + 1, group, model, memory);
          });
          pos = { step: pos.step + 1, epoch, microInEpoch: pos.microInEpoch + group.length };
          group = [];
          // on cpu and wasm, tensor reads resolve as microtasks: yield to the event loop once per step so signal
          // handlers (Ctrl-C → abort → checkpoint), timers, file writes and a page's messages run during training
          await new Promise((resolve) => setTimeout(resolve, 0));
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
    result = { position: pos, loss: lastLoss, eval: evalResult, stopped };
  } catch (e) {
    await cleanupAfterFailure(e, free);
    throw e;
  }
  await free();
  return result;
}

/** The row length of a run (the longest example unless given); throws when the data does not fit the model. */
function checkData(model: Transformer, data: TrainData, given: number | undefined): number {
  if (data.train.length === 0)
    throw new Error('train: the training set is empty (no examples survived encoding?)');
  let longest = 0;
  for (const e of [...data.train, ...(data.eval ?? [])]) longest = Math.max(longest, e.ids.length);
  const seqLen = given ?? Math.min(longest, model.config.maxSeqLen);
  if (seqLen > model.config.maxSeqLen)
    throw new Error(`train: seqLen ${seqLen} exceeds the model's context ${model.config.maxSeqLen}`);
  if (longest > seqLen)
    throw new Error(
      `train: an example has ${longest} tokens, more than seqLen ${seqLen}; encode with a smaller maxLen`,
    );
  return seqLen;
}

/** What one optimizer step needs of its run. */
interface StepContext {
  path: GradientPath;
  optimizer: AdamW;
  c: Readonly<TrainConfig>;
  /** Optimizer steps taken before this one. */
  step: number;
  totalSteps: number;
  lastStep: number;
  emit: (e: TrainEvent) => void;
}

/**
 * Accumulates the gradients of `group` (averaged), checks, and applies one AdamW step with global-norm clipping's
 * coefficient; returns the loss.
 */
async function optimizerStep(ctx: StepContext, group: HostBatch[], epoch: number): Promise<number> {
  const { c, step } = ctx;
  const start = performance.now();
  const stats = new StageLoss();
  let balance = 0;
  let tokens = 0;
  const record = (batch: HostBatch, nll: Float32Array, aux: number) => {
    stats.add(batch, nll);
    balance += aux / group.length;
    tokens += batch.docIds.reduce((n, d) => n + (d >= 0 ? 1 : 0), 0);
  };
  const { grads, gradNorm, gradScale } = await ctx.path.compute(
    step + 1,
    group,
    (m) => `${c.seed}:${step}:${m}`,
    record,
  );
  const loss = stats.mean();
  if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
    tf.dispose(Object.values(grads));
    throw new NonFiniteError(
      Number.isFinite(loss) ? 'grad norm' : 'loss',
      Number.isFinite(loss) ? gradNorm : loss,
      step + 1, // the step being taken, as its 'step' event would number it
    );
  }
  const lr = learningRateAt(step, {
    learningRate: c.learningRate,
    warmupSteps: c.warmupSteps,
    totalSteps: ctx.totalSteps,
    schedule: c.schedule,
    minLrRatio: c.minLrRatio,
  });
  ctx.optimizer.applyGradients(grads, lr, gradScale);
  tf.dispose(Object.values(grads));
  const ms = performance.now() - start;
  ctx.emit({
    type: 'step',
    step: step + 1,
    totalSteps: ctx.lastStep,
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

/** What the memory estimate needs of a run: its experts, trainable parameters and micro-batch shape. */
function memoryOptions(
  experts: Readonly<ExpertConfig> | null,
  vars: Map<string, tf.Variable>,
  seqLen: number,
  batchSize: number,
): Partial<MemoryOptions> {
  const trainableParameters = [...vars.values()].reduce((n, v) => n + v.size, 0);
  if (!experts) return { seqLen, batchSize, trainableParameters, targets: [] };
  return {
    seqLen,
    batchSize,
    trainableParameters,
    rank: experts.rank,
    targets: experts.targets,
    expertsPerToken: adapterKind(experts).expertsPerToken(experts),
  };
}

/**
 * A wasm abort (heap exhausted, or a C++ assertion) becomes an error that says what was measured when it happened
 * (the heap's size, RSS), the estimate for the micro-batch, and what to change.
 */
function explainBackendFailure(
  e: unknown,
  step: number,
  group: HostBatch[],
  model: Transformer,
  memory: Partial<MemoryOptions>,
): unknown {
  const message = (e as Error)?.message ?? '';
  if (tf.getBackend() !== 'wasm' || !/Aborted|memory access out of bounds|Out of memory/i.test(message))
    return e;
  const shapes = group.map((b) => `${b.B}×${b.T}`).join(', ');
  const widest = group.reduce((m, b) => (b.B * b.T > m.B * m.T ? b : m), group[0]);
  const est = estimateMemory(model.config, { ...memory, seqLen: widest.T, batchSize: widest.B }).backends.wasm
    .training.total;
  const measured = measureMemory();
  const full = (measured.wasmHeapBytes ?? 0) >= 0.9 * WASM_HEAP_LIMIT_BYTES;
  const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  return new Error(
    `the wasm backend aborted at step ${step} (micro-batches ${shapes}): ${full ? 'out of memory, its heap is at the limit' : 'its heap is below the limit, so probably not out of memory'}. Measured then: ${describeMeasuredMemory(measured)}; the heap cannot exceed ${gib(WASM_HEAP_LIMIT_BYTES)}; the estimate for a ${widest.B}×${widest.T} micro-batch was ${gib(est)} (mote info gives its parts). To use less memory, lower microBatchSize or seqLen (the chains' maxLen). The wasm backend cannot continue in this process; resume from the last checkpoint.`,
    { cause: e },
  );
}
