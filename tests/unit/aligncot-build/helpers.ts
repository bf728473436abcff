// Shared pieces of the aligncot-build tests: temp dirs, scripted prompts, reading an output file.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Prompt } from '../../../src/aligncot/build/index.js';
import type { Chain } from '../../../src/aligncot/chain.js';
import { parseChains } from '../../../src/aligncot/schema.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A fresh temp directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mote-build-'));
  dirs.push(d);
  return d;
}

/** A prompt whose question carries the fake server's script tag. */
export function scripted(key: string, script = ''): Prompt {
  return {
    id: key,
    question: `Question ${key}, please help. [[key=${key} ${script}]]`,
    source: { file: 't', line: 1 },
  };
}

/** The chains of an output file, validated against the schema (throws on any bad line). */
export async function readChains(path: string): Promise<Chain[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return parseChains(text, path, { onError: 'throw' }).chains;
}
