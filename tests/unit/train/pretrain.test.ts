// Pretraining from scratch: corpus reading, the held-out split, LM windows (the worked example of text-data.ts),
// the config resolver, and a real run on ~100 KB of HH-RLHF text: the held-out loss falls, and the model saved
// as llama2.c + tokenizer.json loads back (loadModel) with the same tokenizer ids and logits.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveLlama2c } from '../../../src/io/llama2c-node.js';
import { loadModel } from '../../../src/io/load-node.js';
import { trainBpe } from '../../../src/tokenizer/bpe-trainer.js';
import { HfTokenizer } from '../../../src/tokenizer/hf-tokenizer.js';
import { saveHfTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import {
  PRETRAIN_MODEL,
  type PretrainEvent,
  type PretrainResult,
  pretrain,
  resolvePretrainConfig,
} from '../../../src/train/pretrain.js';
import { lmWindows, parseJsonlTexts, splitDocuments, splitParagraphs } from '../../../src/train/text-data.js';
import { readCorpus } from '../../../src/train/text-data-node.js';
import { ConfigError } from '../../../src/util/errors.js';
import { expectClose } from '../../helpers/index.js';
import { hhRlhfTexts } from '../tokenizer/corpus.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-pretrain-'));
});

describe('text data', () => {
  it('cuts the stream into windows: every token but the first is a target once (the worked example)', () => {
    // <s>=1 Hi=5 !=6 </s>=2 <s>=1 Yo=7 </s>=2, seqLen 3
    const w = lmWindows(
      [
        [1, 5, 6, 2],
        [1, 7, 2],
      ],
      3,
      'x',
    );
    expect(w.map((c) => [...c.ids])).toEqual([
      [1, 5, 6],
      [2, 1, 7],
    ]);
    expect(w.map((c) => [...c.targets])).toEqual([
      [5, 6, 2],
      [1, 7, 2],
    ]);
    expect(w.map((c) => c.id)).toEqual(['x-0', 'x-1']);
    expect([...w[0].lossMask]).toEqual([1, 1, 1]);
    expect(w[0].stepIds).toBeUndefined(); // plain text: no steps, nothing routed by step
    // a shorter tail window; a one-token stream gives none
    expect(lmWindows([[1, 2, 3, 4, 5]], 3, 'y').map((c) => [...c.targets])).toEqual([[2, 3, 4], [5]]);
    expect(lmWindows([[1]], 3, 'z')).toEqual([]);
  });

  it('splits documents by a seeded shuffle: disjoint, covering, repeatable, at least one each way', () => {
    const a = splitDocuments(100, 0.1, 's');
    expect(a.eval).toHaveLength(10);
    expect([...a.train, ...a.eval].sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    expect(splitDocuments(100, 0.1, 's')).toEqual(a);
    expect(splitDocuments(100, 0.1, 't').eval).not.toEqual(a.eval);
    expect(splitDocuments(3, 0.01, 's').eval).toHaveLength(1);
    expect(splitDocuments(1, 0.5, 's')).toEqual({ train: [0], eval: [] });
    expect(splitDocuments(5, 0, 's').eval).toEqual([]);
  });

  it('reads plain text by paragraph and JSONL (optionally gzipped) by field, with errors naming file, line and field', async () => {
    expect(splitParagraphs('one\nline two\n\n\n  \nthree\r\n\r\nfour\n')).toEqual([
      'one\nline two',
      'three',
      'four',
    ]);
    const txt = join(dir, 'corpus.txt');
    await writeFile(txt, 'First paragraph.\nStill first.\n\nSecond.\n');
    expect(await readCorpus(txt)).toEqual(['First paragraph.\nStill first.', 'Second.']);
    const gz = join(dir, 'corpus.jsonl.gz');
    await writeFile(gz, gzipSync('{"body":"a b"}\n\n{"body":"c"}\n{"body":"  "}\n'));
    expect(await readCorpus(gz, { textField: 'body' })).toEqual(['a b', 'c']);
    await expect(readCorpus(gz)).rejects.toThrow(
      /corpus\.jsonl\.gz:1: field "text" is missing; expected a string \(the line has: body/,
    );
    expect(() => parseJsonlTexts('{"text":"ok"}\n{oops', 'f.jsonl', 'text')).toThrow(
      /f\.jsonl:2: expected a JSON object, got invalid JSON/,
    );
    expect(() => parseJsonlTexts('{"text":3}', 'f.jsonl', 'text')).toThrow(/field "text" is a number/);
    await writeFile(join(dir, 'empty.txt'), '\n\n');
    await expect(readCorpus(join(dir, 'empty.txt'))).rejects.toThrow(/empty\.txt: no text in the corpus/);
  });
});

describe('resolvePretrainConfig', () => {
  it('defaults to the small pretraining shape, one vocabulary size for tokenizer and model', () => {
    const c = resolvePretrainConfig();
    expect(c.model).toEqual(PRETRAIN_MODEL);
    expect(c.tokenizer).toEqual({ vocabSize: 2048, minFrequency: 2 });
    expect(c).toMatchObject({ seqLen: 256, evalFraction: 0.05, seed: 0, preset: null });
    expect(c.train).toMatchObject({ epochs: 1, learningRate: 2e-3, weightDecay: 0.1, seed: 0 });
    const d = resolvePretrainConfig({ tokenizer: { vocabSize: 700 }, seqLen: 64, seed: 3 });
    expect(d.model).toMatchObject({ vocabSize: 700, maxSeqLen: 64 });
    expect(d.train.seed).toBe(3);
    expect(resolvePretrainConfig({ model: { preset: 'stories260K' } }).tokenizer.vocabSize).toBe(512);
  });

  it('rejects contradictions and bad values, naming the key', () => {
    expect(() => resolvePretrainConfig({ tokenizer: { vocabSize: 600 }, model: { vocabSize: 700 } })).toThrow(
      /tokenizer\.vocabSize = 600; expected the model's vocabSize \(700\)/,
    );
    expect(() => resolvePretrainConfig({ seqLen: 300, model: { maxSeqLen: 256 } })).toThrow(
      /seqLen = 300; expected an integer in \[1, 256\]/,
    );
    expect(() => resolvePretrainConfig({ evalFraction: 1 })).toThrow(ConfigError);
    expect(() => resolvePretrainConfig({ model: { dim: 30 } })).toThrow(/dim = 30/);
    expect(() => resolvePretrainConfig({ train: { learningRate: -1 } })).toThrow(/learningRate/);
  });
});

describe('pretrain on HH-RLHF text', () => {
  const TINY = { dim: 32, hiddenDim: 88, numLayers: 2, numHeads: 4, numKvHeads: 2 };
  let run: PretrainResult;
  const events: PretrainEvent[] = [];

  beforeAll(async () => {
    run = await pretrain(hhRlhfTexts(100_000), {
      tokenizer: { vocabSize: 384 },
      model: TINY,
      seqLen: 64,
      evalFraction: 0.05,
      train: { learningRate: 1e-2, batchSize: 8, warmupSteps: 2, evalEvery: 0 },
      maxSteps: 30,
      seed: 1,
      onEvent: (e) => events.push(e),
    });
  });

  it('trains the tokenizer, cuts windows and lowers the held-out loss by ≥ 1.2 nats in 30 steps (measured 1.47)', () => {
    expect(run.tokenizer.vocabSize).toBe(384);
    expect(run.model.config).toMatchObject({ ...TINY, vocabSize: 384, maxSeqLen: 64 });
    expect(run.stats.documents.eval).toBeGreaterThan(0);
    expect(run.stats.windows.train).toBe(Math.ceil((run.stats.tokens.train - 1) / 64));
    expect(events.some((e) => e.type === 'tokenizer' && e.progress.stage === 'done')).toBe(true);
    expect(run.result.position.step).toBe(30);
    const before = run.initialEval!.loss;
    const after = run.result.eval!.loss;
    expect(before).toBeGreaterThan(Math.log(384) - 0.2); // near uniform at initialisation
    expect(after).toBeLessThan(before - 1.2);
    // step 0 eval, then the trainer's own events
    expect(events.filter((e) => e.type === 'eval').map((e) => (e as { step: number }).step)).toEqual([0, 30]);
  });

  it('saves as llama2.c model.bin + tokenizer.json that loadModel reads back: same ids, same logits', async () => {
    expect(run.tokenizer).toBeInstanceOf(HfTokenizer);
    await saveHfTokenizer(run.tokenizer as HfTokenizer, dir);
    await saveLlama2c(run.model, join(dir, 'model.bin'));
    const loaded = await loadModel(join(dir, 'model.bin'), { tokenizer: join(dir, 'tokenizer.json') });
    const text = '\n\nHuman: How do I bake bread?\n\nAssistant: Mix flour — and wait.';
    const ids = run.tokenizer.encode(text, { bos: true });
    expect(loaded.tokenizer.encode(text, { bos: true })).toEqual(ids);
    expect(loaded.tokenizer.decode(ids.slice(1))).toBe(text);
    expect(loaded.model.config).toEqual(run.model.config);
    const a = run.model.logits([ids]);
    const b = loaded.model.logits([ids]);
    expectClose(b, a, 1e-6, 1e-6);
    tf.dispose([a, b]);
    loaded.model.dispose();
    run.model.dispose();
    // a tokenizer.json whose size differs from the model's vocabulary is refused
    const other = join(dir, 'other');
    await saveHfTokenizer(await trainBpe(hhRlhfTexts(5_000), { vocabSize: 300 }), other);
    await expect(
      loadModel(join(dir, 'model.bin'), { tokenizer: join(other, 'tokenizer.json') }),
    ).rejects.toThrow(
      /tokenizer .*other\/tokenizer\.json has 300 ids but model .*model\.bin has 384 embedding rows/,
    );
  });
});
