// Batching: padding and packing layouts, document isolation in packed rows (also through the model),
// contiguous step segments, seeded shuffles, tensors.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { Chain } from '../../../src/aligncot/chain.js';
import { type EncodedChain, encodeChains } from '../../../src/aligncot/encode.js';
import { MASKED } from '../../../src/model/attention.js';
import { MODEL_PRESETS } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import { addStepTokens } from '../../../src/tokenizer/special-tokens.js';
import {
  type BatchOptions,
  batches,
  countBatches,
  type HostBatch,
  toTensors,
} from '../../../src/train/batch.js';
import { ConfigError } from '../../../src/util/errors.js';
import { expectClose } from '../../helpers/index.js';
import { ToyTokenizer } from '../aligncot/toy-tokenizer.js';

const words = (n: number, w: string) => Array.from({ length: n }, (_, i) => `${w}${i % 3}`).join(' ');

/** 10 chains of 7 to 20 ids, with and without reasoning steps. */
function encodedSet(): EncodedChain[] {
  const tok = new ToyTokenizer();
  addStepTokens(tok);
  const chains: Chain[] = Array.from({ length: 10 }, (_, k) => ({
    id: `c${k}`,
    question: words(1 + (k % 3), 'q'),
    ...(k % 3 ? { analysis: words(1 + (k % 4), 'a') } : {}),
    ...(k % 4 === 1 ? { guidance: words(2, 'g') } : {}),
    answer: words(1 + (k % 5), 'r'),
  }));
  return encodeChains(chains, tok, { maxLen: 32 }).encoded;
}

const ENCODED = encodedSet();
const all = (options: BatchOptions) => [...batches(ENCODED, options)];
const row = <T extends ArrayLike<number>>(a: T, b: number, T: number, from = 0, to = T) =>
  Array.from(a).slice(b * T + from, b * T + to);

describe('pad mode', () => {
  const options: BatchOptions = { batchSize: 4, seqLen: 24, seed: 's', padId: 0 };

  it('puts one chain per row, left-aligned, then padding with loss 0, step 0 and doc −1', () => {
    const got = all(options);
    expect(got.map((b) => b.B)).toEqual([4, 4, 2]);
    for (const batch of got) {
      expect(batch.T).toBe(24);
      expect(batch.attnMask).toBeUndefined();
      batch.docs.forEach((d, r) => {
        const c = ENCODED[d.index];
        expect(d).toMatchObject({ row: r, doc: 0, start: 0, end: c.ids.length, id: c.id, skipped: [] });
        const n = c.ids.length;
        expect(row(batch.ids, r, 24, 0, n)).toEqual(Array.from(c.ids));
        expect(row(batch.targets, r, 24, 0, n)).toEqual(Array.from(c.targets));
        expect(row(batch.lossMask, r, 24, 0, n)).toEqual(Array.from(c.lossMask));
        expect(row(batch.stepIds!, r, 24, 0, n)).toEqual(Array.from(c.stepIds));
        const pad = 24 - n;
        expect(row(batch.ids, r, 24, n)).toEqual(new Array(pad).fill(0));
        expect(row(batch.targets, r, 24, n)).toEqual(new Array(pad).fill(0));
        expect(row(batch.lossMask, r, 24, n)).toEqual(new Array(pad).fill(0));
        expect(row(batch.stepIds!, r, 24, n)).toEqual(new Array(pad).fill(0));
        expect(row(batch.docIds, r, 24)).toEqual([...new Array(n).fill(0), ...new Array(pad).fill(-1)]);
      });
    }
    expect(got.flatMap((b) => b.docs.map((d) => d.id)).sort()).toEqual(ENCODED.map((c) => c.id).sort());
  });

  it('uses the pad id given, drops a short last batch on request, and counts batches', () => {
    const got = all({ ...options, padId: 2, dropLast: true });
    expect(got.map((b) => b.B)).toEqual([4, 4]);
    expect(got[0].ids.at(-1)).toBe(2);
    expect(countBatches(ENCODED, { ...options, dropLast: true })).toBe(2);
    expect(countBatches(ENCODED, options)).toBe(3);
  });

  it('adds a mask (no cross-row leakage, padding apart) when stepSkipProb > 0', () => {
    const [b] = all({ ...options, stepSkipProb: 1 });
    expect(b.attnMask).toHaveLength(4 * 24 * 24);
    expect(b.docs.some((d) => d.skipped.length > 0)).toBe(true);
  });

  it('rejects a chain longer than seqLen and bad options', () => {
    expect(() => all({ ...options, seqLen: 8 })).toThrow(ConfigError);
    expect(() => all({ ...options, seqLen: 8 })).toThrow(
      /seqLen = 8; expected ≥ \d+, the length of example "c\d"/,
    );
    expect(() => all({ ...options, batchSize: 0 })).toThrow('batchSize = 0');
    // @ts-expect-error: an unknown mode
    expect(() => all({ ...options, mode: 'stack' })).toThrow('mode = "stack"');
  });
});

