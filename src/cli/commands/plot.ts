// `mote plot`: a metrics JSONL (as `mote train` writes it) → an SVG of the loss curves, per split and step type.
import { dirname, join } from 'node:path';
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { writeLossPlot } from '../../run/metrics.js';
import { checkWritableFile } from '../../util/writable.js';

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
    await checkWritableFile(out);
    const series = await writeLossPlot(a.metrics, out, { logY: a.logY, title: a.title });
    const points = series.reduce((n, s) => n + s.points.length, 0);
    process.stderr.write(`${series.length} series, ${points} points\n`);
    process.stdout.write(`${out}\n`);
  },
};
