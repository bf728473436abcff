// The continuous-batching scheduler on a fake row decoder (each row's "logits" are its last token and position, so
// jobs are deterministic and the scheduler's decisions visible): rows refilled as they free, jobs submitted while a
// batch runs join it, a job that throws fails alone, a decoder that throws fails every waiting job, the run ends
// when idle and a later submit starts another.
import { describe, expect, it } from 'vitest';
import { type BatchJob, ContinuousBatch } from '../../../src/generate/batch/continuous.js';
import type { Row, RowDecoder, RowFeed } from '../../../src/generate/batch/rows.js';

/** Rows are numbers; logits = [last token, position]. Logs every call. */
class FakeRows implements RowDecoder {
  log: string[] = [];
  private next = 0;
  private readonly pos = new Map<number, number>();
  disposed = 0;
  constructor(private readonly failAtStep = -1) {}
  async start(prompt: readonly number[]) {
    const row = this.next++;
    this.pos.set(row, prompt.length);
    this.log.push(`start ${row}`);
    return { row: row as unknown as Row, logits: Float32Array.of(prompt.at(-1)!, prompt.length) };
  }
  async step(feeds: readonly RowFeed[]) {
    if (this.log.filter((l) => l.startsWith('step')).length === this.failAtStep)
      throw new Error('device lost');
    this.log.push(`step ${feeds.map((f) => f.row).join(',')}`);
    return feeds.map((f) => {
      const r = f.row as unknown as number;
      this.pos.set(r, this.pos.get(r)! + 1);
      return Float32Array.of(f.id, this.pos.get(r)!);
    });
  }
  position(row: Row) {
    return this.pos.get(row as unknown as number)!;
  }
  end(row: Row) {
    this.pos.delete(row as unknown as number);
    this.log.push(`end ${row}`);
  }
  dispose() {
    this.disposed++;
  }
}

/** A job that feeds `n` tokens (100, 101, …) and records what it saw. */
function counting(n: number, seen: number[][] = []): BatchJob & { seen: number[][] } {
  let fed = 0;
  return {
    prompt: [1, 2],
    seen,
    advance(logits, position) {
      seen.push([logits[0], logits[1], position]);
      return fed < n ? { id: 100 + fed++ } : null;
    },
  };
}

describe('ContinuousBatch', () => {
  it('refills a freed row before the next step; each job sees its own logits and positions', async () => {
    const rows = new FakeRows();
    const batch = new ContinuousBatch(() => rows, 2);
    const jobs = [counting(1), counting(3), counting(2)];
    await Promise.all(jobs.map((j) => batch.submit(j)));
    expect(rows.log).toEqual([
      'start 0',
      'start 1',
      'step 0,1',
      'end 0', // job 0 fed its one token: done; job 2 starts in the freed row before the next step
      'start 2',
      'step 1,2',
      'step 1,2',
      'end 1',
      'end 2',
    ]);
    // job 1: the prompt's logits, then one per fed token, positions growing
    expect(jobs[1].seen).toEqual([
      [2, 2, 2],
      [100, 3, 3],
      [101, 4, 4],
      [102, 5, 5],
    ]);
    expect(rows.disposed).toBe(1);
  });

  it('jobs submitted while it runs join the running batch; an idle batch starts a new run on submit', async () => {
    let opened = 0;
    const batch = new ContinuousBatch(() => {
      opened++;
      return new FakeRows();
    }, 4);
    const first = batch.submit(counting(5));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const second = batch.submit(counting(1));
    await Promise.all([first, second]);
    expect(opened).toBe(1);
    await batch.submit(counting(1));
    expect(opened).toBe(2);
  });

  it('a job that throws fails alone; the others finish', async () => {
    const rows = new FakeRows();
    const batch = new ContinuousBatch(() => rows, 3);
    const bad: BatchJob = {
      prompt: [1],
      advance: (_, position) => {
        if (position > 2) throw new Error('non-finite logits');
        return { id: 5 };
      },
    };
    const results = await Promise.allSettled([
      batch.submit(counting(4)),
      batch.submit(bad),
      batch.submit(counting(2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('non-finite logits');
  });

  it('a decoder that throws fails every live and waiting job with its error', async () => {
    const batch = new ContinuousBatch(() => new FakeRows(1), 1);
    const results = await Promise.allSettled([batch.submit(counting(5)), batch.submit(counting(5))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason.message).toBe('device lost');
  });

  it('refuses a batch size that is not a positive integer', () => {
    expect(() => new ContinuousBatch(() => new FakeRows(), 0)).toThrow(
      /batchSize 0; expected a positive integer/,
    );
  });
});
