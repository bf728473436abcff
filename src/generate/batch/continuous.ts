// Continuous batching: sequences decoded together, up to `batchSize` at a time, one batched forward per token; a
// sequence that ends frees its row at once and the next waiting one starts in it (its prompt fed into that row while
// the others wait one step), instead of the batch running until its longest sequence ends. Jobs can be submitted
// while the batch runs (concurrent callers share it); a job's promise settles when its sequence ends.
//
// A job is a per-sequence state machine (staged generation's StagedSequence, plain generation's PlainSequence): the
// scheduler gives it the logits of its last token and the number of positions its sequence holds, and feeds the
// token it returns, under the expert it names; it decides, the scheduler only runs the model.
import type { ExpertName } from '../../steps.js';
import type { Row, RowDecoder, RowFeed } from './rows.js';

/** The next token of a sequence and the expert that routes it (absent: no routing). */
export interface JobFeed {
  id: number;
  expert?: ExpertName;
}

/** One sequence to decode. */
export interface BatchJob {
  readonly prompt: readonly number[];
  /** The expert of the prompt's tokens (absent: no routing). */
  readonly expert?: ExpertName;
  /** The token to feed after `logits` (the sequence holds `position` positions), or null when the sequence ends. */
  advance(logits: Float32Array, position: number): JobFeed | null;
}

interface Waiting {
  job: BatchJob;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Live extends Waiting {
  row: Row;
  /** The logits of the row's last token. */
  logits: Float32Array;
  /** What the job chose after those logits (undefined: not asked yet). */
  feed?: JobFeed;
}

/**
 * Lets other tasks run between steps (e.g. a caller whose job just ended submits its next one): a macrotask, so
 * that every pending promise callback runs first. setImmediate in Node; a page has none, and takes setTimeout.
 */
const yieldTurn = (): Promise<void> => {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  return new Promise<void>((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
};

export class ContinuousBatch {
  private readonly queue: Waiting[] = [];
  private running: Promise<void> | null = null;
  /** Forwards run since construction (tests, benchmarks). */
  steps = 0;

  /**
   * @param open makes the row decoder of one run (a run lasts while jobs are waiting or live; the next run opens a
   *   new one, so weights changed between runs are read again)
   */
  constructor(
    private readonly open: () => RowDecoder,
    readonly batchSize: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`ContinuousBatch: batchSize ${batchSize}; expected a positive integer`);
  }

  /** Queues a sequence; resolves when it has ended (rejects with its error, or the run's). */
  submit(job: BatchJob): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.kick();
    });
  }

  /** Starts a run unless one is going; a job queued as a run ends starts the next. */
  private kick(): void {
    this.running ??= this.run().finally(() => {
      this.running = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async run(): Promise<void> {
    await yieldTurn(); // let callers submit the rest of a burst before the first rows start
    const decoder = this.open();
    const live: Live[] = [];
    const leave = (x: Live) => {
      live.splice(live.indexOf(x), 1);
      decoder.end(x.row);
    };
    try {
      for (;;) {
        // fill the free rows and ask each new logits' row for its token; rows that end are refilled at once
        for (;;) {
          while (live.length < this.batchSize && this.queue.length > 0) {
            const w = this.queue.shift()!;
            try {
              live.push({ ...w, ...(await decoder.start(w.job.prompt, w.job.expert)) });
            } catch (e) {
              w.reject(e);
            }
          }
          let freed = false;
          for (const x of [...live]) {
            if (x.feed) continue;
            let feed: JobFeed | null;
            try {
              feed = x.job.advance(x.logits, decoder.position(x.row));
            } catch (e) {
              leave(x);
              x.reject(e);
              freed = true;
              continue;
            }
            if (feed) x.feed = feed;
            else {
              leave(x);
              x.resolve();
              freed = true;
            }
          }
          if (!freed || this.queue.length === 0) break;
        }
        if (live.length === 0) {
          if (this.queue.length === 0) return;
          continue;
        }
        const feeds: RowFeed[] = live.map((x) => ({ row: x.row, id: x.feed!.id, expert: x.feed!.expert }));
        const logits = await decoder.step(feeds);
        this.steps++;
        live.forEach((x, i) => {
          x.logits = logits[i];
          x.feed = undefined;
        });
        await yieldTurn();
      }
    } catch (e) {
      for (const x of live) x.reject(e);
      for (const w of this.queue.splice(0)) w.reject(e);
    } finally {
      decoder.dispose();
    }
  }
}
