// The CLI reports every bad line of a chains file (up to a bound), not only the first.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChains } from '../../../src/aligncot/schema.js';
import { errorReport, MAX_LISTED_ERRORS } from '../../../src/cli/error-report.js';
import { SAMPLE_CHAINS } from '../../helpers/chains.js';
import { ROOT } from '../../helpers/index.js';

const exec = promisify(execFile);

/** A chains file: one good chain, then `bad` lines each missing its answer, and one line that is not JSON. */
function chainsWithBadLines(bad: number): string {
  const good = JSON.stringify(SAMPLE_CHAINS[0]);
  const missing = Array.from({ length: bad }, (_, i) => JSON.stringify({ id: `b${i}`, question: 'q' }));
  return [good, ...missing, '{oops'].join('\n');
}

/** The error parseChains throws for `text`. */
function thrown(text: string): Error {
  try {
    parseChains(text, 'c.jsonl', { onError: 'throw' });
  } catch (e) {
    return e as Error;
  }
  throw new Error('no error');
}

describe('errorReport', () => {
  it('prints the message, then every other bad line', () => {
    const report = errorReport(thrown(chainsWithBadLines(2))).split('\n');
    expect(report).toEqual([
      'mote: c.jsonl:2: answer: expected a non-empty string, got nothing (missing) (2 more error(s); 3 bad line(s) in all)',
      '  c.jsonl:3: answer: expected a non-empty string, got nothing (missing)',
      expect.stringMatching(/^ {2}c\.jsonl:4: expected a JSON object, got invalid JSON \(/),
    ]);
  });

  it(`lists at most ${MAX_LISTED_ERRORS} errors and counts the rest`, () => {
    const report = errorReport(thrown(chainsWithBadLines(30))).split('\n');
    expect(report).toHaveLength(MAX_LISTED_ERRORS + 1);
    expect(report[0]).toMatch(/^mote: c\.jsonl:2: .*\(30 more error\(s\); 31 bad line\(s\) in all\)$/);
    expect(report[MAX_LISTED_ERRORS - 1]).toMatch(/^ {2}c\.jsonl:21: answer: /);
    expect(report[MAX_LISTED_ERRORS]).toBe(`  … ${31 - MAX_LISTED_ERRORS} more error(s) not listed`);
  });

  it('prints other errors as their message', () => {
    expect(errorReport(new Error('x.bin: not found'))).toBe('mote: x.bin: not found');
  });
});

describe('mote train on a chains file with bad lines', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mote-bad-lines-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 1 and prints every bad line on stderr', async () => {
    const data = join(dir, 'chains.jsonl');
    await writeFile(data, chainsWithBadLines(3));
    const args = ['--import', 'tsx', `${ROOT}src/cli/main.ts`, 'train', '--data', data];
    const failed = await exec(process.execPath, [...args, '--out', join(dir, 'run'), '--backend', 'cpu'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', CI: 'true' },
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    const listed = failed?.stderr.split('\n').filter((l) => l.includes(`${data}:`));
    expect(listed?.map((l) => l.match(/chains\.jsonl:(\d+):/)?.[1])).toEqual(['2', '3', '4', '5']);
    expect(listed?.[0]).toMatch(/^mote: .*\(3 more error\(s\); 4 bad line\(s\) in all\)$/);
  });
});
