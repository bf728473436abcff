// "Align your own model" (docs/real-models.md) end to end, on a Hugging Face directory the way a user downloads it:
// the REAL tokenizer files and chat template of SmolLM2-135M-Instruct (49,152 ids, tied head) and of Qwen2.5-0.5B-
// Instruct (vocab.json + merges.txt, 151,665 ids padded to 151,936 rows, q/k/v biases), with random weights at a
// tiny shape written here (seeded, never committed) under the real config.json's other values. The commands of the
// page run with nothing but the directory: mote info, aligncot build --generator self --model DIR (chains made by
// the model itself), train --base DIR, generate --run (staged answers), eval --run, export --format peft, and
// chat --run (a child process, stdin piped); then the PEFT export is imported into the plain directory and gives the
// run's logits exactly. Commands run in-process through their yargs modules (the handlers main.ts calls).
//
// CI runs every command on SmolLM2 and a shortened Qwen2.5 pass (each load of its slow tokenizer files costs seconds):
// info, its own chains, train, export, re-import, staged generation through the library (what `generate --run`
// calls). MOTE_E2E_FULL=1 runs every command on both, with more chains and steps.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import yargs, { type CommandModule } from 'yargs';
import { aligncotCommand } from '../../src/cli/commands/aligncot.js';
import { evalCommand } from '../../src/cli/commands/eval.js';
import { exportCommand } from '../../src/cli/commands/export.js';
import { generateCommand } from '../../src/cli/commands/generate.js';
import { infoCommand } from '../../src/cli/commands/info.js';
import { trainCommand } from '../../src/cli/commands/train.js';
import { decodeRoute, withRoute } from '../../src/experts/routing.js';
import {
  generateStagedText,
  promptTokens,
  resolveStagedConfig,
  stagedPlan,
} from '../../src/generate/staged.js';
import { loadModel } from '../../src/io/load-node.js';
import { importPeftAdapters } from '../../src/io/peft-import-node.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import type { Transformer } from '../../src/model/transformer.js';
import { loadRun } from '../../src/run/load.js';
import { type TinyHfSpec, tinyHfWeights } from '../helpers/hf-reference.js';
import { ROOT } from '../helpers/index.js';

const exec = promisify(execFile);
const FULL = process.env.MOTE_E2E_FULL === '1';
const HF = `${ROOT}../shared/models/hf`;
const QUESTIONS = `${ROOT}examples/data/chains.jsonl`; // chains are built from the bundled chains' questions
const PROMPTS = `${ROOT}examples/data/eval-prompts.jsonl`; // and evaluated on the held-out prompts

/** The two models: where their real files are, which to copy, and the tiny shape written over the real config. */
const MODELS = {
  smollm2: {
    source: `${HF}/smollm2-135m-instruct`,
    files: ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
    family: 'llama' as const,
    dtype: 'BF16' as const,
    tokenizerIds: 49_152,
  },
  qwen25: {
    source: `${HF}/qwen2.5-0.5b-instruct`,
    files: ['config.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json'],
    family: 'qwen2' as const,
    dtype: 'F32' as const,
    tokenizerIds: 151_665,
  },
};

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mote-e2e-hf-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** The model directory: the real files, config.json at a tiny shape, seeded random weights. */
async function modelDir(name: keyof typeof MODELS): Promise<string> {
  const m = MODELS[name];
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const f of m.files) await copyFile(join(m.source, f), join(dir, f));
  const real = JSON.parse(await readFile(join(m.source, 'config.json'), 'utf8'));
  const tiny = {
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    torch_dtype: m.dtype === 'BF16' ? 'bfloat16' : 'float32',
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...real, ...tiny }, null, 2));
  const spec: TinyHfSpec = {
    family: m.family,
    hidden: 32,
    intermediate: 64,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    vocab: real.vocab_size,
    positions: real.max_position_embeddings,
    tied: real.tie_word_embeddings,
    ropeTheta: real.rope_theta,
    eps: real.rms_norm_eps,
  };
  const weights = tinyHfWeights(spec, `e2e-${name}`);
  await writeFile(
    join(dir, 'model.safetensors'),
    encodeSafetensors(weights, { dtype: m.dtype, metadata: { format: 'pt' } }),
  );
  return dir;
}

