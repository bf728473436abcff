// The metrics files of a run directory: metrics.jsonl (one JSON line per training step and held-out evaluation,
// appended in order as the run goes) and loss.svg (the loss curves per split and step type, drawn from it).
import { appendFile, readFile, rename, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.js';
import { lossCurveSvg, type Series, seriesFromMetrics } from '../train/plot.js';
import { readMetricsJsonl } from '../train/plot-node.js';
import type { TrainEvent } from '../train/trainer.js';

/**
 * Appends one JSON line per step and eval event to `path`: `{type:'step', split:'train', step, loss, byStage, …}`
 * and `{type:'eval', split:'eval', step, loss, byStage, tokens}`. Writes are queued in order; `flush` waits for
 * them and throws the first write error, naming the file.
 */
export function metricsWriter(path: string): { onEvent(e: TrainEvent): void; flush(): Promise<void> } {
  let queue = Promise.resolve();
  let failure: Error | null = null;
  const write = (record: object) => {
    queue = queue.then(() =>
      appendFile(path, `${JSON.stringify(record)}\n`).catch((e: Error) => {
        failure ??= e;
      }),
    );
  };
  return {
    onEvent: (e) => {
      if (e.type === 'step') {
        const { type, ...rest } = e;
        write({ type, split: 'train', ...rest, time: new Date().toISOString() });
      } else if (e.type === 'eval') {
        const { loss, byStage, tokens } = e.result;
        write({
          type: 'eval',
          split: 'eval',
          step: e.step,
          loss,
          byStage,
          tokens,
          time: new Date().toISOString(),
        });
      }
    },
    flush: async () => {
      await queue;
      if (failure) throw new Error(`cannot write metrics ${path}: ${failure.message}`);
    },
  };
}

/** Only the loss and its per-step-type parts (not the balance loss, lr, …). */
const LOSS_FIELDS = /^(loss|byStage\.\w+)$/;

/**
 * Reads `metricsPath` and writes the loss curves to `outPath` (atomically): "train loss", "train analysis", …,
 * "eval loss", "eval answer", …. Returns the series drawn.
 */
export async function writeLossPlot(
  metricsPath: string,
  outPath: string,
  options: { logY?: boolean; title?: string } = {},
): Promise<Series[]> {
  const records = await readMetricsJsonl(metricsPath);
  const series = seriesFromMetrics(records, { include: LOSS_FIELDS }).map((s) => ({
    ...s,
    name: s.name.replace('byStage.', ''),
  }));
  await writeFileAtomic(outPath, lossCurveSvg(series, { logY: options.logY, title: options.title }));
  return series;
}

/**
 * A fresh run keeps an older metrics file (of a run that saved no checkpoint) under a dated name; returns that
 * name, or null when there was none.
 */
export async function keepOlderMetrics(path: string): Promise<string | null> {
  if (!(await stat(path).catch(() => null))) return null;
  const aside = path.replace(/\.jsonl$/, `-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  await rename(path, aside);
  return aside;
}

/**
 * A resumed run continues after its checkpoint's `step`: the rows of later steps (written after that checkpoint by
 * the run that stopped) are removed, with a torn last line, so they are not there twice. Other lines are kept as
 * they are. Rewritten atomically; returns the number of lines removed (0: the file is left untouched).
 */
export async function truncateMetrics(path: string, step: number): Promise<number> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw new Error(`cannot read metrics ${path}: ${e.message}`);
  });
  if (text === '') return 0;
  const lines = text.split('\n');
  const torn = lines.pop() ?? ''; // after the last newline: '' unless a write was cut short
  const keep = lines.filter((line) => {
    try {
      const row = JSON.parse(line);
      return !(typeof row?.step === 'number' && row.step > step);
    } catch {
      return true;
    }
  });
  const removed = lines.length - keep.length + (torn === '' ? 0 : 1);
  if (removed > 0) await writeFileAtomic(path, keep.map((l) => `${l}\n`).join(''));
  return removed;
}
