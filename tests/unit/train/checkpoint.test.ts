import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../../src/io/safetensors-node.js';
import { MODEL_PRESETS } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import {
  CheckpointMismatchError,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  readCheckpoint,
  saveCheckpoint,
  sha256File,
  verifyBase,
} from '../../../src/train/checkpoint.js';
import { AdamW } from '../../../src/train/optimizer.js';
import { FormatError } from '../../../src/util/errors.js';
import { ROOT, seededNormal } from '../../helpers/index.js';

let out: string;
const live: { dispose(): void }[] = [];
beforeEach(async () => {
  out = await mkdtemp(join(tmpdir(), 'mote-ckpt-'));
});
afterEach(async () => {
  for (const x of live.splice(0)) x.dispose();
  await rm(out, { recursive: true, force: true });
});

function tinyModel(seed: number, overrides = {}): Transformer {
  const m = Transformer.init({ ...MODEL_PRESETS['tiny-test'], ...overrides }, seed);
  live.push(m);
  return m;
}

function vars(values: Record<string, number[][]>): Map<string, tf.Variable> {
  const m = new Map<string, tf.Variable>();
  for (const [k, v] of Object.entries(values)) {
    const variable = tf.variable(tf.tensor2d(v), true);
    live.push(variable);
    m.set(k, variable);
  }
  return m;
}

/** Same pseudo-gradients for every variable of a map, seeded by step. */
function fakeGrads(params: Map<string, tf.Variable>, step: number): Map<string, tf.Tensor> {
  return new Map([...params].map(([k, v]) => [k, seededNormal(v.shape, `${k}:${step}`)]));
}

async function snapshot(params: Map<string, tf.Variable>): Promise<Record<string, number[]>> {
  const o: Record<string, number[]> = {};
  for (const [k, v] of params) o[k] = [...(await v.data())];
  return o;
}

function step(opt: AdamW, params: Map<string, tf.Variable>, i: number): void {
  const g = fakeGrads(params, i);
  opt.applyGradients(g, 1e-2);
  tf.dispose([...g.values()]);
}

describe('save and load', () => {
  it('round-trips a model and its optimizer, and resuming continues exactly', async () => {
    const a = tinyModel(1);
    const params = a.namedVariables();
    const optA = new AdamW(params);
    live.push(optA);
    for (let i = 0; i < 2; i++) step(optA, params, i);
    const dir = await saveCheckpoint({
      outDir: out,
      step: 2,
      epoch: 1,
      variables: params,
      optimizer: optA,
      data: { order: [3, 1, 2], position: 2, rng: 'alea-state' },
      config: { model: a.config, train: { learningRate: 0.01 } },
      extra: { note: 'hello' },
    });
    expect(dir).toBe(join(out, 'checkpoints', 'step-2'));
    expect((await readdir(dir)).sort()).toEqual(['model.safetensors', 'optimizer.safetensors', 'state.json']);
    for (let i = 2; i < 4; i++) step(optA, params, i);

    const b = tinyModel(2); // other weights, same shape
    const paramsB = b.namedVariables();
    const optB = new AdamW(paramsB);
    live.push(optB);
    const state = await loadCheckpoint(dir, { variables: paramsB, optimizer: optB });
    expect(state).toMatchObject({
      step: 2,
      epoch: 1,
      data: { order: [3, 1, 2], position: 2 },
      extra: { note: 'hello' },
    });
    expect((state.config as { model: unknown }).model).toEqual(a.config);
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    expect(state.library).toMatchObject({ name: 'mote-tfjs', version: pkg.version });
    expect(optB.step).toBe(2);
    for (let i = 2; i < 4; i++) step(optB, paramsB, i);
    expect(await snapshot(paramsB)).toEqual(await snapshot(params));
  });

  it('saves adapters apart from a base referenced by path and sha256', async () => {
    const basePath = join(out, 'base.bin');
    await writeFile(basePath, 'frozen base weights');
    const adapters = vars({ 'blocks.0.attn.q.sharedA': [[1, 2]], 'blocks.0.attn.q.sharedB': [[3], [4]] });
    const dir = await saveCheckpoint({
      outDir: out,
      step: 5,
      variables: adapters,
      kind: 'adapters',
      base: { path: basePath },
    });
    expect((await readdir(dir)).sort()).toEqual(['adapters.safetensors', 'state.json']);
    const { state, weights, optimizer } = await readCheckpoint(dir);
    expect(state.base).toEqual({ path: basePath, sha256: await sha256File(basePath) });
    expect(state.base!.sha256).toBe(createHash('sha256').update('frozen base weights').digest('hex'));
    expect(state.weights).toEqual({
      file: 'adapters.safetensors',
      kind: 'adapters',
      dtype: 'F32',
      tensors: 2,
    });
    expect(optimizer).toBeNull();
    expect([...weights.keys()].sort()).toEqual(['blocks.0.attn.q.sharedA', 'blocks.0.attn.q.sharedB']);
    await expect(verifyBase(state)).resolves.toBeUndefined();
    await writeFile(basePath, 'changed');
    await expect(verifyBase(state)).rejects.toThrow(
      /base model .*base\.bin: sha256 [0-9a-f]{64} differs from the checkpoint's/,
    );
  });

  it('a Hugging Face directory base is hashed over its config and weight files, not its tokenizer', async () => {
    const base = join(out, 'hf-base');
    await mkdir(base);
    await writeFile(join(base, 'config.json'), '{"model_type": "llama"}');
    await writeFile(join(base, 'model.safetensors'), 'weights');
    await writeFile(join(base, 'tokenizer.json'), '{}');
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const expected = createHash('sha256')
      .update(`config.json\0${sha('{"model_type": "llama"}')}\nmodel.safetensors\0${sha('weights')}\n`)
      .digest('hex');
    const dir = await saveCheckpoint({
      outDir: out,
      step: 1,
      variables: vars({ a: [[1]] }),
      kind: 'adapters',
      base: { path: base },
    });
    const { state } = await readCheckpoint(dir);
    expect(state.base).toEqual({ path: base, sha256: expected });
    await writeFile(join(base, 'tokenizer.json'), '{"changed": true}');
    await expect(verifyBase(state)).resolves.toBeUndefined();
    await writeFile(join(base, 'model.safetensors'), 'other weights');
    await expect(verifyBase(state)).rejects.toThrow(/base model .*hf-base: sha256 [0-9a-f]{64} differs/);
  });

  it('stores F16 weights when asked', async () => {
    const v = vars({ w: [[1 / 3, 65504]] });
    const dir = await saveCheckpoint({ outDir: out, step: 1, variables: v, dtype: 'F16' });
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    expect(tensors.get('w')!.dtype).toBe('F16');
    await loadCheckpoint(dir, { variables: v });
    expect([...(await v.get('w')!.data())]).toEqual([0.333251953125, 65504]);
  });
});