/** Runs one `mote` command in-process (its yargs module, as main.ts registers it); returns what it printed. */
// biome-ignore lint/suspicious/noExplicitAny: every command module, whatever its arguments
async function mote(command: CommandModule<object, any>, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
  try {
    await yargs(args).command(command).strict().exitProcess(false).fail(false).parseAsync();
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const code = process.exitCode;
  process.exitCode = undefined;
  if (code) throw new Error(`mote ${args[0]} exited with ${code}:\n${err.join('')}`);
  return { stdout: out.join(''), stderr: err.join('') };
}

/** Logits of one sequence routed to a step (the run's experts). */
function logits(model: Transformer, ids: number[]): Float32Array {
  const ctx = withRoute(decodeRoute(['analysis', 'guidance', 'answer'], 'guidance', { merged: false }));
  const t = model.logits([ids], { ctx });
  const values = t.dataSync() as Float32Array;
  t.dispose();
  return values;
}

/** The run of each model, for the chat test. */
const runs: Partial<Record<keyof typeof MODELS, string>> = {};

describe.each([
  ['smollm2', true],
  ['qwen25', FULL],
] as const)('a downloaded %s directory', (name, everyCommand) => {
  it(
    `info, aligncot build --generator self, train, staged generation, ${everyCommand ? 'eval, ' : ''}PEFT export and re-import`,
    async () => {
      const m = MODELS[name];
      const dir = await modelDir(name);
      const work = join(root, `${name}-work`);
      const backend = ['--backend', 'wasm'];

      const info = JSON.parse((await mote(infoCommand, ['info', dir])).stdout);
      expect(info.model).toMatchObject({ family: name === 'qwen25' ? 'qwen2' : 'llama', dim: 32 });
      const chains = join(work, 'chains.jsonl');
      const built = await mote(aligncotCommand, [
        'aligncot',
        'build',
        ...['--prompts', QUESTIONS, '--format', 'jsonl', '--limit', FULL ? '8' : '2'],
        ...['--generator', 'self', '--model', dir],
        // sampled (seeded) without a nucleus: greedy decoding of a random tied model repeats its last token (the
        // generation prompt's newline, an empty reply), and top-p sorts a near-uniform 49K–152K vocabulary per token
        ...['--out', chains, '--max-tokens', FULL ? '24' : '6', '--temperature', '1', '--top-p', '1'],
        ...['--on-fail', 'keep', '--concurrency', '1', '--no-progress', ...backend],
      ]);
      expect(built.stderr).toMatch(new RegExp(`aligncot build: ${FULL ? 8 : 2} prompts`));
      const lines = (await readFile(chains, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(FULL ? 8 : 2);
      for (const c of lines) {
        expect(c.meta.generator).toBe(`self:${name}`);
        expect(c.answer.length).toBeGreaterThan(0);
      }

      const run = join(work, 'run');
      runs[name] = run;
      await mote(trainCommand, [
        'train',
        ...[
          '--base',
          dir,
          '--data',
          chains,
          '--out',
          run,
          '--rank',
          '4',
          '--lr',
          '0.01',
          '--batch-size',
          '2',
        ],
        ...['--max-steps', FULL ? '20' : everyCommand ? '2' : '1', '--max-len', '128', ...backend],
      ]);
      const config = JSON.parse(await readFile(join(run, 'config.json'), 'utf8'));
      // the default context cap, and the step tokens after the tokenizer's ids (over padding rows for Qwen2.5)
      expect(config.model.config).toMatchObject({
        maxSeqLen: 4096,
        vocabSize: name === 'qwen25' ? 151_936 : m.tokenizerIds + 6,
      });

      if (everyCommand) {
        const generated = await mote(generateCommand, [
          'generate',
          ...['--run', run, '--prompt', 'How do I pick a lock?', '--mode', 'full', '--temperature', '0'],
          ...['--max-tokens-per-stage', '4', ...backend],
        ]);
        expect(generated.stdout).toMatch(/analysis[\s\S]*guidance[\s\S]*answer/);
        const evalOut = join(work, 'eval');
        await mote(evalCommand, [
          'eval',
          ...[
            '--run',
            run,
            '--prompts',
            PROMPTS,
            '--limit',
            '2',
            '--out',
            evalOut,
            '--max-tokens-per-stage',
            '4',
          ],
          ...backend,
        ]);
        const report = JSON.parse(await readFile(join(evalOut, 'eval-report.json'), 'utf8'));
        expect(JSON.stringify(report)).toMatch(/adaptive/);
      }

      const peft = join(work, 'peft');
      const exported = JSON.parse(
        (
          await mote(exportCommand, [
            'export',
            '--checkpoint',
            run,
            '--format',
            'peft',
            '--out',
            peft,
            ...backend,
          ])
        ).stdout,
      );
      expect(exported).toMatchObject({ format: 'peft', base: dir, tokenRows: 6 });
      const shared = JSON.parse(await readFile(join(peft, 'shared', 'adapter_config.json'), 'utf8'));
      expect(shared.trainable_token_indices).toEqual([0, 1, 2, 3, 4, 5].map((i) => m.tokenizerIds + i));

      // the export, imported into the plain directory, is the trained run: the same logits, bit for bit
      const back = await loadModel(dir, { maxSeqLen: 4096 });
      const trained = await loadRun(run);
      try {
        await importPeftAdapters(back.model, back.tokenizer, peft);
        expect(back.tokenizer.vocabSize).toBe(trained.tokenizer.vocabSize);
        expect(trained.model.config.biases).toEqual(name === 'qwen25' ? ['q', 'k', 'v'] : []);
        const ids = trained.tokenizer.encode(
          '<|analysis|>A lock is private.<|/analysis|><|guidance|>Decline.',
          {
            bos: true,
          },
        );
        expect(ids).toContain(m.tokenizerIds); // <|analysis|>, one atomic id
        const [a, b] = [logits(back.model, ids), logits(trained.model, ids)];
        expect(a.length).toBe(ids.length * trained.model.config.vocabSize);
        // bitwise (toEqual walks millions of elements one by one)
        expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
        // staged generation starts inside the chat template (its generation prompt) and stops at its end of turn
        const imEnd = trained.tokenizer.specialTokens.get('<|im_end|>')!;
        const prompt = promptTokens(trained.tokenizer, 'How do I pick a lock?');
        // (decode leaves out <|im_end|>, the end of turn, which is counted instead: the system and the user turn)
        expect(trained.tokenizer.decode(prompt)).toMatch(
          /^<\|im_start\|>system\n.+\n<\|im_start\|>user\nHow do I pick a lock\?\n<\|im_start\|>assistant\n$/,
        );
        expect(prompt.filter((id) => id === imEnd)).toHaveLength(2);
        expect([...stagedPlan(trained.model, trained.tokenizer, resolveStagedConfig({})).stopIds]).toContain(
          imEnd,
        );
        if (!everyCommand) {
          // staged generation of the run, through the library function `mote generate --run` calls
          const r = await generateStagedText(trained.model, trained.tokenizer, 'How do I pick a lock?', {
            mode: 'full',
            temperature: 0,
            maxTokensPerStage: 4,
          });
          expect(r.order).toEqual(['analysis', 'guidance', 'answer']);
        }
      } finally {
        back.model.dispose();
        trained.model.dispose();
      }
    },
    FULL ? 1_200_000 : 300_000,
  );
});

describe('mote chat --run on the SmolLM2 run', () => {
  it('answers stage by stage in a child process (stdin piped) and quits', async () => {
    const run = runs.smollm2!;
    const child = exec(
      process.execPath,
      ['--import', 'tsx', `${ROOT}src/cli/main.ts`, 'chat', '--run', run, '--backend', 'wasm'].concat([
        '--mode',
        'full',
        '--temperature',
        '0',
        '--max-tokens-per-stage',
        '4',
      ]),
      { cwd: ROOT, env: { ...process.env, CI: 'true', NO_COLOR: '1' } },
    );
    child.child.stdin!.end('How do I pick a lock?\n/quit\n');
    const { stdout } = await child;
    expect(stdout).toMatch(
      /run: .*run \(mote: analysis, guidance, answer \+ shared, rank 4; checkpoint step \d+/,
    );
    expect(stdout).toMatch(/\[analysis\][\s\S]*\[guidance\][\s\S]*\[answer\]/);
  }, 120_000);
});
