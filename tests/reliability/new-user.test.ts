// Class 7: the README and the CLI as a new user meets them. The quickstart and the README's library example import
// the package by name and reach the bundled files through `bundledModel()` / `BUNDLED` (no repo-relative paths);
// every --model says it takes a Hugging Face directory, and one loads without --tokenizer; a .bin finds the
// tokenizer beside it; the demo keeps all 332 bundled chains (two bundled questions alone exceed stories260K's
// 512-token context: their middle is cut instead of the chain being dropped).
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import yargs, { type CommandModule } from 'yargs';
import { aligncotCommand } from '../../src/cli/commands/aligncot.js';
import { chatCommand } from '../../src/cli/commands/chat.js';
import { demoCommand } from '../../src/cli/commands/demo.js';
import { evalCommand } from '../../src/cli/commands/eval.js';
import { exportCommand } from '../../src/cli/commands/export.js';
import { generateCommand } from '../../src/cli/commands/generate.js';
import { infoCommand } from '../../src/cli/commands/info.js';
import { trainCommand } from '../../src/cli/commands/train.js';
import { loadChainSplit } from '../../src/experiment/setup.js';
import * as api from '../../src/index.js';
import { findTokenizer, loadBase, loadFiniteModel } from '../../src/run/base.js';
import { ROOT, STORIES_BIN, TOK512_BIN } from '../helpers/index.js';
import { makeRun } from '../unit/cli/run-fixture.js';
import { mote, tempDir } from './helpers.js';

afterEach(() => vi.restoreAllMocks());

/** Runs a command in-process (as main.ts registers it), its stdout and stderr silenced; returns what it printed. */
async function run(command: CommandModule<object, never>, args: string[]): Promise<string> {
  const printed: string[] = [];
  const keep = (s: unknown) => printed.push(String(s)) > 0;
  vi.spyOn(process.stdout, 'write').mockImplementation(keep);
  vi.spyOn(process.stderr, 'write').mockImplementation(keep);
  vi.spyOn(console, 'log').mockImplementation(keep);
  try {
    await yargs(args).command(command).strict().exitProcess(false).fail(false).parseAsync();
  } finally {
    vi.restoreAllMocks();
  }
  return printed.join('');
}

describe('the README and the quickstart', () => {
  it('import the package by name and find the bundled files through BUNDLED / bundledModel()', async () => {
    const quickstart = await readFile(join(ROOT, 'examples/quickstart.ts'), 'utf8');
    expect(quickstart).toMatch(/\} from 'mote-tfjs';/);
    expect(quickstart).not.toMatch(/\.\.\/src|models\/stories260K|examples\/data/);
    expect(quickstart).toMatch(/bundledModel\(\)/);
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const example = /## Library in 30 seconds\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(example).toMatch(/from 'mote-tfjs'/);
    expect(example).toMatch(/bundledModel\(\)/);
    expect(example).not.toMatch(/'models\/|'examples\//);
    expect(readme).not.toMatch(/to update with the bundled-files helper/);
    // what they use is exported, absolute and present
    expect(api.bundledModel()).toEqual({ model: api.BUNDLED.model, tokenizer: api.BUNDLED.tokenizer });
    for (const path of Object.values(api.BUNDLED)) {
      expect(isAbsolute(path)).toBe(true);
      await expect(readFile(path)).resolves.toBeInstanceOf(Buffer);
    }
  });
});

