// The training loop end to end on a tiny model with the real tok512 tokenizer and step tokens: every variant
// learns, the frozen base stays bit-identical, tensors stay flat, resume equals an uninterrupted run.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { type EncodedChain, encodeChains } from '../../../src/aligncot/encode.js';
import { attachExperts } from '../../../src/experts/attach.js';
import type { ExpertConfig } from '../../../src/experts/config.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import type { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { CheckpointMismatchError } from '../../../src/train/checkpoint.js';
import { fileCheckpointer } from '../../../src/train/checkpointer.js';
import { NonFiniteError } from '../../../src/train/clip.js';
import type { TrainConfig } from '../../../src/train/config.js';
import { evaluate } from '../../../src/train/evaluate.js';
import type { TrainEvent } from '../../../src/train/trainer.js';
import { train } from '../../../src/train/trainer-node.js';
import { SAMPLE_CHAINS } from '../../helpers/chains.js';
import { STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

const CHAINS = SAMPLE_CHAINS;

async function setup(experts: Partial<ExpertConfig> | 'full') {
  const tokenizer = await loadLlama2cTokenizer(TOK512_BIN, 512);
  addStepTokens(tokenizer);
  // the real stories260K base: a random tiny base with a frozen tied head cannot move its logits far enough
  const model = await loadLlama2c(STORIES_BIN);
  model.addTokens(tokenizer.vocabSize - 512);
  if (experts === 'full') model.setBaseTrainable(true);
  else attachExperts(model, { rank: 4, seed: 1, ...experts });
  const { encoded } = encodeChains(CHAINS, tokenizer, { maxLen: 64 });
  expect(encoded).toHaveLength(CHAINS.length);
  return { model, encoded };
}

const CONFIG: Partial<TrainConfig> = {
  epochs: 6,
  learningRate: 2e-2,
  batchSize: 4,
  evalEvery: 0,
  saveEvery: 0,
  stepSkipProb: 0.3,
  seed: 3,
};

const snapshot = (model: Transformer) =>
  new Map([...model.namedVariables()].map(([k, v]) => [k, v.dataSync().slice()]));

describe('train', () => {
  it.each<[string, Partial<ExpertConfig> | 'full']>([
    ['mote', { kind: 'mote' }],
    ['mote without shared expert', { kind: 'mote', shared: false }],
    ['single lora', { kind: 'lora' }],
    ['lora rank x2', { kind: 'lora', rank: 8 }],
    ['moe-topk', { kind: 'moe-topk' }],
    ['full fine-tuning', 'full'],
  ])('%s: loss falls, only trainable variables change, tensors stay flat', async (_, experts) => {
    const { model, encoded } = await setup(experts);
    const before = snapshot(model);
    const trainable = new Set(model.trainableVariables());
    const names = new Map([...model.namedVariables()].map(([k, v]) => [v, k]));
    const start = await evaluate(model, encoded, { batchSize: 4, seqLen: 64 });
    const counts: number[] = [];
    const r = await train(model, { train: encoded }, CONFIG, {
      onEvent: (e) => {
        if (e.type === 'step') counts.push(tf.memory().numTensors);
      },
    });
    const end = await evaluate(model, encoded, { batchSize: 4, seqLen: 64 });
    expect(end.loss).toBeLessThan(start.loss * 0.7);
    expect(r.position.step).toBe(12);
    // numTensors flat after the first step (the first creates optimizer slots)
    expect(new Set(counts.slice(1)).size).toBe(1);
    for (const [v, name] of names) {
      const same = before.get(name)!.every((x, i) => x === v.dataSync()[i]);
      expect(same, `${name} ${trainable.has(v) ? 'should change' : 'must stay bit-identical'}`).toBe(
        !trainable.has(v),
      );
    }
    model.dispose();
  });

  it('reports loss per step type and throughput', async () => {
    const { model, encoded } = await setup({ kind: 'mote' });
    const steps: Extract<TrainEvent, { type: 'step' }>[] = [];
    // a first run fills the layers' own caches (e.g. the transposed base weight of the segmented backward)
    await train(model, { train: encoded }, { ...CONFIG, epochs: 1 });
    const before = tf.memory().numTensors;
    await train(
      model,
      { train: encoded, eval: encoded.slice(0, 2) },
      { ...CONFIG, epochs: 1 },
      { onEvent: (e) => e.type === 'step' && steps.push(e) },
    );
    expect(steps).toHaveLength(2);
    const s = steps[0];
    expect(Object.keys(s.byStage).sort()).toEqual(expect.arrayContaining(['answer']));
    expect(s.byStage.question).toBeUndefined(); // the question is never a target
    expect(s.tokensPerSec).toBeGreaterThan(0);
    expect(s.lr).toBeCloseTo(2e-2, 6);
    expect(tf.memory().numTensors).toBe(before); // optimizer moments, batches and routes freed when train returns
    model.dispose();
  });

  it('an interrupted run resumes to the same weights as an uninterrupted one', async () => {
    const full = await setup({ kind: 'mote' });
    await train(full.model, { train: full.encoded }, CONFIG);
    const expected = snapshot(full.model);
    full.model.dispose();

    const dir = await mkdtemp(join(tmpdir(), 'mote-resume-'));
    const first = await setup({ kind: 'mote' });
    const abort = new AbortController();
    const r1 = await train(first.model, { train: first.encoded }, CONFIG, {
      checkpointer: fileCheckpointer(first.model, { outDir: dir }),
      signal: abort.signal,
      onEvent: (e) => e.type === 'step' && e.step === 5 && abort.abort(),
    });
    expect(r1.stopped).toBe(true);
    expect(r1.position.step).toBe(5);
    first.model.dispose();

    const second = await setup({ kind: 'mote' });
    let resumedFrom: number | undefined;
    const r2 = await train(second.model, { train: second.encoded }, CONFIG, {
      checkpointer: fileCheckpointer(second.model, { outDir: dir }),
      resume: true,
      onEvent: (e) => e.type === 'start' && (resumedFrom = e.resumedFrom),
    });
    expect(resumedFrom).toBe(5);
    expect(r2.position.step).toBe(12);
    for (const [name, v] of second.model.namedVariables()) {
      const want = expected.get(name)!;
      const got = v.dataSync();
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(got[i] - want[i]), name).toBeLessThanOrEqual(1e-6);
    }
    second.model.dispose();
  });

  it('a non-finite loss stops the run with a clear error and keeps the last good checkpoint', async () => {
    const { model, encoded } = await setup({ kind: 'mote' });
    const dir = await mkdtemp(join(tmpdir(), 'mote-nan-'));
    await expect(
      train(
        model,
        { train: encoded },
        { ...CONFIG, learningRate: 1e38, clipNorm: 0, saveEvery: 1 },
        { checkpointer: fileCheckpointer(model, { outDir: dir, keepLast: 100 }) },
      ),
    ).rejects.toThrow(NonFiniteError);
    const saved = await readdir(join(dir, 'checkpoints'));
    expect(saved.some((f) => f.startsWith('step-'))).toBe(true);
    model.dispose();
  });

  it('rejects an empty dataset, over-long sequences and a checkpoint of another shape', async () => {
    const { model, encoded } = await setup({ kind: 'mote' });
    await expect(train(model, { train: [] }, CONFIG)).rejects.toThrow(/training set is empty/);
    await expect(train(model, { train: encoded }, CONFIG, { seqLen: 513 })).rejects.toThrow(
      /seqLen 513 exceeds the model's context 512/,
    );
    const long: EncodedChain = { ...encoded[0], ids: new Int32Array(40) };
    await expect(train(model, { train: [long] }, CONFIG, { seqLen: 32 })).rejects.toThrow(
      /an example has 40 tokens, more than seqLen 32/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'mote-shape-'));
    await train(
      model,
      { train: encoded },
      { ...CONFIG, epochs: 1 },
      { checkpointer: fileCheckpointer(model, { outDir: dir }) },
    );
    model.dispose();
    const other = await setup({ kind: 'mote', rank: 2 });
    await expect(
      train(other.model, { train: other.encoded }, CONFIG, {
        checkpointer: fileCheckpointer(other.model, { outDir: dir }),
        resume: true,
      }),
    ).rejects.toThrow(CheckpointMismatchError);
    other.model.dispose();
  });
});
