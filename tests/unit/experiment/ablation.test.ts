// A shortened ablation (2 variants, 4 chains, 2 steps of 2 chains each) on the real stories260K: the table has every
// column, the files are written, and two runs with the same seed give the same table up to the wall-clock column.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvalRecords } from '../../../src/eval/record.js';
import { type AblationOptions, runAblation } from '../../../src/experiment/ablation.js';
import { ABLATION_COLUMNS, writeAblation } from '../../../src/experiment/ablation-report.js';
import { withoutTiming } from '../../../src/experiment/ablation-result.js';
import { selectVariants } from '../../../src/experiment/variants.js';
import { ROOT, STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

const SHORT: AblationOptions = {
  model: STORIES_BIN,
  tokenizer: TOK512_BIN,
  chains: `${ROOT}examples/data/chains.jsonl`,
  evalPrompts: `${ROOT}examples/data/eval-prompts.jsonl`,
  variants: ['mote', 'sft-answers'],
  seed: 7,
  limitChains: 4,
  limitHeldOut: 3,
  maxSteps: 2,
  train: { batchSize: 2, microBatchSize: 2, warmupSteps: 0 },
  promptsPerClass: 2,
  maxTokensPerStage: 6,
};

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The Markdown table without its last (wall-clock) column. */
const withoutTimeColumn = (md: string) =>
  md
    .split('\n')
    .map((l) => (l.startsWith('|') ? l.replace(/\|[^|]*\|$/, '|') : l))
    .join('\n');

describe('runAblation (shortened)', () => {
  it('writes the table with every column, identical across two runs with the same seed', async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'mote-ablation-'));
      dirs.push(dir);
      const events: string[] = [];
      const run = await runAblation({ ...SHORT, onEvent: (e) => events.push(e.type) });
      const paths = await writeAblation(run, dir);
      runs.push({ run, paths, events, md: await readFile(paths.markdown, 'utf8') });
    }

    const [a, b] = runs;
    expect(a.run.result.rows.map((r) => r.variant)).toEqual(['mote', 'sft-answers']);
    expect(withoutTiming(b.run.result)).toEqual(withoutTiming(a.run.result));
    expect(withoutTimeColumn(b.md)).toBe(withoutTimeColumn(a.md));
    const json = JSON.parse(await readFile(a.paths.json, 'utf8'));
    expect(withoutTiming(json)).toEqual(withoutTiming(a.run.result));

    const tableLines = a.md.split('\n').filter((l) => l.startsWith('| '));
    expect(tableLines).toHaveLength(3);
    expect(tableLines[0]).toBe(`| ${ABLATION_COLUMNS.join(' | ')} |`);
    for (const l of tableLines.slice(1)) expect(l.split(' | ')).toHaveLength(ABLATION_COLUMNS.length);
    expect(a.md).toContain('| MoTE | 94.45 |');

    const [mote, sft] = a.run.result.rows;
    expect(mote).toMatchObject({ steps: 2, stepSkipProb: 0.2, data: 'chains', trainChains: 4 });
    expect(mote.experts).toMatchObject({ kind: 'mote', shared: true, rank: 16 });
    expect(sft).toMatchObject({ steps: 2, stepSkipProb: 0, data: 'answers', paperHarm: null });
    expect(sft.experts).toMatchObject({ kind: 'lora', rank: 16 });
    expect(mote.trainableParameters).toBeGreaterThan(sft.trainableParameters);
    for (const r of a.run.result.rows) {
      expect(r.heldOut.loss).toBeGreaterThan(0);
      expect(r.heldOut.answer).toBeGreaterThan(0);
      expect(r.heldOut.answerWithoutChain).toBeGreaterThan(0);
      expect(r.eval.refusalOnHarmful.n).toBe(2);
      expect(r.eval.complianceOnBenign.n).toBe(2);
      expect(r.timing.trainSeconds).toBeGreaterThanOrEqual(0);
      expect(r.eval.distinctAnswers).toBeGreaterThanOrEqual(1);
    }
    expect(Object.keys(a.paths.variants)).toEqual(['mote', 'sft-answers']);
    expect(await readFile(a.paths.variants.mote, 'utf8')).toMatch(/MoTE/);
    const records = await readFile(join(a.paths.variants.mote, '..', 'mote.records.jsonl'), 'utf8');
    expect(parseEvalRecords(records, 'mote.records.jsonl')).toHaveLength(4);
    expect(a.events).toContain('variant-done');
  });

  it.each([
    [['mote', 'nope'], /variants\[1\] = "nope"; expected one of single-lora, .*sft-answers/],
    [['mote', 'mote'], /variants\[1\] = "mote"; expected each variant at most once/],
    [[], /variants = \[\]; expected a non-empty list/],
  ])('rejects variants %j with a clear message', (names, message) => {
    expect(() => selectVariants(names)).toThrow(message);
  });

  it('rejects bad options before loading anything', async () => {
    await expect(runAblation({ ...SHORT, limitChains: 0 })).rejects.toThrow(
      /limitChains = 0; expected an integer ≥ 1/,
    );
    await expect(runAblation({ ...SHORT, chains: '/nonexistent/chains.jsonl' })).rejects.toThrow(
      /nonexistent\/chains.jsonl/,
    );
  });
});
