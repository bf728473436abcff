// Data-parallel training on worker threads (src/train/parallel): replicas give the in-process gradients, train
// with workers 2 ends where the in-process run ends, a crashed or silent worker stops the run with an error naming
// it and the step while the last checkpoint stands, and no worker thread outlives its pool.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EncodedChain, encodeChains } from '../../../src/aligncot/encode.js';
import { attachExperts, getExperts } from '../../../src/experts/attach.js';
import type { ExpertConfig } from '../../../src/experts/config.js';
import { batchRoute } from '../../../src/experts/kinds.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import { resolveModelConfig } from '../../../src/model/config.js';
import type { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens, type Tokenizer } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { batches, type HostBatch, toTensors } from '../../../src/train/batch.js';
import { checkpointsDir, latestCheckpoint, loadCheckpoint } from '../../../src/train/checkpoint.js';
import { fileCheckpointer } from '../../../src/train/checkpointer.js';
import { hostGlobalNorm } from '../../../src/train/clip.js';
import type { TrainConfig } from '../../../src/train/config.js';
import { GradientPool, WorkerFailedError } from '../../../src/train/parallel/pool.js';
import type { MicroResult } from '../../../src/train/parallel/protocol.js';
import { buildReplica, gradsFromHost, replicaSpec } from '../../../src/train/parallel/replica.js';
import { batchGradients } from '../../../src/train/step.js';
import { type TrainEvent, trainableByName } from '../../../src/train/trainer.js';
import { train } from '../../../src/train/trainer-node.js';
import { SAMPLE_CHAINS } from '../../helpers/chains.js';
import { expectClose, ROOT, STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

const run = promisify(execFile);

const CHAINS = SAMPLE_CHAINS;

/** 4 sequences per step in micro-batches of 1: 4 micro-batches, two per worker; step skipping builds masks. */
const CONFIG: Partial<TrainConfig> = {
  epochs: 2,
  learningRate: 2e-2,
  batchSize: 4,
  microBatchSize: 1,
  evalEvery: 0,
  saveEvery: 0,
  stepSkipProb: 0.3,
  seed: 3,
};

let tokenizer: Tokenizer;
let encoded: EncodedChain[];

beforeAll(async () => {
  tokenizer = await loadLlama2cTokenizer(TOK512_BIN, 512);
  addStepTokens(tokenizer);
  encoded = encodeChains(CHAINS, tokenizer, { maxLen: 64 }).encoded;
});

/** stories260K with the step tokens added and MoTE experts (non-zero B, so every factor gets a gradient). */
async function mote(experts: Partial<ExpertConfig> = {}): Promise<Transformer> {
  const model = await loadLlama2c(STORIES_BIN);
  model.addTokens(tokenizer.vocabSize - 512);
  attachExperts(model, { kind: 'mote', rank: 4, seed: 1, initLoraWeights: false, ...experts });
  return model;
}

const trainableValues = (model: Transformer) =>
  new Map([...trainableByName(model)].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));

describe('replica spec', () => {
  it.each<[string, Partial<ExpertConfig> | 'full']>([
    ['mote', { kind: 'mote' }],
    ['single lora', { kind: 'lora' }],
    ['moe-topk', { kind: 'moe-topk' }],
    ['full fine-tuning', 'full'],
  ])('%s: the replica has the model’s variables, values and trainability', async (_, experts) => {
    const model = await loadLlama2c(STORIES_BIN);
    model.addTokens(tokenizer.vocabSize - 512);
    if (experts === 'full') model.setBaseTrainable(true);
    else attachExperts(model, { rank: 4, seed: 1, initLoraWeights: false, ...experts });
    const replica = buildReplica(await replicaSpec(model, 0));
    const want = model.namedVariables();
    const got = replica.model.namedVariables();
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, v] of want) {
      expect(got.get(name)!.trainable, name).toBe(v.trainable);
      expect(got.get(name)!.dataSync(), name).toEqual(v.dataSync());
    }
    expect([...replica.vars.keys()]).toEqual([...trainableByName(model).keys()]);
    replica.model.dispose();
    model.dispose();
  });
});

