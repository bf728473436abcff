import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lossCurveSvg, type Series, seriesFromMetrics } from '../../../src/train/plot.js';
import { readMetricsJsonl } from '../../../src/train/plot-node.js';
import { FormatError } from '../../../src/util/errors.js';

/** Checks that tags nest and close properly (a small XML well-formedness test, no DTD). */
function expectBalancedXml(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)([^>]*?)(\/?)>/g)) {
    const [, closing, name, attrs, selfClosing] = m;
    expect(attrs.split('"').length % 2, `odd quotes in <${name}${attrs}>`).toBe(1);
    if (selfClosing) continue;
    if (closing) expect(stack.pop(), `</${name}>`).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
  expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/[<>]|&(?!amp;|lt;|gt;|quot;)/); // text is escaped
}

const series: Series[] = [
  {
    name: 'train loss',
    points: [
      [0, 4.2],
      [10, 3.1],
      [20, 2.5],
      [30, 2.2],
    ],
  },
  {
    name: 'eval lossByStep.analysis',
    points: [
      [10, 3.4],
      [30, 2.6],
    ],
  },
  { name: 'answer <&> "quoted"', points: [[20, 2.9]] },
];

describe('lossCurveSvg', () => {
  it('draws well-formed SVG with every series, axes, ticks and a legend', () => {
    const svg = lossCurveSvg(series, { title: 'MoTE fine-tuning' });
    expectBalancedXml(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('MoTE fine-tuning');
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(1); // the one-point series
    for (const name of ['train loss', 'eval lossByStep.analysis', 'answer &lt;&amp;&gt; &quot;quoted&quot;'])
      expect(svg.split(name).length - 1).toBe(2); // its curve's title and its legend entry
    for (const tick of ['>0<', '>10<', '>20<', '>30<', '>2.5<', '>3<', '>4<']) expect(svg).toContain(tick);
    expect(svg).toContain('>step<');
  });

  it('is deterministic', () => {
    expect(lossCurveSvg(series)).toBe(lossCurveSvg(structuredClone(series)));
  });

  it('puts decade ticks on a log axis and drops values it cannot draw', () => {
    const svg = lossCurveSvg(
      [
        {
          name: 'loss',
          points: [
            [1, 100],
            [2, 10],
            [3, 0.1],
            [4, 0],
            [5, Number.NaN],
            [6, Number.POSITIVE_INFINITY],
          ],
        },
      ],
      { logY: true },
    );
    expectBalancedXml(svg);
    for (const tick of ['>0.1<', '>1<', '>10<', '>100<']) expect(svg).toContain(tick);
    expect(svg).toContain('loss (log)');
    const points = /points="([^"]+)"/.exec(svg)![1].split(' ');
    expect(points).toHaveLength(3);
  });

  it('says so when there is nothing to draw', () => {
    const svg = lossCurveSvg([{ name: 'empty', points: [] }]);
    expectBalancedXml(svg);
    expect(svg).toContain('no data');
  });
});

describe('metrics files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mote-plot-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads JSONL, ignores a torn last line, and makes series per step type', async () => {
    const path = join(dir, 'metrics.jsonl');
    const lines = [
      { type: 'train', step: 1, loss: 3, lossByStep: { analysis: 3.2, answer: 2.8 }, lr: 1e-4 },
      { type: 'train', step: 2, loss: 2.5, lossByStep: { analysis: 2.6, answer: 2.4 }, lr: 1e-4 },
      { type: 'eval', step: 2, loss: 2.7 },
      { type: 'event', message: 'checkpoint' },
    ];
    await writeFile(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n\n{"type":"train","st`);
    const records = await readMetricsJsonl(path);
    expect(records).toEqual(lines);
    const s = seriesFromMetrics(records);
    expect(s).toEqual([
      {
        name: 'train loss',
        points: [
          [1, 3],
          [2, 2.5],
        ],
      },
      {
        name: 'train lossByStep.analysis',
        points: [
          [1, 3.2],
          [2, 2.6],
        ],
      },
      {
        name: 'train lossByStep.answer',
        points: [
          [1, 2.8],
          [2, 2.4],
        ],
      },
      { name: 'eval loss', points: [[2, 2.7]] },
    ]);
    expect(seriesFromMetrics(records, { include: /^lr$/ })).toEqual([
      {
        name: 'train lr',
        points: [
          [1, 1e-4],
          [2, 1e-4],
        ],
      },
    ]);
  });

  it('names the bad line', async () => {
    const path = join(dir, 'bad.jsonl');
    await writeFile(path, '{"step":1}\nnot json\n{"step":2}\n');
    await expect(readMetricsJsonl(path)).rejects.toThrow(FormatError);
    await expect(readMetricsJsonl(path)).rejects.toThrow(
      /bad\.jsonl:2: expected a JSON object, got invalid JSON/,
    );
    await writeFile(path, '[1,2]\n');
    await expect(readMetricsJsonl(path)).rejects.toThrow(
      /bad\.jsonl:1: expected a JSON object, got an array/,
    );
  });
});
