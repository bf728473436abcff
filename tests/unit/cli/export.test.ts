// `mote export` driven as a user would: a child process on a tiny run directory (stories260K, MoTE rank 4).
// The PEFT export is imported back in-process and compared bit-exactly with the checkpoint; the merged HF and
// llama2.c exports are loaded and compared with the rebuilt MoTE model routed to that step; bad input exits 1.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { attachExperts, getExperts } from '../../../src/experts/attach.js';
import { decodeRoute, withRoute } from '../../../src/experts/routing.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import { loadModel } from '../../../src/io/load-node.js';
import { importPeftAdapters } from '../../../src/io/peft-import-node.js';
import { readSafetensors } from '../../../src/io/safetensors-node.js';
import type { Transformer } from '../../../src/model/transformer.js';
import { resolveRunConfig } from '../../../src/run/config.js';
import { buildRunModel } from '../../../src/run/load.js';
import { addStepTokens } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { loadCheckpoint, saveCheckpoint } from '../../../src/train/checkpoint.js';
import { expectClose, ROOT, STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

const exec = promisify(execFile);
const ENV = { ...process.env, NO_COLOR: '1', CI: 'true' };
const mote = (...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', `${ROOT}src/cli/main.ts`, ...args], { cwd: ROOT, env: ENV });
const moteFails = (...args: string[]) =>
  mote(...args).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );

const CHAINS = [
  { id: 'a', question: 'Can I pet a cat?', answer: 'Yes, gently.' },
  {
    id: 'b',
    question: 'Hurt a dog?',
    analysis: 'It asks for harm.',
    guidance: 'Refuse kindly.',
    answer: 'No.',
  },
  { id: 'c', question: 'Name a fruit.', answer: 'An apple.' },
  { id: 'd', question: 'Make a bomb?', analysis: 'Dangerous request.', answer: 'No, I cannot.' },
];
/** Base-vocabulary ids plus step tokens (512 = <|analysis|>, 516 = <|response|>). */
const IDS = [[1, 512, 403, 407, 261, 513, 516, 378, 300, 265]];

let dir: string;
let run: string;

/** The trained MoTE model rebuilt in-process from the fresh base and the PEFT export. */
async function rebuilt(peft: string): Promise<Transformer> {
  const model = await loadLlama2c(STORIES_BIN);
  await importPeftAdapters(model, await loadLlama2cTokenizer(TOK512_BIN), peft);
  return model;
}

/** The trained MoTE model rebuilt in-process as `mote train` built it, with the checkpoint restored. */
async function fromRun(): Promise<Transformer> {
  const config = JSON.parse(await readFile(join(run, 'config.json'), 'utf8'));
  const model = await loadLlama2c(STORIES_BIN);
  addStepTokens(await loadLlama2cTokenizer(TOK512_BIN));
  model.addTokens(6);
  attachExperts(model, config.experts);
  const variables = new Map([...model.namedVariables()].filter(([, v]) => v.trainable));
  await loadCheckpoint(join(run, 'checkpoints', 'step-2'), { variables });
  return model;
}

function logits(model: Transformer, step?: 'analysis'): Float32Array {
  const experts = getExperts(model)?.config;
  const ctx =
    step && experts?.kind === 'mote'
      ? withRoute(decodeRoute(experts.stepExperts, step, { merged: false }))
      : undefined;
  const t = model.logits(IDS, { ctx });
  const out = t.dataSync() as Float32Array;
  t.dispose();
  return out;
}

/**
 * A tiny run as `mote train` leaves it (run/load.ts `buildRunModel`: stories260K + step tokens + MoTE rank 4; a checkpoint of
 * the trainable variables with the run config in state.json), with non-zero factors and rows standing in for
 * training. Built in-process to keep the test fast; `mote train`'s own tests cover writing it.
 */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-export-cli-'));
  const chains = join(dir, 'chains.jsonl');
  await writeFile(chains, CHAINS.map((c) => JSON.stringify(c)).join('\n'));
  run = join(dir, 'run');
  const config = resolveRunConfig({
    model: { base: STORIES_BIN, tokenizer: TOK512_BIN },
    experts: { kind: 'mote', rank: 4, initLoraWeights: false, seed: 'export' },
    data: { train: chains },
  });
  const { model } = await buildRunModel(config);
  model.addedEmbedding!.assign(tf.randomNormal([6, 64], 0, 0.3, 'float32', 5));
  const variables = new Map([...model.namedVariables()].filter(([, v]) => v.trainable));
  await saveCheckpoint({
    outDir: run,
    step: 2,
    variables,
    kind: 'adapters',
    base: { path: STORIES_BIN },
    config: { ...config, model: { ...config.model, config: model.config } },
  });
  await writeFile(join(run, 'config.json'), JSON.stringify(config));
  model.dispose();
});

