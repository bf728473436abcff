// GradientPool: n worker threads, each with its own tfjs backend and a replica of the model (replica.ts), that
// compute the gradients of an optimizer step's micro-batches in parallel (data parallelism on one machine; the
// tfjs wasm backend runs one thread per process). Work item i (a micro-batch, or a shard of one: shard.ts) goes to
// worker i mod n, and results come back in item order whatever the timing, so the caller's reduction is
// deterministic.
// A worker that throws, exits, or does not answer within the timeout fails the pool with a WorkerFailedError
// naming the worker and the step; the pool then stops its other workers and every later call rejects.
import { Worker } from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs';
import type { Transformer } from '../../model/transformer.js';
import { check } from '../../util/errors.js';
import type { HostBatch } from '../batch.js';
import type { MicroResult, StepMessage, WorkerInit, WorkerMessage, WorkItem } from './protocol.js';
import { type ReplicaSpec, replicaSpec, specMismatch, writeTrainable } from './replica.js';

export interface GradientPoolOptions {
  /** Worker threads; an integer ≥ 1. */
  workers: number;
  /** Longest wait for a worker's next answer (start-up, or its next micro-batch), in ms. Default 600 000 (10 min). */
  timeoutMs?: number;
}

/** What `train` takes in `options.parallel` when `workers > 1`. */
export interface ParallelOptions {
  /** See GradientPoolOptions.timeoutMs. */
  timeoutMs?: number;
  /** Called with the pool once its workers are ready (monitoring, fault drills in tests). */
  onStart?: (pool: GradientPool) => void;
  /**
   * A pool to compute with instead of starting one: successive `train` calls on one model (interleaved runs,
   * benchmarks) then keep their workers, warm. Made by `GradientPool.forModel` for this model, whose frozen
   * weights and experts must not have changed since (checked); `workers` must be 'auto' or its size. The caller
   * disposes it.
   */
  pool?: GradientPool;
}

/** A worker crashed, exited, reported an error, or hung. The pool is unusable afterwards. */
export class WorkerFailedError extends Error {
  constructor(
    /** Index of the worker, 0-based. */
    readonly worker: number,
    /** Optimizer step being computed (1-based), or null when the worker failed at start-up or between steps. */
    readonly step: number | null,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'WorkerFailedError';
  }
}

const DEFAULT_TIMEOUT_MS = 600_000;

/** The script a Worker runs (a file URL, or code when `eval`). */
interface WorkerEntry {
  script: string | URL;
  eval: boolean;
}
const STDERR_TAIL = 2000;

interface Slot {
  readonly id: number;
  readonly worker: Worker;
  alive: boolean;
  /** Resolves when the thread has exited. */
  readonly exited: Promise<void>;
  /** The last characters the worker wrote to stderr (for error messages). */
  stderr: string;
  /** Receives the worker's messages while the pool waits for it. */
  waiter: { message(m: WorkerMessage): void; reject(e: Error): void } | null;
}

export class GradientPool {
  private failure: WorkerFailedError | null = null;
  private disposed = false;
  /** The step in flight, or null. */
  private step: number | null = null;
  private lastStep = 0;

  private constructor(
    readonly spec: ReplicaSpec,
    private readonly slots: Slot[],
    private readonly timeoutMs: number,
  ) {}

  /** Snapshots `model` (replica.ts) and starts a pool on it; resolves when every replica is built. */
  static async forModel(
    model: Transformer,
    options: GradientPoolOptions & { balanceWeight?: number },
  ): Promise<GradientPool> {
    return GradientPool.create(await replicaSpec(model, options.balanceWeight ?? 0), options);
  }