describe('--model takes a Hugging Face directory', () => {
  it.each([
    ['generate', generateCommand, ['generate'], '--model'],
    ['chat', chatCommand, ['chat'], '--model'],
    ['eval', evalCommand, ['eval'], '--model'],
    ['demo', demoCommand, ['demo'], '--model'],
    ['info', infoCommand, ['info'], '--model'],
    ['export', exportCommand, ['export'], '--base'],
    ['train', trainCommand, ['train'], '--base'],
    ['aligncot build', aligncotCommand, ['aligncot', 'build'], '--model-path'],
  ])('%s --help says so', async (_, command, args, flag) => {
    const help = (await run(command as CommandModule<object, never>, [...args, '--help'])).replace(
      /\s+/g,
      ' ',
    );
    expect(help).toMatch(new RegExp(`${flag} [^-]*\\.bin or (a )?(HF|Hugging Face)( model)? directory`));
  });

  it('an exported HF directory loads without --tokenizer (its own tokenizer.json, with the step tokens)', async () => {
    const dir = await tempDir('hf');
    const runDir = join(dir, 'run');
    await makeRun(runDir);
    const hf = join(dir, 'hf');
    await run(exportCommand as never, [
      'export',
      '--checkpoint',
      runDir,
      '--merged',
      'answer',
      '--format',
      'hf',
      '--out',
      hf,
      '--backend',
      'wasm',
    ]);
    const { model, tokenizer } = await loadFiniteModel(hf);
    expect([model.config.vocabSize, tokenizer.vocabSize]).toEqual([518, 518]); // tok512 would not fit it
    model.dispose();
    const [generated, info] = await Promise.all([
      mote([
        'generate',
        '--model',
        hf,
        '--prompt',
        'Once upon a time',
        '--max-tokens',
        '8',
        '--temperature',
        '0',
        '--backend',
        'wasm',
      ]),
      mote(['info', '--model', hf, '--backend', 'wasm']),
    ]);
    expect(generated.code, generated.stderr).toBe(0);
    expect(generated.stdout).toMatch(/^Once upon a time/);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout).model.vocabSize).toBe(518); // described from its config.json
  });

  it('a llama2.c .bin finds tokenizer.bin beside it; alone, the error says to name it', async () => {
    const dir = await tempDir('beside');
    await mkdir(join(dir, 'a'));
    await mkdir(join(dir, 'b'));
    await copyFile(STORIES_BIN, join(dir, 'a', 'model.bin'));
    await copyFile(TOK512_BIN, join(dir, 'a', 'tokenizer.bin'));
    await copyFile(STORIES_BIN, join(dir, 'b', 'model.bin'));
    expect(await findTokenizer(join(dir, 'a', 'model.bin'))).toBe(join(dir, 'a', 'tokenizer.bin'));
    expect(await findTokenizer(STORIES_BIN)).toBe(TOK512_BIN);
    await expect(findTokenizer(join(dir, 'b', 'model.bin'))).rejects.toThrow(
      /model\.bin: a llama2\.c checkpoint needs its tokenizer, and there is no tokenizer\.bin or tokenizer\.json beside it; name it \(--tokenizer FILE\)/,
    );
  });
});

describe('the demo data', () => {
  it('keeps all 332 bundled chains: the two whose question alone exceeds the context are cut in the question', async () => {
    const { model, tokenizer } = await loadBase(api.bundledModel());
    try {
      const split = await loadChainSplit(api.BUNDLED.chains, tokenizer, model.config.maxSeqLen, 0);
      expect(split.train.length + split.heldOut.length).toBe(332);
      expect(split.report.dropped).toEqual([]);
      const cut = split.report.truncated.filter((t) => t.truncation.questionTokens);
      expect(cut.map((t) => t.id).sort()).toEqual(['alpaca-18', 'alpaca-39']);
      // the answer is whole, the question keeps its start (the instruction), and the chain fits
      const chain = [...split.train, ...split.heldOut].find((e) => e.id === 'alpaca-39')!;
      expect(chain.ids.length).toBeLessThanOrEqual(512);
      const text = tokenizer.decode([...chain.ids, chain.targets.at(-1)!]);
      expect(text).toContain('Extract all the country names');
      expect(text).toContain('Jamaica, United Kingdom, Britain, United States');
      const dropped = await loadChainSplit(api.BUNDLED.chains, tokenizer, model.config.maxSeqLen, 0, 'drop');
      expect(dropped.report.dropped.map((d) => d.id).sort()).toEqual(['alpaca-18', 'alpaca-39']); // the cause
    } finally {
      model.dispose();
    }
  });
});