describe('GradientPool', () => {
  let model: Transformer;
  let pool: GradientPool;
  let group: HostBatch[];

  beforeAll(async () => {
    model = await mote();
    pool = await GradientPool.forModel(model, { workers: 1 });
    group = [...batches(encoded, { batchSize: 2, seqLen: 64, trim: true, stepSkipProb: 0.5, seed: 1 })].slice(
      0,
      2,
    );
  });
  afterAll(async () => {
    await pool.dispose();
    model.dispose();
  });
  /** A worker's result as gradient tensors: the pool path's reduction of one whole micro-batch. */
  const upload = (r: MicroResult) =>
    gradsFromHost(pool.spec, [{ parts: [r.grads], weights: [1] }], r.missing).grads;

  it('one replica gives the in-process gradients, NLL and loss of each micro-batch', async () => {
    const vars = trainableByName(model);
    const remote = await pool.gradients(
      1,
      vars,
      group.map((batch, m) => ({ batch, routeSeed: `s:${m}` })),
    );
    expect(remote.map((r) => r.index)).toEqual([0, 1]);
    group.forEach((batch, m) => {
      const bt = toTensors(batch);
      const route = batchRoute(getExperts(model)?.config ?? null, batch, { seed: `s:${m}`, training: true });
      const local = batchGradients(model, bt, route, vars, 0);
      const grads = upload(remote[m]);
      const { grads: again, norm } = gradsFromHost(pool.spec, [{ parts: [remote[m].grads], weights: [1] }]);
      expect(norm).toBe(hostGlobalNorm([remote[m].grads])); // summed in the same order, in float64
      tf.dispose(Object.values(again));
      expect(Object.keys(grads).sort()).toEqual(Object.keys(local.grads).sort());
      for (const k of Object.keys(local.grads)) expectClose(grads[k], local.grads[k], 1e-6, 1e-6);
      expectClose(local.nll, remote[m].nll, 1e-6, 1e-6);
      expectClose(local.loss, [remote[m].loss], 1e-6, 1e-6);
      route?.dispose();
      tf.dispose([Object.values(bt), Object.values(local.grads), Object.values(grads)]);
      tf.dispose([local.loss, local.nll, local.balance]);
    });
  });

  it('reuses its gradient arrays: the next step, items swapped, again gives the in-process gradients', async () => {
    const vars = trainableByName(model);
    const items = (order: number[]) => order.map((m) => ({ batch: group[m], routeSeed: `s:${m}` }));
    await pool.gradients(1, vars, items([0, 1]));
    const remote = await pool.gradients(2, vars, items([1, 0])); // each array now holds the other item's
    [1, 0].forEach((m, i) => {
      const bt = toTensors(group[m]);
      const route = batchRoute(getExperts(model)?.config ?? null, group[m], {
        seed: `s:${m}`,
        training: true,
      });
      const local = batchGradients(model, bt, route, vars, 0);
      const grads = upload(remote[i]);
      for (const k of Object.keys(local.grads)) expectClose(grads[k], local.grads[k], 1e-6, 1e-6);
      route?.dispose();
      tf.dispose([Object.values(bt), Object.values(local.grads), Object.values(grads)]);
      tf.dispose([local.loss, local.nll, local.balance]);
    });
  });

  it('with activation checkpointing, a replica gives the in-process gradients computed without it', async () => {
    const vars = trainableByName(model);
    const [remote] = await pool.gradients(1, vars, [{ batch: group[0], routeSeed: 's:0' }], true);
    const bt = toTensors(group[0]);
    const route = batchRoute(getExperts(model)?.config ?? null, group[0], { seed: 's:0', training: true });
    const local = batchGradients(model, bt, route, vars, 0);
    const grads = upload(remote);
    expect(Object.keys(grads).sort()).toEqual(Object.keys(local.grads).sort());
    for (const k of Object.keys(local.grads)) expectClose(grads[k], local.grads[k], 1e-6, 1e-6);
    expectClose(local.nll, remote.nll, 1e-6, 1e-6);
    route?.dispose();
    tf.dispose([Object.values(bt), Object.values(local.grads), Object.values(grads)]);
    tf.dispose([local.loss, local.nll, local.balance]);
  });

  it('a worker killed mid-step fails the call with an error naming the worker and the step', async () => {
    const vars = trainableByName(model);
    const pending = pool.gradients(7, vars, [{ batch: group[0], routeSeed: 's:0' }]);
    await pool.terminateWorker(0);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerFailedError);
    expect((err as WorkerFailedError).message).toMatch(/worker 0 of 1 exited with code 1 during step 7/);
    expect((err as WorkerFailedError).step).toBe(7);
    await expect(pool.gradients(8, vars, [{ batch: group[0], routeSeed: 's:0' }])).rejects.toBe(err);
    expect(pool.liveWorkers).toBe(0);
  });

  it('a worker that does not answer in time fails the pool, which stops its workers', async () => {
    const err = await GradientPool.forModel(model, { workers: 2, timeoutMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerFailedError);
    expect((err as Error).message).toMatch(/worker [01] of 2 did not answer within 20 ms while starting/);
  });

  it('refuses what replicas cannot reproduce', async () => {
    const m = await mote({ dropout: 0.1 });
    await expect(replicaSpec(m, 0)).rejects.toThrow(/dropout = 0.1 .*use workers: 1 or dropout 0/);
    m.dispose();
  });
});