describe('mismatches', () => {
  it('names the variable, expected and stored shape for a checkpoint of another model shape', async () => {
    const small = tinyModel(1, { dim: 8, hiddenDim: 20, numHeads: 2, numKvHeads: 1 });
    const dir = await saveCheckpoint({ outDir: out, step: 1, variables: small.namedVariables() });
    const big = tinyModel(2);
    const before = await snapshot(big.namedVariables());
    const load = loadCheckpoint(dir, { variables: big.namedVariables() });
    await expect(load).rejects.toThrow(CheckpointMismatchError);
    await expect(loadCheckpoint(dir, { variables: big.namedVariables() })).rejects.toThrow(
      `checkpoint ${dir}: variable embedding: expected shape [64,16], got [64,8]`,
    );
    expect(await snapshot(big.namedVariables())).toEqual(before); // nothing assigned
  });

  it('rejects missing variables, and unexpected ones unless not strict', async () => {
    const saved = vars({ a: [[1]], extra: [[2]] });
    const dir = await saveCheckpoint({ outDir: out, step: 1, variables: saved });
    const target = vars({ a: [[0]] });
    await expect(loadCheckpoint(dir, { variables: target })).rejects.toThrow(
      /variable extra: in the checkpoint but not in the model/,
    );
    await loadCheckpoint(dir, { variables: target, strict: false });
    expect(await target.get('a')!.data()).toEqual(new Float32Array([1]));
    const wider = vars({ a: [[0]], b: [[0]] });
    await expect(loadCheckpoint(dir, { variables: wider, strict: false })).rejects.toThrow(
      /variable b: missing from the checkpoint \(expected shape \[1,1\]\)/,
    );
  });

  it('rejects optimizer moments of another shape before assigning anything', async () => {
    const saved = vars({ 'w.weight': [[1, 2]] });
    const opt = new AdamW(saved);
    live.push(opt);
    step(opt, saved, 0);
    const dir = await saveCheckpoint({ outDir: out, step: 1, variables: saved, optimizer: opt });
    const target = vars({ 'w.weight': [[5, 5]] });
    const other = new AdamW(new Map([['w.weight', vars({ x: [[0], [0]] }).get('x')!]]));
    live.push(other);
    await expect(loadCheckpoint(dir, { variables: target, optimizer: other })).rejects.toThrow(
      /AdamW state for w\.weight: expected shape \[2,1\], got \[1,2\]/,
    );
    expect(await target.get('w.weight')!.data()).toEqual(new Float32Array([5, 5]));
  });

  it('reports an incomplete or foreign directory clearly', async () => {
    const empty = join(out, 'nothing');
    await mkdir(empty);
    await expect(readCheckpoint(empty)).rejects.toThrow(FormatError);
    await expect(readCheckpoint(empty)).rejects.toThrow(
      /state\.json: cannot read \(ENOENT\); is .* a complete checkpoint/,
    );
    await writeFile(join(empty, 'state.json'), '{"format": "other"}');
    await expect(readCheckpoint(empty)).rejects.toThrow(
      /state\.json:format: expected "mote-checkpoint", got "other"/,
    );
  });
});

