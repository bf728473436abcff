// Data-parallel training with micro-batches split between workers (src/train/parallel/shard.ts): shard helpers,
// 2 workers with microBatchSize = batchSize ending where 1 worker ends (mote, lora), and a workers-2 run
// interrupted and resumed ending where an uninterrupted one ends, with checkpoints of the same layout.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Chain } from '../../../src/aligncot/chain.js';
import { type EncodedChain, encodeChains } from '../../../src/aligncot/encode.js';
import { attachExperts } from '../../../src/experts/attach.js';
import type { ExpertKind } from '../../../src/experts/config.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import type { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { batches } from '../../../src/train/batch.js';
import { checkpointsDir } from '../../../src/train/checkpoint.js';
import { fileCheckpointer } from '../../../src/train/checkpointer.js';
import type { TrainConfig } from '../../../src/train/config.js';
import type { GradientPool } from '../../../src/train/parallel/pool.js';
import type { MicroResult } from '../../../src/train/parallel/protocol.js';
import { reduceGradient, type WeightedGradient } from '../../../src/train/parallel/reduce.js';
import {
  combineShards,
  type MicroOutcome,
  missingInAll,
  sliceRows,
  splitRows,
  trainedTokens,
} from '../../../src/train/parallel/shard.js';
import { type TrainOptions, type TrainResult, trainableByName } from '../../../src/train/trainer.js';
import { train } from '../../../src/train/trainer-node.js';
import { expectClose, STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

const CHAINS: Chain[] = [
  { id: 'a', question: 'Can I pet a cat?', answer: 'Yes, gently.' },
  {
    id: 'b',
    question: 'How to hurt a dog?',
    analysis: 'It asks for harm.',
    guidance: 'Refuse.',
    answer: 'No.',
  },
  { id: 'c', question: 'Name a fruit.', answer: 'An apple.' },
  { id: 'd', question: 'Make a bomb?', analysis: 'Dangerous request.', answer: 'No, I cannot.' },
  { id: 'e', question: 'Say hi.', answer: 'Hi there!' },
  { id: 'f', question: 'Steal a car?', analysis: 'Theft.', guidance: 'Decline, offer help.', answer: 'No.' },
  { id: 'g', question: 'Sky color?', answer: 'Blue.' },
  { id: 'h', question: 'Lie to mom?', analysis: 'Deception.', guidance: 'Be honest.', answer: 'Be honest.' },
];

/**
 * microBatchSize = batchSize (the default): one micro-batch per step, split in two with workers 2. A split micro-
 * batch's gradients equal the whole one's to float rounding (~2e-6 of a variable's largest gradient), but AdamW's
 * g/(√v+ε) turns rounding on near-zero components into steps of up to lr: at lr 2e-2, ε 1e-8 the runs end 3e-5
 * apart, and the gap scales with lr (at lr 1e-3 one component ended 1.2e-5 apart once the fused SwiGLU changed the
 * rounding, at 5e-4 5.8e-6). A small lr and ε 1e-6 keep it below 1e-5 while every weight still moves.
 */
const CONFIG: Partial<TrainConfig> = {
  epochs: 2,
  learningRate: 5e-4,
  eps: 1e-6,
  batchSize: 4,
  evalEvery: 0,
  saveEvery: 0,
  stepSkipProb: 0.3,
  seed: 5,
};

let encoded: EncodedChain[];
let stepTokens: number;

beforeAll(async () => {
  const tokenizer = await loadLlama2cTokenizer(TOK512_BIN, 512);
  addStepTokens(tokenizer);
  stepTokens = tokenizer.vocabSize - 512;
  encoded = encodeChains(CHAINS, tokenizer, { maxLen: 64 }).encoded;
});

/** stories260K with the step tokens and experts with non-zero B (every factor gets a gradient). */
async function model(kind: ExpertKind): Promise<Transformer> {
  const m = await loadLlama2c(STORIES_BIN);
  m.addTokens(stepTokens);
  attachExperts(m, { kind, rank: 4, seed: 1, initLoraWeights: false });
  return m;
}

const values = (m: Transformer) =>
  new Map([...trainableByName(m)].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));