describe('pack mode', () => {
  const options: BatchOptions = { batchSize: 2, seqLen: 32, seed: 's', mode: 'pack' };

  it('packs whole chains in shuffled order, next-fit, and every chain exactly once', () => {
    const got = all(options);
    const placed = got.flatMap((b) => b.docs);
    expect(placed.map((d) => d.id).sort()).toEqual(ENCODED.map((c) => c.id).sort());
    const order = placed.map((d) => d.index);
    const shuffled = all({ ...options, mode: 'pad', batchSize: 100 })[0].docs.map((d) => d.index);
    expect(order).toEqual(shuffled); // same shuffle in both modes
    // next-fit: a row starts a new chain at 0, continues where the last ended, and the next row's first
    // chain would not have fitted in the previous row
    let rows = 0;
    for (const b of got) {
      for (let r = 0; r < b.B; r++) {
        const docs = b.docs.filter((d) => d.row === r);
        docs.forEach((d, k) => {
          expect(d.doc).toBe(k);
          expect(d.start).toBe(k === 0 ? 0 : docs[k - 1].end);
          expect(d.end - d.start).toBe(ENCODED[d.index].ids.length);
          expect(row(b.docIds, r, 32, d.start, d.end)).toEqual(new Array(d.end - d.start).fill(k));
        });
        rows++;
      }
    }
    for (let k = 1; k < placed.length; k++) {
      if (placed[k].start === 0)
        expect(placed[k - 1].end + ENCODED[placed[k].index].ids.length).toBeGreaterThan(32);
    }
    expect(rows).toBeLessThan(ENCODED.length);
    expect(countBatches(ENCODED, options)).toBe(got.length);
  });

  it('blocks attention across documents (block-diagonal mask)', () => {
    for (const b of all(options)) {
      const T = b.T;
      expect(b.attnMask).toBeDefined();
      for (let r = 0; r < b.B; r++) {
        for (let i = 0; i < T; i++) {
          for (let j = 0; j < T; j++) {
            const same = b.docIds[r * T + i] === b.docIds[r * T + j];
            expect(b.attnMask![(r * T + i) * T + j]).toBe(same ? 0 : MASKED);
          }
        }
      }
    }
  });

  it('keeps each chain a run of contiguous step segments in chain order', () => {
    for (const b of all({ ...options, stepSkipProb: 0.5 })) {
      for (const d of b.docs) {
        const steps = row(b.stepIds!, d.row, b.T, d.start, d.end);
        for (let k = 1; k < steps.length; k++) expect(steps[k]).toBeGreaterThanOrEqual(steps[k - 1]);
        expect(steps[0]).toBe(0);
      }
    }
  });

  it('a packed chain gets the same logits as the chain alone', () => {
    const model = Transformer.init(MODEL_PRESETS['tiny-test'], 'pack');
    const [b] = all({ ...options, batchSize: 1 });
    expect(b.docs.length).toBeGreaterThan(1);
    const tensors = toTensors(b);
    const packed = model.logits([Array.from(b.ids)], { attnMask: tensors.attnMask });
    const V = packed.shape[2];
    const packedData = packed.dataSync();
    for (const d of b.docs) {
      const alone = model.logits([Array.from(ENCODED[d.index].ids)]);
      expectClose(packedData.subarray(d.start * V, d.end * V), alone.dataSync(), 1e-4, 1e-4);
      alone.dispose();
    }
    tf.dispose([packed, ...Object.values(tensors)]);
  });
});

describe('seeds', () => {
  const options: BatchOptions = { batchSize: 3, seqLen: 32, seed: 7, mode: 'pack', stepSkipProb: 0.5 };
  const signature = (bs: HostBatch[]) =>
    bs.map((b) => b.docs.map((d) => `${d.id}:${d.skipped.join('+')}`).join(','));

  it('the same seed and epoch give identical batches', () => {
    const [a, b] = [all(options), all(options)];
    expect(signature(a)).toEqual(signature(b));
    a.forEach((x, k) => {
      expect(x.ids).toEqual(b[k].ids);
      expect(x.attnMask).toEqual(b[k].attnMask);
    });
  });

  it('another seed or epoch gives another order; the order does not depend on stepSkipProb', () => {
    const ids = (o: BatchOptions) => all(o).flatMap((b) => b.docs.map((d) => d.id));
    expect(ids({ ...options, seed: 8 })).not.toEqual(ids(options));
    expect(ids({ ...options, epoch: 1 })).not.toEqual(ids(options));
    expect(ids({ ...options, stepSkipProb: 0 })).toEqual(ids(options));
  });

  it('shuffle: false keeps the input order', () => {
    const got = all({ batchSize: 4, seqLen: 32, shuffle: false });
    expect(got.flatMap((b) => b.docs.map((d) => d.index))).toEqual(ENCODED.map((_, i) => i));
  });
});