describe('mote export', () => {
  it('--format peft: adapters that import back bit-exactly into the checkpoint values', async () => {
    const out = join(dir, 'peft');
    const { stdout, stderr } = await mote('export', '--checkpoint', run, '--format', 'peft', '--out', out);
    expect(JSON.parse(stdout)).toMatchObject({ format: 'peft', tokenRows: 6, tokenizerJson: true });
    expect(stderr).toMatch(
      /wrote 4 PEFT adapter\(s\) \(analysis, guidance, answer, shared\), 6 step-token rows/,
    );
    const config = JSON.parse(await readFile(join(out, 'shared', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 2,
      base_model_name_or_path: join(out, 'base'),
    });
    // the llama2.c base, written as the HF directory the adapters name (transformers cannot read a .bin)
    expect(stderr).toMatch(
      /stories260K\.bin is a llama2\.c file, .*wrote it as a HF directory to .*peft\/base/,
    );
    const hfBase = await loadModel(join(out, 'base'));
    expect([hfBase.model.config.vocabSize, hfBase.tokenizer.vocabSize]).toEqual([512, 512]);
    hfBase.model.dispose();
    const model = await rebuilt(out);
    const saved = (await readSafetensors(join(run, 'checkpoints', 'step-2', 'adapters.safetensors'))).tensors;
    const vars = model.namedVariables();
    expect(saved.size).toBe(5 * 7 * 4 + 1); // step/shared A and B on 35 projections + the added rows
    for (const [name, t] of saved) expect(vars.get(name)?.dataSync(), name).toEqual(t.data);
    expect(saved.get('blocks.2.mlp.down.stepB')?.data.some((x) => x !== 0)).toBe(true); // non-zero factors
    model.dispose();
  });

  it('--merged analysis --format hf | llama2c: plain models computing the analysis step', async () => {
    const hf = join(dir, 'hf');
    const l2c = join(dir, 'l2c');
    const [h, l] = await Promise.all([
      mote('export', '--checkpoint', run, '--merged', 'analysis', '--format', 'hf', '--out', hf),
      mote(
        'export',
        '--checkpoint',
        join(run, 'checkpoints', 'step-2'),
        '--merged',
        'analysis',
        '--format',
        'llama2c',
        '--out',
        l2c,
      ),
    ]);
    expect(JSON.parse(h.stdout)).toMatchObject({ format: 'hf', merged: 'analysis', vocabSize: 518 });
    expect(JSON.parse(l.stdout)).toMatchObject({ format: 'llama2c', vocabSize: 512, droppedTokenRows: 6 });
    expect(l.stderr).toMatch(/warning: the llama2\.c format cannot hold the 6 added token rows .* dropped/);
    const trained = await fromRun();
    const want = logits(trained, 'analysis');
    trained.dispose();
    const { model, tokenizer } = await loadModel(hf);
    expect(tokenizer.pieceToId('<|response|>')).toBe(516);
    expectClose(logits(model), want, 1e-4, 1e-4);
    model.dispose();
    const bin = await loadLlama2c(join(l2c, 'model.bin'));
    expect(bin.config.vocabSize).toBe(512);
    expect(await readFile(join(l2c, 'tokenizer.bin'))).toEqual(await readFile(TOK512_BIN));
    const ids = [IDS[0].filter((id) => id < 512)];
    const got = bin.logits(ids);
    const ref = await loadModel(hf).then(({ model: m }) => {
      const t = m.logits(ids);
      const rows = t.arraySync()[0].map((row) => row.slice(0, 512));
      t.dispose();
      m.dispose();
      return rows.flat();
    });
    expectClose(got, ref, 1e-5, 1e-5); // same weights, base rows only
    got.dispose();
    bin.dispose();
  });

  it('converts the base without --checkpoint; refuses bad input with a clear message and exit code 1', async () => {
    const full = join(dir, 'full');
    await writeFile(join(dir, 'stray'), 'x');
    const otherBase = join(dir, 'other.bin');
    const bytes = await readFile(STORIES_BIN);
    bytes.writeFloatLE(0.5, 1000);
    await writeFile(otherBase, bytes);
    const cases: [string[], RegExp][] = [
      [['--format', 'peft', '--out', full], /--format peft needs --checkpoint/],
      [
        ['--checkpoint', run, '--format', 'hf', '--out', full],
        /--merged \(missing\): a MoTE checkpoint needs the step to merge, one of analysis, guidance, answer, shared/,
      ],
      [
        ['--checkpoint', join(dir, 'nowhere'), '--format', 'peft', '--out', full],
        /nowhere: not a directory; expected a `mote train` run directory/,
      ],
      [
        ['--checkpoint', run, '--format', 'peft', '--out', dir],
        /--out .* is not empty \(\d+ entries\); pass --force/,
      ],
      [
        ['--checkpoint', run, '--format', 'peft', '--base', otherBase, '--out', full],
        /base model .*other\.bin: sha256 \w+ differs from the checkpoint's/,
      ],
    ];
    const base = join(dir, 'base-hf');
    const [converted, ...results] = await Promise.all([
      mote('export', '--format', 'hf', '--out', base, '--backend', 'cpu'), // no --checkpoint: the base itself
      ...cases.map(([args]) => moteFails('export', ...args, '--backend', 'cpu')),
    ]);
    results.forEach((r, i) => {
      expect(r.code, cases[i][0].join(' ')).toBe(1);
      expect(r.stderr).toMatch(cases[i][1]);
    });
    expect(JSON.parse(converted.stdout)).toMatchObject({ format: 'hf', merged: null, vocabSize: 512 });
    const { model } = await loadModel(base);
    const reference = await loadLlama2c(STORIES_BIN);
    const ids = [IDS[0].filter((id) => id < 512)];
    const [a, b] = [model.logits(ids), reference.logits(ids)];
    expectClose(a, b, 1e-5, 0);
    for (const t of [a, b, model, reference]) t.dispose();
  });
});
