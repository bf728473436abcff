// An append-only JSONL log opened for resuming: the torn last line is cut off the real file, a whole one is
// completed, a missing file is empty.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repairJsonlLog } from '../../../src/util/jsonl-log.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-jsonl-log-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isJson = (line: string) => {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
};

describe('repairJsonlLog', () => {
  it('a missing file is an empty log', async () => {
    expect(await repairJsonlLog(join(dir, 'none.jsonl'))).toEqual({
      text: '',
      truncatedBytes: 0,
      completed: false,
    });
  });

  it('leaves a log of complete lines alone', async () => {
    const path = join(dir, 'clean.jsonl');
    await writeFile(path, '{"id":"a"}\n{"id":"b"}\n');
    expect(await repairJsonlLog(path, isJson)).toEqual({
      text: '{"id":"a"}\n{"id":"b"}\n',
      truncatedBytes: 0,
      completed: false,
    });
    expect(await readFile(path, 'utf8')).toBe('{"id":"a"}\n{"id":"b"}\n');
  });

  it('cuts a torn last line off the file (bytes, not characters)', async () => {
    const path = join(dir, 'torn.jsonl');
    const torn = '{"id":"é…';
    await writeFile(path, `{"id":"a"}\n${torn}`);
    const r = await repairJsonlLog(path, isJson);
    expect(r).toEqual({ text: '{"id":"a"}\n', truncatedBytes: Buffer.byteLength(torn), completed: false });
    expect(await readFile(path, 'utf8')).toBe('{"id":"a"}\n');
  });

  it('completes a whole last line that only lacks its line break, and passes its line number', async () => {
    const path = join(dir, 'whole.jsonl');
    await writeFile(path, '{"id":"a"}\n\n{"id":"b"}');
    const seen: number[] = [];
    const r = await repairJsonlLog(path, (line, n) => {
      seen.push(n);
      return isJson(line);
    });
    expect(seen).toEqual([3]);
    expect(r).toEqual({ text: '{"id":"a"}\n\n{"id":"b"}\n', truncatedBytes: 0, completed: true });
    expect(await readFile(path, 'utf8')).toBe('{"id":"a"}\n\n{"id":"b"}\n');
    // without a judge of wholeness, the unterminated line is cut
    await writeFile(path, '{"id":"a"}\n{"id":"b"}');
    expect((await repairJsonlLog(path)).truncatedBytes).toBe(10);
    expect(await readFile(path, 'utf8')).toBe('{"id":"a"}\n');
  });
});
