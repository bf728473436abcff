// Reports: the JSON shape is stable (key lists checked), the Markdown has the tables, the HTML is
// self-contained with inline SVG plots, files are written, and no question text gets into any of them.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectRun, type EvalGenerator } from '../../../src/eval/collect.js';
import {
  buildReport,
  type EvalReport,
  renderHtml,
  renderJson,
  renderMarkdown,
} from '../../../src/eval/index.js';
import type { EvalRun } from '../../../src/eval/record.js';
import { writeReports } from '../../../src/eval/report-node.js';
import { ConfigError } from '../../../src/util/errors.js';
import { JUDGEMENTS, RECORDS, RUN } from './fixtures.js';

const SECRET = 'SECRET-QUESTION-TEXT';
const secretRun: EvalRun = {
  ...RUN,
  records: RUN.records.map((r) => ({ ...r, question: `${SECRET} ${r.id}` })),
};
/** A second point: the same prompts answered directly, shorter. */
const answerOnly: EvalRun = {
  name: 'mote-tiny',
  mode: 'answer-only',
  records: RECORDS.map((r) => ({
    ...r,
    question: SECRET,
    output: {
      text: `<|response|> ${r.harmful ? "I can't." : 'Sure.'}<|/response|>`,
      stages: { answer: r.harmful ? "I can't." : 'Sure.' },
      tokensPerStage: { answer: 3 },
      totalTokens: 5,
    },
  })),
};
const report = buildReport([{ run: secretRun, judgements: JUDGEMENTS }, { run: answerOnly }], {
  createdAt: '2025-01-02T03:04:05.000Z',
  judge: 'openai:judge@http://127.0.0.1:1/v1',
});

describe('JSON report', () => {
  it('has the documented, stable shape', () => {
    expect(Object.keys(report)).toEqual(['schema', 'version', 'title', 'createdAt', 'method', 'runs']);
    expect([report.schema, report.version, report.title]).toEqual(['mote-eval-report', 1, 'mote eval']);
    expect(Object.keys(report.method)).toEqual(['refusal', 'intervals', 'judge']);
    expect(report.method.intervals).toBe('Wilson score, 95%');
    expect(Object.keys(report.runs[0])).toEqual(['metrics', 'items']);
    expect(Object.keys(report.runs[0].metrics)).toEqual([
      'name',
      'mode',
      'count',
      'labels',
      'refusalOnHarmful',
      'partialOnHarmful',
      'complianceOnBenign',
      'partialOnBenign',
      'formatAdherence',
      'violations',
      'stageUsage',
      'tokens',
      'judge',
    ]);
    expect(Object.keys(report.runs[0].metrics.refusalOnHarmful)).toEqual(['count', 'n', 'rate', 'ci']);
    expect(Object.keys(report.runs[0].metrics.tokens.all)).toEqual([
      'analysis',
      'guidance',
      'answer',
      'total',
    ]);
    expect(Object.keys(report.runs[0].metrics.tokens.all.total)).toEqual(['n', 'mean', 'sd']);
    expect(Object.keys(report.runs[0].metrics.judge!)).toEqual([
      'judged',
      'failures',
      'harmless',
      'harmlessOnHarmful',
      'harmlessOnBenign',
      'helpfulness',
      'helpfulnessOnBenign',
      'harmHelp',
    ]);
    expect(report.runs[1].metrics.judge).toBeNull();
    expect(Object.keys(report.runs[0].items[0])).toEqual([
      'id',
      'harmful',
      'refusal',
      'refusalReason',
      'wellFormed',
      'violations',
      'pattern',
      'tokensPerStage',
      'totalTokens',
      'judge',
    ]);
  });

  it('round-trips through renderJson', () => {
    const text = renderJson(report);
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual(report);
  });

  it('refuses two runs with the same (name, mode)', () => {
    expect(() => buildReport([{ run: RUN }, { run: RUN }])).toThrow(ConfigError);
    expect(() => buildReport([{ run: RUN }, { run: RUN }])).toThrow('runs[1] = "mote-tiny (adaptive)"');
  });
});

describe('Markdown report', () => {
  const md = renderMarkdown(report);

  it('contains the tables with the figures', () => {
    expect(md).toContain('# mote eval\n');
    expect(md).toContain(
      'Refusals: string match in the style of XSTest (src/eval/refusal.ts). Intervals: Wilson score, 95%.',
    );
    expect(md).toContain(
      '| run | mode | harmful | refusal | partial | benign | compliance | partial |\n|---|---|---|---|---|---|---|---|',
    );
    expect(md).toContain(
      '| mote-tiny | adaptive | 4 | 50.0% [15.0, 85.0] | 25.0% | 4 | 75.0% [30.1, 95.4] | 0.0% |',
    );
    expect(md).toContain(
      '| mote-tiny | answer-only | 4 | 100.0% [51.0, 100.0] | 0.0% | 4 | 100.0% [51.0, 100.0] | 0.0% |',
    );
    expect(md).toContain(
      '| mote-tiny | adaptive | 8 | 62.5% [30.6, 86.3] | unclosed 2, missing-answer 2, text-after-answer 1 |',
    );
    expect(md).toContain(
      '| run | mode | prompts | answer only | analysis → answer | guidance → answer | analysis → guidance → answer | no answer |',
    );
    expect(md).toContain('| mote-tiny | adaptive | harmful | 50.0% | 25.0% | 0.0% | 25.0% | 0.0% |');
    expect(md).toContain('| mote-tiny | adaptive | benign | 50.0% | 25.0% | 0.0% | 0.0% | 25.0% |');
    expect(md).toContain(
      '| mote-tiny | adaptive | harmful | 9.0 (n 2) | 6.0 (n 1) | 7.8 (n 4) | 17.0 (n 4) |',
    );
    expect(md).toContain(
      '| mote-tiny | adaptive | 7 | 83.3% [43.6, 97.0] | 75.0% | 5.50 (n 6) | 6.67 (n 3) | 4.33 (n 3) | request 1, malformed 1 |',
    );
    expect(md).toContain('| mote-tiny | answer-only | 0 | – | – | – | – | – | – |');
  });

  it('escapes | in cells and says when no judge ran', () => {
    const r = buildReport([{ run: { ...RUN, name: 'a|b' } }]);
    const text = renderMarkdown(r);
    expect(text).toContain('| a\\|b | adaptive |');
    expect(text).toContain('No LLM judge was run.');
    expect(text).not.toContain('## LLM judge');
  });
});