describe('toTensors', () => {
  it('gives (B, T) int32 ids/targets, float32 lossMask, a (B, T, T) mask and the loss rows, owned by the caller', () => {
    const before = tf.memory().numTensors;
    const [b] = all({ batchSize: 2, seqLen: 32, mode: 'pack', seed: 1 });
    const t = toTensors(b);
    expect([t.ids.shape, t.ids.dtype]).toEqual([[2, 32], 'int32']);
    expect([t.targets.shape, t.targets.dtype]).toEqual([[2, 32], 'int32']);
    expect([t.lossMask.shape, t.lossMask.dtype]).toEqual([[2, 32], 'float32']);
    expect([t.attnMask!.shape, t.attnMask!.dtype]).toEqual([[2, 32, 32], 'float32']);
    expect(Array.from(t.ids.dataSync())).toEqual(Array.from(b.ids));
    // the positions whose loss counts: the head runs on those rows only
    const counted = [...b.lossMask.keys()].filter((i) => b.lossMask[i] !== 0);
    expect(counted.length).toBeLessThan(64);
    expect([t.lossRows!.dtype, Array.from(t.lossRows!.dataSync())]).toEqual(['int32', counted]);
    expect(tf.memory().numTensors).toBe(before + 5);
    expect(Object.keys(t)).not.toContain('stepIds'); // step ids route on the host
    tf.dispose(Object.values(t));
    expect(tf.memory().numTensors).toBe(before);
    const [p] = all({ batchSize: 2, seqLen: 32, seed: 1 });
    const tp = toTensors(p);
    expect(tp.attnMask).toBeUndefined();
    tf.dispose(Object.values(tp));
    const full = toTensors({ ...p, lossMask: new Float32Array(p.lossMask.length).fill(1) });
    expect(full.lossRows).toBeUndefined(); // every row counts: no gather
    tf.dispose(Object.values(full));
  });
});

describe('examples without step ids (plain text)', () => {
  // the same chains stripped to what a text window carries: ids, targets, loss mask
  const plain = ENCODED.map(({ id, ids, targets, lossMask }) => ({ id, ids, targets, lossMask }));

  it('batches them like chains, without step ids, and packs them with document isolation only', () => {
    const padded = [...batches(plain, { batchSize: 4, seqLen: 24, seed: 's' })];
    const chains = [...batches(ENCODED, { batchSize: 4, seqLen: 24, seed: 's' })];
    expect(padded.map((b) => b.stepIds)).toEqual(padded.map(() => undefined));
    expect(padded.map((b) => [...b.ids])).toEqual(chains.map((b) => [...b.ids]));
    expect(padded.map((b) => [...b.lossMask])).toEqual(chains.map((b) => [...b.lossMask]));
    const [packed] = batches(plain, { batchSize: 2, seqLen: 32, mode: 'pack', seed: 1 });
    const [packedChains] = batches(ENCODED, { batchSize: 2, seqLen: 32, mode: 'pack', seed: 1 });
    expect(Array.from(packed.attnMask!)).toEqual(Array.from(packedChains.attnMask!)); // no skipping: isolation only
  });

  it('refuses step skipping without step ids, and a batch mixing chains and plain text', () => {
    expect(() => [...batches(plain, { batchSize: 4, seqLen: 24, stepSkipProb: 0.2 })]).toThrow(
      /stepSkipProb = 0.2; expected 0 for examples without step ids/,
    );
    const mixed = [ENCODED[0], plain[1]];
    expect(() => [...batches(mixed, { batchSize: 2, seqLen: 24, shuffle: false })]).toThrow(
      /examples = "c1"; expected examples that all carry stepIds \(chains\) or none/,
    );
  });
});

describe('batches: trim and groupByLength', () => {
  const lengths = [5, 30, 7, 28, 6, 31, 29, 8, 4, 27, 9];
  const chains = lengths.map((n, i) => ({
    id: `c${i}`,
    ids: new Int32Array(n).fill(1),
    targets: new Int32Array(n).fill(1),
    lossMask: new Float32Array(n).fill(1),
    stepIds: new Int32Array(n),
    stepSpans: [],
  }));

  it('trim pads each batch only to its longest row (a multiple of 8)', () => {
    for (const b of batches(chains, { batchSize: 2, seqLen: 64, trim: true, seed: 1 })) {
      const longest = Math.max(...b.docs.map((d) => lengths[Number(d.id.slice(1))]));
      expect(b.T).toBe(Math.ceil(longest / 8) * 8);
    }
  });

  it('groupByLength batches similar lengths together, covers every chain once, and is seeded', () => {
    const opts = { batchSize: 3, seqLen: 64, trim: true, groupByLength: true, seed: 4 };
    const got = [...batches(chains, opts)];
    const seen = got.flatMap((b) => b.docs.map((d) => d.id)).sort();
    expect(seen).toEqual(chains.map((c) => c.id).sort());
    // short chains (≤ 9) and long ones (≥ 27) never share a full batch
    for (const b of got.filter((x) => x.B === 3)) {
      const ls = b.docs.map((d) => lengths[Number(d.id.slice(1))]);
      expect(Math.max(...ls) - Math.min(...ls)).toBeLessThan(20);
    }
    expect(got.at(-1)!.B).toBe(2); // the short batch comes last
    expect([...batches(chains, opts)].map((b) => b.docs.map((d) => d.id))).toEqual(
      got.map((b) => b.docs.map((d) => d.id)),
    );
  });
});
