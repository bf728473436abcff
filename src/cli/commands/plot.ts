// `mote plot`: a metrics JSONL (as `mote train` writes it) → an SVG of the loss curves, per split and step type.
import { dirname, join } from 'node:path';
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { writeFileAtomic } from '../../io/atomic.js';
import { lossCurveSvg, readMetricsJsonl, type Series, seriesFromMetrics } from '../../train/plot.js';

/** Only the loss and its per-step-type parts (not the moe balance loss, lr, …). */
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

type Args = ArgumentsCamelCase<{ metrics: string; out?: string; logY: boolean; title?: string }>;

export const plotCommand: CommandModule<object, Args> = {
  command: 'plot <metrics>',
  describe: 'plot the loss curves of a metrics JSONL (per step type) as SVG',
  builder: (y) =>
    y
      .positional('metrics', { type: 'string', demandOption: true, describe: 'metrics JSONL of mote train' })
      .options({
        out: { type: 'string', describe: 'SVG to write (default: loss.svg next to the metrics file)' },
        'log-y': { type: 'boolean', default: false, describe: 'logarithmic loss axis' },
        title: { type: 'string', describe: 'title above the plot' },
      }) as never,
  handler: async (a) => {
    const out = a.out ?? join(dirname(a.metrics), 'loss.svg');
    const series = await writeLossPlot(a.metrics, out, { logY: a.logY, title: a.title });
    const points = series.reduce((n, s) => n + s.points.length, 0);
    process.stderr.write(`${series.length} series, ${points} points\n`);
    process.stdout.write(`${out}\n`);
  },
};