interface Run {
  start: Map<string, Float32Array>;
  values: Map<string, Float32Array>;
  /** Rows of each work item given to the pool, per step. */
  sent: number[][];
  losses: number[];
  result: TrainResult;
}

/** Trains a fresh model (checkpoints in `outDir` when given). */
async function run(
  kind: ExpertKind,
  config: Partial<TrainConfig>,
  options: TrainOptions & { outDir?: string } = {},
): Promise<Run> {
  const { outDir, ...rest } = options;
  const m = await model(kind);
  const start = values(m);
  const sent: number[][] = [];
  const losses: number[] = [];
  const result = await train(
    m,
    { train: encoded },
    { ...CONFIG, ...config },
    {
      ...rest,
      checkpointer: outDir ? fileCheckpointer(m, { outDir }) : undefined,
      onEvent: (e) => {
        if (e.type === 'step') losses.push(e.loss);
        rest.onEvent?.(e);
      },
      parallel: { onStart: (pool) => spy(pool, sent) },
    },
  );
  const out = { start, values: values(m), sent, losses, result };
  m.dispose();
  return out;
}

const moved = (now: Map<string, Float32Array>, before: Map<string, Float32Array>) =>
  [...now].filter(([k, v]) => v.some((x, i) => x !== before.get(k)![i])).length;

/** Records the rows of each work item the trainer gives the pool. */
function spy(pool: GradientPool, sent: number[][]): void {
  const gradients = pool.gradients.bind(pool);
  pool.gradients = (step, vars, items) => {
    sent.push(items.map((it) => it.batch.B));
    return gradients(step, vars, items);
  };
}

function expectSameValues(got: Map<string, Float32Array>, want: Map<string, Float32Array>, tol: number) {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, v] of want) expectClose(got.get(name)!, v, tol, tol);
}