describe('rotation and atomicity', () => {
  it('keeps the last k, points latest at the newest', async () => {
    const v = vars({ w: [[1]] });
    for (let s = 1; s <= 5; s++)
      await saveCheckpoint({ outDir: out, step: s * 10, variables: v, keepLast: 2 });
    expect((await listCheckpoints(out)).map((c) => c.step)).toEqual([40, 50]);
    expect(await latestCheckpoint(out)).toBe(join(out, 'checkpoints', 'step-50'));
    expect((await readFile(join(out, 'checkpoints', 'latest'), 'utf8')).trim()).toBe('step-50');
    expect((await readdir(join(out, 'checkpoints'))).sort()).toEqual(['latest', 'step-40', 'step-50']);
  });

  it('never touches a good checkpoint when a save fails', async () => {
    const v = vars({ w: [[1, 2]] });
    const good = await saveCheckpoint({
      outDir: out,
      step: 1,
      variables: v,
      extra: { run: 'good' },
      keepLast: 1,
    });
    const goodState = await readFile(join(good, 'state.json'), 'utf8');

    // failure while writing the weights: a disposed tensor cannot be read
    const dead = tf.tensor2d([[0]]);
    dead.dispose();
    await expect(
      saveCheckpoint({ outDir: out, step: 2, variables: new Map([['w', dead]]), keepLast: 1 }),
    ).rejects.toThrow(/disposed/);
    // failure while writing state.json (not JSON-serialisable), re-saving the same step
    await expect(
      saveCheckpoint({ outDir: out, step: 1, variables: v, extra: { n: 1n }, keepLast: 1 }),
    ).rejects.toThrow(/BigInt/);
    // failure computing the base hash
    await expect(
      saveCheckpoint({
        outDir: out,
        step: 3,
        variables: v,
        kind: 'adapters',
        base: { path: join(out, 'missing.bin') },
      }),
    ).rejects.toThrow(/ENOENT/);

    expect((await readdir(join(out, 'checkpoints'))).sort()).toEqual(['latest', 'step-1']); // no temp dirs left
    expect(await readFile(join(good, 'state.json'), 'utf8')).toBe(goodState);
    expect(await latestCheckpoint(out)).toBe(good);
    const target = vars({ w: [[0, 0]] });
    expect((await loadCheckpoint(good, { variables: target })).extra).toEqual({ run: 'good' });
    expect(await target.get('w')!.data()).toEqual(new Float32Array([1, 2]));
  });

  it('replaces a checkpoint of the same step once the new one is complete', async () => {
    await saveCheckpoint({ outDir: out, step: 7, variables: vars({ w: [[1]] }) });
    await saveCheckpoint({ outDir: out, step: 7, variables: vars({ w: [[2]] }) });
    const { weights } = await readCheckpoint(join(out, 'checkpoints', 'step-7'));
    expect([...weights.get('w')!.data]).toEqual([2]);
    expect((await readdir(join(out, 'checkpoints'))).sort()).toEqual(['latest', 'step-7']);
  });

  it('finds the newest complete checkpoint when the pointer is missing or stale, and null when none', async () => {
    expect(await latestCheckpoint(out)).toBeNull();
    const v = vars({ w: [[1]] });
    await saveCheckpoint({ outDir: out, step: 3, variables: v });
    await saveCheckpoint({ outDir: out, step: 12, variables: v });
    await writeFile(join(out, 'checkpoints', 'latest'), 'step-99\n');
    await mkdir(join(out, 'checkpoints', 'step-100')); // incomplete: no state.json
    expect(await latestCheckpoint(out)).toBe(join(out, 'checkpoints', 'step-12'));
    await rm(join(out, 'checkpoints', 'latest'));
    expect(await latestCheckpoint(out)).toBe(join(out, 'checkpoints', 'step-12'));
  });

  it('cleans up temp directories left by a crashed process', async () => {
    const root = join(out, 'checkpoints');
    await mkdir(join(root, '.tmp-step-4-999999-abcd'), { recursive: true });
    await saveCheckpoint({ outDir: out, step: 5, variables: vars({ w: [[1]] }) });
    expect((await readdir(root)).sort()).toEqual(['latest', 'step-5']);
  });
});