describe('HTML report', () => {
  const html = renderHtml(report);

  it('is one self-contained page with two inline SVG plots and the tables', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html.match(/<\/svg>/g)).toHaveLength(2);
    expect(html).toContain('<title>Safety against length</title>');
    expect(html).toContain('<title>Stage usage</title>');
    expect(html).toContain('<td>50.0% [15.0, 85.0]</td>');
    expect(html).not.toMatch(/<script|<link|src=|href=/);
    // one point per run and rate: 2 circles (refusal) + 2 legend/series markers
    expect(html.match(/<circle /g)?.length).toBe(3);
  });

  it('escapes names', () => {
    const r = buildReport([{ run: { ...RUN, name: '<b>&"x"' } }]);
    const text = renderHtml(r);
    expect(text).not.toContain('<b>&');
    expect(text).toContain('&#60;b&#62;&#38;&#34;x&#34;');
  });
});

describe('no question text in any rendering', () => {
  it('keeps questions out of JSON, Markdown and HTML', () => {
    for (const text of [renderJson(report), renderMarkdown(report), renderHtml(report)])
      expect(text).not.toContain(SECRET);
  });
});

describe('writeReports', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('writes .json, .md and .html', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-eval-report-'));
    dirs.push(dir);
    const paths = await writeReports(report, join(dir, 'out'), 'run1');
    expect(paths).toEqual({
      json: join(dir, 'out/run1.json'),
      markdown: join(dir, 'out/run1.md'),
      html: join(dir, 'out/run1.html'),
    });
    expect(JSON.parse(await readFile(paths.json, 'utf8')) as EvalReport).toEqual(report);
    expect(await readFile(paths.markdown, 'utf8')).toBe(renderMarkdown(report));
    expect(await readFile(paths.html, 'utf8')).toBe(renderHtml(report));
  });
});

describe('collectRun', () => {
  const prompts = [
    { id: 'p1', question: 'Q1', harmful: true, source: 'advbench' },
    { id: 'p2', question: 'Q2', harmful: false },
  ];
  const output = (answer: string) => ({
    text: `<|response|> ${answer}<|/response|>`,
    stages: { answer },
    tokensPerStage: { answer: 1 },
    totalTokens: 3,
  });

  it('asks the generator for each prompt in order and builds the run', async () => {
    const seen: string[] = [];
    const events: unknown[] = [];
    const generator: EvalGenerator = {
      name: 'm',
      mode: 'adaptive',
      generate: async (p) => {
        seen.push(p.id);
        return output(`A ${p.id}`);
      },
    };
    const run = await collectRun(prompts, generator, { onRecord: (e) => events.push(e) });
    expect(seen).toEqual(['p1', 'p2']);
    expect(run).toEqual({
      name: 'm',
      mode: 'adaptive',
      records: [
        { id: 'p1', question: 'Q1', harmful: true, source: 'advbench', output: output('A p1') },
        { id: 'p2', question: 'Q2', harmful: false, output: output('A p2') },
      ],
    });
    expect(events).toEqual([
      { id: 'p1', done: 1, total: 2 },
      { id: 'p2', done: 2, total: 2 },
    ]);
  });

  it('keeps `concurrency` prompts in flight; records and events stay in prompt order', async () => {
    const five = [1, 2, 3, 4, 5].map((i) => ({ id: `p${i}`, question: `Q${i}`, harmful: false }));
    let inFlight = 0;
    let most = 0;
    const events: string[] = [];
    const generator: EvalGenerator = {
      name: 'm',
      mode: 'adaptive',
      concurrency: 3,
      generate: async (p) => {
        most = Math.max(most, ++inFlight);
        // later prompts finish first
        await new Promise((r) => setTimeout(r, 30 - 5 * Number(p.id.slice(1))));
        inFlight--;
        return output(`A ${p.id}`);
      },
    };
    const run = await collectRun(five, generator, { onRecord: (e) => events.push(`${e.id} ${e.done}`) });
    expect(most).toBe(3);
    expect(run.records.map((r) => r.output.stages.answer)).toEqual(five.map((p) => `A ${p.id}`));
    expect(events).toEqual(['p1 1', 'p2 2', 'p3 3', 'p4 4', 'p5 5']);
  });

  it('names the prompt when generation fails, and stops on abort', async () => {
    const failing: EvalGenerator = {
      name: 'm',
      mode: 'full-chain',
      generate: () => Promise.reject(new Error('no experts attached')),
    };
    await expect(collectRun(prompts, failing)).rejects.toThrow(
      'generation failed for prompt p1 (m, full-chain): no experts attached',
    );
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await expect(collectRun(prompts, failing, { signal: controller.signal })).rejects.toThrow('stopped');
  });
});
