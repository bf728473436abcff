// What the fault-injection tests share: the real CLI as a child process, temp directories, the sample chains on disk,
// and faults written into real files (a NaN in a safetensors tensor, a NaN in a llama2.c weight).
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAMPLE_CHAINS } from '../helpers/chains.js';
import { ROOT, STORIES_BIN, TOK512_BIN } from '../helpers/index.js';

export const CLI = ['--import', 'tsx', `${ROOT}src/cli/main.ts`];
export const ENV = { ...process.env, NO_COLOR: '1', CI: 'true' };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mote …` to its end (any exit code), with optional stdin. */
export function mote(args: string[], options: { input?: string; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [...CLI, ...args],
      { cwd: options.cwd ?? ROOT, env: ENV, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(options.input ?? '');
  });
}

/** Starts `mote …` and returns the child (for signals). */
export function moteSpawn(args: string[]) {
  return spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: ENV });
}

export const tempDir = (name: string) => mkdtemp(join(tmpdir(), `mote-rel-${name}-`));

/** The eight sample chains as a JSONL file in `dir`. */
export async function writeChains(dir: string): Promise<string> {
  const path = join(dir, 'chains.jsonl');
  await writeFile(path, `${SAMPLE_CHAINS.map((c) => JSON.stringify(c)).join('\n')}\n`);
  return path;
}

/** Settings of a tiny, fast `mote train` on the sample chains (2 steps per epoch). */
export const trainFlags = (chains: string) => [
  '--data',
  chains,
  '--max-len',
  '64',
  '--batch-size',
  '4',
  '--lr',
  '1e-2',
  '--rank',
  '4',
  '--backend',
  'wasm',
];

/** Sets value `index` of tensor `name` of a safetensors file (F32) to `value` in place; returns the tensor name. */
export async function poisonSafetensors(path: string, name?: string, value = Number.NaN, index = 0) {
  const b = await readFile(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString());
  const key = name ?? Object.keys(header).find((k) => k !== '__metadata__')!;
  const [begin] = header[key].data_offsets as [number, number];
  b.writeFloatLE(value, 8 + n + begin + 4 * index);
  await writeFile(path, b);
  return key;
}

/**
 * stories260K with one NaN in `blocks.0.attnNorm.weight` (the first float after the token embedding table), written
 * to `dir`/model.bin with its tokenizer beside it as tokenizer.bin.
 */
export async function nanStories(dir: string): Promise<{ model: string; tokenizer: string }> {
  const b = await readFile(STORIES_BIN);
  const [dim, , , , , vocab] = [0, 1, 2, 3, 4, 5].map((i) => b.readInt32LE(4 * i));
  b.writeFloatLE(Number.NaN, 28 + Math.abs(vocab) * dim * 4);
  const model = join(dir, 'model.bin');
  const tokenizer = join(dir, 'tokenizer.bin');
  await writeFile(model, b);
  await copyFile(TOK512_BIN, tokenizer);
  return { model, tokenizer };
}

/** The JSON lines of a file. */
export async function jsonLines(path: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}