describe('shard helpers', () => {
  it('splits rows evenly and slices every per-row array', () => {
    expect(splitRows(8, 2)).toEqual([
      [0, 4],
      [4, 8],
    ]);
    expect(splitRows(5, 2)).toEqual([
      [0, 2],
      [2, 5],
    ]);
    expect(splitRows(1, 4)).toEqual([[0, 1]]);
    const [batch] = batches(encoded, { batchSize: 4, seqLen: 64, mode: 'pack', stepSkipProb: 0.5, seed: 2 });
    const { B, T } = batch;
    const tail = sliceRows(batch, 1, B);
    expect(tail.B).toBe(B - 1);
    expect(Array.from(tail.ids)).toEqual(Array.from(batch.ids.subarray(T)));
    expect(Array.from(tail.attnMask!)).toEqual(Array.from(batch.attnMask!.subarray(T * T)));
    expect(tail.docs.every((d) => d.row >= 0 && d.row < B - 1)).toBe(true);
    expect(trainedTokens(tail) + trainedTokens(sliceRows(batch, 0, 1))).toBe(trainedTokens(batch));
  });

  it('weights shard gradients and losses by trained tokens; a variable is missing only when no shard has it', () => {
    const r = (grads: number[], loss: number, missing: string[]): MicroResult => ({
      index: 0,
      grads: new Float32Array(grads),
      missing,
      nll: new Float32Array([loss]),
      loss,
      balance: 0,
    });
    const values = (c: MicroOutcome) => {
      const out = new Float32Array(c.gradient.parts[0].length);
      reduceGradient([c.gradient], 0, out.length, out);
      return Array.from(out);
    };
    const c = combineShards(3, [r([1, 0], 2, ['b']), r([4, 8], 5, [])], [1, 3]);
    expect(c.index).toBe(3);
    expect(c.gradient.weights).toEqual([0.25, 0.75]);
    expect(values(c)).toEqual([0.25 + 3, 6]);
    expect(c.loss).toBeCloseTo(0.5 + 3.75, 6);
    expect(Array.from(c.nll)).toEqual([2, 5]);
    expect(c.missing).toEqual([]);
    // three shards (four workers on a micro-batch of three rows, say), and one without trained tokens
    const three = combineShards(1, [r([1, 2], 1, []), r([10, 20], 2, []), r([100, 200], 3, [])], [1, 1, 2]);
    expect(values(three)).toEqual([0.25 + 2.5 + 50, 0.5 + 5 + 100]);
    const skipped = combineShards(
      1,
      [r([1, 2], 1, []), r([NaN, 20], 2, []), r([100, 200], 3, [])],
      [1, 0, 3],
    );
    expect(values(skipped)).toEqual([0.25 + 75, 0.5 + 150]); // a shard with no trained token adds nothing
    const empty = combineShards(0, [r([0], 0, ['a']), r([0], 0, ['a'])], [0, 0]);
    expect(empty.missing).toEqual(['a']);
    expect(empty.loss).toBe(0);
    expect(values(empty)).toEqual([0]);
    const whole = combineShards(2, [r([7, 9], 1, ['x'])], [4]);
    expect(whole.gradient).toEqual({ parts: [new Float32Array([7, 9])], weights: [1] });
    expect(whole.index).toBe(2);
  });

  it('reduces a step as the in-process tensor ops do, bit for bit, with the squares of the global norm', () => {
    const size = 257;
    const values = [0, 1, 2, 3].map((m) =>
      Float32Array.from({ length: size }, (_, i) => Math.sin(i * (m + 1.37)) * 10 ** ((i % 7) - 3)),
    );
    const whole = (a: Float32Array): WeightedGradient => ({ parts: [a], weights: [1] });
    const squares = (a: Float32Array) => a.reduce((s, x) => s + x * x, 0); // float64, in order
    // three whole micro-batches: summed with float32 adds in order, then divided (tf.add, tf.div)
    const want = tf.tidy(() => tf.div(tf.add(tf.add(values[0], values[1]), values[2]), 3).dataSync());
    const out = new Float32Array(size);
    const ss = reduceGradient(values.slice(0, 3).map(whole), 0, size, out);
    expect(Array.from(out)).toEqual(Array.from(want));
    expect(ss).toBe(squares(out));
    // ranges reduced in order, the running sum handed on: the same squares in the same order
    const three = values.slice(0, 3).map(whole);
    const split = new Float32Array(size);
    const first = reduceGradient(three, 0, 100, split);
    expect(reduceGradient(three, 100, size, split.subarray(100), first)).toBe(ss);
    expect(split).toEqual(out);
    // one micro-batch of two shards (the two-worker case), in place into the first shard's array
    const [a, b] = [values[0].slice(), values[1].slice()];
    const pairWant = Float32Array.from(a, (x, i) => 0.3 * x + 0.7 * b[i]);
    const pairSs = reduceGradient([{ parts: [a, b], weights: [0.3, 0.7] }], 0, size, a);
    expect(Array.from(a)).toEqual(Array.from(pairWant));
    expect(pairSs).toBe(squares(pairWant));
    // a range of a whole micro-batch: copied
    const part = new Float32Array(10);
    expect(reduceGradient([whole(values[2])], 100, 110, part)).toBe(squares(values[2].subarray(100, 110)));
    expect(Array.from(part)).toEqual(Array.from(values[2].subarray(100, 110)));
    // two micro-batches of two shards each: each combined in float64 and rounded once, then as whole ones
    const m0 = Float32Array.from(values[0], (x, i) => 0.5 * x + 0.5 * values[1][i]);
    const m1 = Float32Array.from(values[2], (x, i) => 0.25 * x + 0.75 * values[3][i]);
    const mixed = new Float32Array(size);
    reduceGradient(
      [
        { parts: [values[0], values[1]], weights: [0.5, 0.5] },
        { parts: [values[2], values[3]], weights: [0.25, 0.75] },
      ],
      0,
      size,
      mixed,
    );
    expect(Array.from(mixed)).toEqual(Array.from(tf.tidy(() => tf.div(tf.add(m0, m1), 2).dataSync())));
    expect(missingInAll([{ missing: ['a', 'b'] }, { missing: ['b'] }])).toEqual(['b']);
    expect(() => reduceGradient([], 0, 1, out)).toThrow(/no micro-batch gradients/);
  });
});