  /** Starts `options.workers` workers on `spec`; resolves when every replica is built, else rejects (and stops them). */
  static async create(spec: ReplicaSpec, options: GradientPoolOptions): Promise<GradientPool> {
    const { workers, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
    check(Number.isInteger(workers) && workers >= 1, 'workers', workers, 'an integer ≥ 1');
    check(Number.isFinite(timeoutMs) && timeoutMs > 0, 'timeoutMs', timeoutMs, 'a number of ms > 0');
    const entry = workerEntry();
    const slots: Slot[] = [];
    const pool = new GradientPool(spec, slots, timeoutMs);
    for (let id = 0; id < workers; id++) slots.push(pool.start(id, entry));
    try {
      await Promise.all(slots.map((s) => pool.listen(s, 1, () => {})));
    } catch (e) {
      await pool.dispose();
      throw e;
    }
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  /** Worker threads still running. */
  get liveWorkers(): number {
    return this.slots.filter((s) => s.alive).length;
  }

  /**
   * Gradients of the work items (micro-batches, or shards of them: shard.ts) of optimizer step `step` (1-based)
   * at the current values of `vars` (the trainable variables by name), one result per item, in item order; with
   * activation checkpointing in the workers when asked.
   */
  async gradients(
    step: number,
    vars: ReadonlyMap<string, tf.Variable>,
    items: readonly { batch: HostBatch; routeSeed: string; route?: Int32Array }[],
    activationCheckpointing = false,
  ): Promise<MicroResult[]> {
    this.usable();
    await writeTrainable(this.spec, vars);
    this.usable();
    const results: MicroResult[] = new Array(items.length);
    const n = this.slots.length;
    const work: WorkItem[] = items.map((it, index) => ({
      index,
      routeSeed: it.routeSeed,
      route: it.route,
      batch: { ...it.batch, docs: [] },
    }));
    this.step = step;
    await Promise.all(
      this.slots.map((slot) => {
        const mine = work.filter((w) => w.index % n === slot.id);
        if (mine.length === 0) return Promise.resolve();
        const done = this.listen(slot, mine.length, (m) => {
          if (m.type !== 'result' || m.step !== step)
            return this.fail(
              slot,
              `answered ${m.type} of step ${'step' in m ? m.step : '?'}, expected results of step ${step}`,
            );
          results[m.index] = m;
        });
        slot.worker.postMessage({
          type: 'step',
          step,
          items: mine,
          activationCheckpointing,
        } satisfies StepMessage);
        return done;
      }),
    );
    this.step = null;
    this.lastStep = step;
    return results;
  }

  /** Throws unless the pool's replicas are copies of `model` as it is now (replica.ts `specMismatch`). */
  async checkModel(model: Transformer, balanceWeight = 0): Promise<void> {
    this.usable();
    const why = await specMismatch(this.spec, model, balanceWeight);
    if (why) throw new Error(`parallel training: the pool given was not made for this model: ${why}`);
  }

  /** Stops worker `id` as a crash would (fault drills, tests): the pool fails with a WorkerFailedError. */
  async terminateWorker(id: number): Promise<void> {
    check(
      Number.isInteger(id) && id >= 0 && id < this.slots.length,
      'id',
      id,
      `a worker index in [0, ${this.slots.length})`,
    );
    await this.slots[id].worker.terminate();
  }

  /** Stops every worker and waits for their threads to exit. Idempotent. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const stopped = new Error('GradientPool: disposed while waiting for a worker');
    for (const s of this.slots) s.waiter?.reject(stopped);
    await Promise.all(
      this.slots.map((s) => {
        if (s.alive) void s.worker.terminate();
        return s.exited;
      }),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  // ------------------------------------------------------------------ internals

  private start(id: number, entry: WorkerEntry): Slot {
    const worker = new Worker(entry.script, {
      eval: entry.eval,
      workerData: { spec: this.spec } satisfies WorkerInit,
      stdout: true, // the library prints nothing: worker output is dropped, its stderr tail kept for errors
      stderr: true,
    });
    let exited!: () => void;
    const slot: Slot = {
      id,
      worker,
      alive: true,
      exited: new Promise((r) => (exited = r)),
      stderr: '',
      waiter: null,
    };
    worker.stdout.resume();
    worker.stderr
      .setEncoding('utf8')
      .on('data', (s: string) => (slot.stderr = (slot.stderr + s).slice(-STDERR_TAIL)));
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'error') this.fail(slot, `failed: ${m.message}`, m.stack);
      else if (slot.waiter) slot.waiter.message(m);
      else this.fail(slot, `sent an unexpected '${m.type}' message`);
    });
    worker.on('error', (e) => this.fail(slot, `threw: ${e.message}`, e.stack));
    worker.on('exit', (code) => {
      slot.alive = false;
      this.fail(slot, `exited with code ${code}`);
      exited();
    });
    return slot;
  }

  /** Waits for `count` messages of `slot`, each within the timeout; rejects when the pool fails. */
  private listen(slot: Slot, count: number, take: (m: WorkerMessage) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const arm = () =>
        setTimeout(() => this.fail(slot, `did not answer within ${this.timeoutMs} ms`), this.timeoutMs);
      let timer = arm();
      let left = count;
      slot.waiter = {
        message: (m) => {
          clearTimeout(timer);
          take(m);
          if (--left > 0) timer = arm();
          else {
            slot.waiter = null;
            resolve();
          }
        },
        reject: (e) => {
          clearTimeout(timer);
          slot.waiter = null;
          reject(e);
        },
      };
    });
  }

  /** Marks the pool failed (once), rejects every wait, and stops the remaining workers. */
  private fail(slot: Slot, detail: string, stack?: string): void {
    if (this.failure || this.disposed) return;
    const when =
      this.step !== null
        ? `during step ${this.step}`
        : this.lastStep > 0
          ? `between steps (after step ${this.lastStep})`
          : 'while starting';
    const tail = slot.stderr.trim() ? `; its stderr ends with: ${slot.stderr.trim()}` : '';
    const err = new WorkerFailedError(
      slot.id,
      this.step,
      `parallel training: worker ${slot.id} of ${this.slots.length} ${detail} ${when}${tail}`,
      stack ? { cause: Object.assign(new Error(detail), { stack }) } : undefined,
    );
    this.failure = err;
    for (const s of this.slots) s.waiter?.reject(err);
    for (const s of this.slots) if (s.alive) void s.worker.terminate(); // a hung or erring worker too
  }

  private usable(): void {
    if (this.failure) throw this.failure;
    if (this.disposed) throw new Error('GradientPool: used after dispose()');
  }
}

/**
 * How to start a worker: worker.js next to this module in dist/; from source (tsx, vitest) a small bootstrap that
 * registers tsx's ESM hooks inside the new thread, then imports worker.ts (on Node 20 neither `--import tsx` in
 * execArgv nor the parent's hooks reach a worker's imports).
 */
function workerEntry(): WorkerEntry {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return { script: new URL('./worker.js', self), eval: false };
  let tsxApi: string;
  try {
    tsxApi = import.meta.resolve('tsx/esm/api');
  } catch (e) {
    throw new Error(
      'parallel training from TypeScript sources loads src/train/parallel/worker.ts through tsx, which is not installed (npm i -D tsx); or run the built dist/',
      { cause: e },
    );
  }
  const entry = new URL('./worker.ts', self).href;
  return {
    script: `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`,
    eval: true,
  };
}
