// `mote plot`: metrics JSONL → loss curves per split and step type, as SVG.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writeLossPlot } from '../../../src/run/metrics.js';
import { ROOT } from '../../helpers/index.js';

const exec = promisify(execFile);

/** Three train steps and two evaluations, as `mote train` writes them, then a torn last line. */
const METRICS = [
  { type: 'eval', split: 'eval', step: 0, loss: 3.2, byStage: { answer: 3.2 }, tokens: 10 },
  ...[1, 2, 3].map((step) => ({
    type: 'step',
    split: 'train',
    step,
    loss: 4 - step / 2,
    byStage: { analysis: 4.2 - step / 2, answer: 3.8 - step / 2 },
    balanceLoss: 0,
    lr: 1e-3,
    gradNorm: 1,
  })),
  { type: 'eval', split: 'eval', step: 3, loss: 2.9, byStage: { answer: 2.9 }, tokens: 10 },
]
  .map((r) => JSON.stringify(r))
  .join('\n')
  .concat('\n{"type":"step","spl');

describe('mote plot', () => {
  it('writes loss.svg next to the metrics by default (CLI)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-plot-'));
    const metrics = join(dir, 'metrics.jsonl');
    await writeFile(metrics, METRICS);
    const { stdout, stderr } = await exec(
      process.execPath,
      ['--import', 'tsx', `${ROOT}src/cli/main.ts`, 'plot', metrics, '--log-y'],
      { cwd: ROOT },
    );
    expect(stdout.trim()).toBe(join(dir, 'loss.svg'));
    expect(stderr).toMatch(/5 series, 13 points/);
    const svg = await readFile(join(dir, 'loss.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('loss (log)');
  });

  it('draws one series per split and step type: loss curves only, not lr or the balance loss', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-plot-'));
    const metrics = join(dir, 'metrics.jsonl');
    await writeFile(metrics, METRICS);
    const series = await writeLossPlot(metrics, join(dir, 'out.svg'), { title: 'run' });
    expect(series.map((s) => s.name)).toEqual([
      'eval loss',
      'eval answer',
      'train loss',
      'train analysis',
      'train answer',
    ]);
    expect(series.find((s) => s.name === 'train analysis')?.points).toEqual([
      [1, 3.7],
      [2, 3.2],
      [3, 2.7],
    ]);
    const svg = await readFile(join(dir, 'out.svg'), 'utf8');
    expect(svg.match(/<polyline/g)).toHaveLength(5);
    expect(svg).toContain('>train analysis</text>');
    expect(svg).toContain('>run</text>');
  });
});