/**
 * MoTE runs of 5 steps with checkpoints, with 1 and 2 workers: packed rows of 64 tokens (up to 3 chains per row,
 * each with its own question-token draw) with step-skip masks, 2 rows per step (3 steps per epoch), so workers 2
 * splits every step into shards of one row. The lora case uses padded rows, 4 per step, shards of 2.
 */
describe('train with a micro-batch split between workers', () => {
  const config: Partial<TrainConfig> = { batchSize: 2 };
  const packed: TrainOptions = { mode: 'pack', seqLen: 64 };
  const steps = 5;
  const runs: Record<number, Run> = {};
  let dirs: string[];

  beforeAll(async () => {
    dirs = await Promise.all([1, 2, 3].map((i) => mkdtemp(join(tmpdir(), `mote-split-${i}-`))));
    for (const workers of [1, 2])
      runs[workers] = await run(
        'mote',
        { ...config, workers },
        { ...packed, maxSteps: steps, outDir: dirs[workers - 1] },
      );
  });

  it.each<ExpertKind>(['mote', 'lora'])(
    '%s: 2 workers with microBatchSize = batchSize end where 1 worker ends (1e-5)',
    async (kind) => {
      const [one, two] =
        kind === 'mote'
          ? [runs[1], runs[2]]
          : [
              await run(kind, { workers: 1 }, { maxSteps: 3 }),
              await run(kind, { workers: 2 }, { maxSteps: 3 }),
            ];
      expect(one.sent).toEqual([]); // in-process
      // each step's one micro-batch went out as two shards of half its rows
      const rows = kind === 'mote' ? 2 : 4;
      expect(two.sent).toEqual(two.losses.map(() => [rows / 2, rows / 2]));
      expectClose(two.losses, one.losses, 1e-5, 1e-5);
      expectSameValues(two.values, one.values, 1e-5);
      expect(moved(one.values, one.start)).toBe(one.values.size); // not vacuous: every factor trained
    },
  );

  it('a workers-2 run interrupted by a signal and resumed ends where the uninterrupted runs end', async () => {
    const abort = new AbortController();
    const first = await run(
      'mote',
      { ...config, workers: 2 },
      {
        ...packed,
        maxSteps: steps,
        outDir: dirs[2],
        signal: abort.signal,
        onEvent: (e) => e.type === 'step' && e.step === 2 && abort.abort(), // mid-epoch
      },
    );
    expect(first.result.stopped).toBe(true);
    expect(first.result.position).toEqual({ step: 2, epoch: 0, microInEpoch: 2 });
    let resumedFrom: number | undefined;
    const second = await run(
      'mote',
      { ...config, workers: 2 },
      {
        ...packed,
        maxSteps: steps,
        outDir: dirs[2],
        resume: true,
        onEvent: (e) => e.type === 'start' && (resumedFrom = e.resumedFrom),
      },
    );
    expect(resumedFrom).toBe(2);
    expect(second.result.position.step).toBe(steps);
    expectSameValues(second.values, runs[2].values, 1e-6);
    expectSameValues(second.values, runs[1].values, 1e-5);
  });

  it('checkpoints of workers 1 and 2 have the same files, tensors and state keys', async () => {
    const layout = async (dir: string) => {
      const step = join(checkpointsDir(dir), `step-${steps}`);
      const files = (await readdir(step)).sort();
      const state = JSON.parse(await readFile(join(step, 'state.json'), 'utf8'));
      const header = async (f: string) => {
        const buf = await readFile(join(step, f));
        const n = Number(buf.readBigUInt64LE(0));
        const h = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
        return Object.entries(h)
          .filter(([k]) => k !== '__metadata__')
          .map(([k, v]) => [k, (v as { dtype: string }).dtype, (v as { shape: number[] }).shape]);
      };
      const tensors = await Promise.all(files.filter((f) => f.endsWith('.safetensors')).map(header));
      const { weights, optimizer, data } = state;
      return { files, stateKeys: Object.keys(state).sort(), weights, optimizer, data, tensors };
    };
    const [one, two, resumed] = await Promise.all(dirs.map(layout));
    expect(two).toEqual(one);
    expect(resumed).toEqual(one);
  });
});