describe('train with workers', () => {
  it('2 workers end where the in-process run ends (3 optimizer steps, 1e-5)', async () => {
    const initial = await mote();
    const start = trainableValues(initial);
    initial.dispose();
    const runs: { values: Map<string, Float32Array>; losses: number[]; pool?: GradientPool }[] = [];
    for (const workers of [1, 2]) {
      const model = await mote();
      const losses: number[] = [];
      const counts: number[] = [];
      let pool: GradientPool | undefined;
      const r = await train(
        model,
        { train: encoded },
        { ...CONFIG, workers },
        {
          maxSteps: 3,
          onEvent: (e: TrainEvent) => {
            if (e.type !== 'step') return;
            losses.push(e.loss);
            counts.push(tf.memory().numTensors);
          },
          parallel: { onStart: (p) => (pool = p) },
        },
      );
      expect(r.position.step).toBe(3);
      expect(new Set(counts.slice(1)).size, `tensor counts ${counts}`).toBe(1); // flat after the first step
      runs.push({ values: trainableValues(model), losses, pool });
      model.dispose();
    }
    const [local, parallel] = runs;
    expect(local.pool).toBeUndefined();
    expect(parallel.pool?.size).toBe(2);
    expect(parallel.pool?.liveWorkers).toBe(0); // disposed when train returned
    expectClose(parallel.losses, local.losses, 1e-5, 1e-5);
    for (const [name, v] of local.values) expectClose(parallel.values.get(name)!, v, 1e-5, 1e-5);
    const moved = [...local.values].filter(([name, v]) => v.some((x, i) => x !== start.get(name)![i]));
    expect(moved.length).toBe(local.values.size); // the comparison is not vacuous: every factor trained
  });

  it('a killed worker stops the run with a clear error; the last good checkpoint stands', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-parallel-'));
    const model = await mote();
    let pool: GradientPool | undefined;
    const run = train(
      model,
      { train: encoded },
      { ...CONFIG, workers: 2, saveEvery: 2 },
      {
        checkpointer: fileCheckpointer(model, { outDir: dir }),
        parallel: { onStart: (p) => (pool = p) },
        onEvent: (e) => {
          if (e.type === 'step' && e.step === 2) void pool?.terminateWorker(1); // dies before or during step 3
        },
      },
    );
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerFailedError);
    expect((err as Error).message).toMatch(
      /^parallel training: worker 1 of 2 exited with code 1 (during step 3|between steps \(after step 2\))/,
    );
    expect(pool?.liveWorkers).toBe(0);
    expect(await readdir(checkpointsDir(dir))).toEqual(expect.arrayContaining(['step-2']));
    expect((await readdir(checkpointsDir(dir))).filter((f) => f.startsWith('step-'))).toEqual(['step-2']);
    const latest = await latestCheckpoint(dir);
    expect(latest).toMatch(/step-2$/);
    const state = await loadCheckpoint(latest!, { variables: trainableByName(model) });
    expect(state.step).toBe(2);
    model.dispose();
  });
});

describe('a pool given to train', () => {
  it('is used by successive train calls, left running, and gives what in-process calls give', async () => {
    const local = await mote();
    const remote = await mote();
    const pool = await GradientPool.forModel(remote, { workers: 2 });
    try {
      const starts: TrainEvent[] = [];
      for (let call = 0; call < 2; call++) {
        await train(local, { train: encoded }, { ...CONFIG, workers: 1 }, { maxSteps: 2 });
        await train(
          remote,
          { train: encoded },
          { ...CONFIG, workers: 'auto' },
          { maxSteps: 2, parallel: { pool }, onEvent: (e) => e.type === 'start' && starts.push(e) },
        );
        expect(pool.liveWorkers).toBe(2); // not disposed by train
      }
      expect(starts).toEqual([
        expect.objectContaining({ workers: 2, workersReason: 'the pool given in options.parallel.pool' }),
        expect.objectContaining({ workers: 2 }),
      ]);
      const want = trainableValues(local);
      for (const [name, v] of trainableValues(remote)) expectClose(v, want.get(name)!, 1e-5, 1e-5);
    } finally {
      await pool.dispose();
      local.dispose();
      remote.dispose();
    }
  });

  it('is refused for another model, a changed frozen weight, or another worker count', async () => {
    const model = await mote();
    const pool = await GradientPool.forModel(model, { workers: 2 });
    const run = (m: Transformer, config: Partial<TrainConfig> = {}) =>
      train(m, { train: encoded }, { ...CONFIG, ...config }, { maxSteps: 1, parallel: { pool } });
    try {
      await expect(run(model, { workers: 3 })).rejects.toThrow(/workers.*'auto' or 2, the size of the pool/);
      const other = await mote({ rank: 2 });
      await expect(run(other)).rejects.toThrow(
        /the pool given was not made for this model: the attached experts .* differ/,
      );
      other.dispose();
      const frozen = [...model.namedVariables()].find(([, v]) => !v.trainable)!;
      const before = frozen[1].clone();
      frozen[1].assign(tf.add(before, 1e-3));
      await expect(run(model)).rejects.toThrow(`the frozen variable ${frozen[0]} has changed`);
      frozen[1].assign(before);
      before.dispose();
      await expect(run(model)).resolves.toMatchObject({ position: { step: 1 } }); // restored: accepted again
    } finally {
      await pool.dispose();
      model.dispose();
    }
  });
});

describe('worker lifetime', () => {
  it('a script that trains with workers 2 exits on its own (no thread outlives train)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-parallel-exit-'));
    const script = join(dir, 'run.mts');
    const src = (path: string) => JSON.stringify(pathToFileURL(join(ROOT, path)).href);
    const tiny = resolveModelConfig({}, 'tiny-test');
    const config = { workers: 2, batchSize: 2, microBatchSize: 1, epochs: 1 };
    await writeFile(
      script,
      [
        `import { selectBackend } from ${src('src/backend/select-node.ts')};`,
        `import { attachExperts } from ${src('src/experts/attach.ts')};`,
        `import { Transformer } from ${src('src/model/transformer.ts')};`,
        `import { train } from ${src('src/train/trainer-node.ts')};`,
        `import { syntheticChains } from ${src('src/bench/train.ts')};`,
        `await selectBackend({ backend: 'wasm' });`,
        `const model = Transformer.init(${JSON.stringify(tiny)}, 0, { trainable: false });`,
        `attachExperts(model, { kind: 'mote', rank: 2 });`,
        `const chains = syntheticChains(4, 16, ${tiny.vocabSize}, 'exit');`,
        `const r = await train(model, { train: chains }, ${JSON.stringify(config)}, { maxSteps: 1 });`,
        `console.log('steps', r.position.step);`,
      ].join('\n'),
    );
    const tsx = fileURLToPath(import.meta.resolve('tsx/cli'));
    const { stdout } = await run(process.execPath, [tsx, script], { timeout: 60_000 });
    expect(stdout.trim()).toBe('steps 1');
  });
});
