// Step-skip attention masks: hand-written mask, what is hidden and what never is, p = 0 / p = 1, pattern
// frequencies, seeds, document isolation, and the behaviour through the model's forward.
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { MASKED } from '../../../src/model/attention.js';
import { MODEL_PRESETS } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import { buildAttnMask, drawSkip, type MaskLayout } from '../../../src/train/masks.js';

const Q = 0;
const A = 1;
const G = 2;
const R = 3;
const C = 4;

/** One row per entry; docIds default to a single document (0) per row. */
function layout(rows: number[][], docs?: number[][]): MaskLayout {
  const T = rows[0].length;
  return {
    B: rows.length,
    T,
    stepIds: Int32Array.from(rows.flat()),
    docIds: Int32Array.from(docs ? docs.flat() : rows.flatMap((r) => r.map(() => 0))),
  };
}

/** Mask entry (b, i, j): true when key j is hidden from query i. */
const hidden = (m: Float32Array, T: number, b: number, i: number, j: number) =>
  m[(b * T + i) * T + j] === MASKED;

/** Every masked entry of row b as [i, j] pairs. */
function maskedPairs(m: Float32Array, T: number, b = 0): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) if (hidden(m, T, b, i, j)) out.push([i, j]);
  return out;
}

/** A constant rng: the coin is `coin`, the pattern draw is `pick`. */
const scripted = (...values: number[]) => {
  let k = 0;
  return () => values[k++ % values.length];
};

const FULL = [Q, Q, A, A, G, G, R, R]; // question, analysis, guidance, answer: 2 tokens each

describe('drawSkip', () => {
  it('draws each non-empty subset with the documented pattern index', () => {
    expect(drawSkip(['analysis', 'guidance'], 0.5, scripted(0.4, 0.0))).toEqual(['analysis']); // k = 1
    expect(drawSkip(['analysis', 'guidance'], 0.5, scripted(0.4, 0.34))).toEqual(['guidance']); // k = 2
    expect(drawSkip(['analysis', 'guidance'], 0.5, scripted(0.4, 0.99))).toEqual(['analysis', 'guidance']); // k = 3
    expect(drawSkip(['analysis', 'guidance'], 0.5, scripted(0.5, 0.0))).toEqual([]); // coin ≥ p
    expect(drawSkip([], 1, scripted(0))).toEqual([]);
  });

  it('patterns are uniform over non-empty subsets', () => {
    const rng = seedrandom('uniform');
    const counts = new Map<string, number>();
    const n = 6000;
    for (let i = 0; i < n; i++) {
      const key = drawSkip(['analysis', 'guidance'], 1, rng).join('+');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['analysis', 'analysis+guidance', 'guidance']);
    for (const c of counts.values()) expect(Math.abs(c / n - 1 / 3)).toBeLessThan(0.025);
  });

  it('skips with probability p', () => {
    const rng = seedrandom('coin');
    let skips = 0;
    for (let i = 0; i < 5000; i++) if (drawSkip(['analysis'], 0.2, rng).length > 0) skips++;
    expect(Math.abs(skips / 5000 - 0.2)).toBeLessThan(0.02);
  });
});

describe('buildAttnMask', () => {
  it('matches a hand-written mask when analysis is skipped', () => {
    const { attnMask, skips } = buildAttnMask(layout([FULL]), { stepSkipProb: 1, rng: scripted(0, 0) });
    expect(skips).toEqual([{ row: 0, doc: 0, skipped: ['analysis'] }]);
    // guidance (4, 5) and answer (6, 7) do not see analysis (2, 3)
    expect(maskedPairs(attnMask, 8)).toEqual([
      [4, 2],
      [4, 3],
      [5, 2],
      [5, 3],
      [6, 2],
      [6, 3],
      [7, 2],
      [7, 3],
    ]);
  });

  it('matches a hand-written mask when guidance is skipped, and when both are', () => {
    const g = buildAttnMask(layout([FULL]), { stepSkipProb: 1, rng: scripted(0, 0.5) });
    expect(g.skips[0].skipped).toEqual(['guidance']);
    expect(maskedPairs(g.attnMask, 8)).toEqual([
      [6, 4],
      [6, 5],
      [7, 4],
      [7, 5],
    ]);
    const both = buildAttnMask(layout([FULL]), { stepSkipProb: 1, rng: scripted(0, 0.9) });
    expect(both.skips[0].skipped).toEqual(['analysis', 'guidance']);
    expect(maskedPairs(both.attnMask, 8)).toEqual([
      [4, 2],
      [4, 3],
      [5, 2],
      [5, 3],
      [6, 2],
      [6, 3],
      [6, 4],
      [6, 5],
      [7, 2],
      [7, 3],
      [7, 4],
      [7, 5],
    ]);
  });

  it('a skipped step is invisible to every later step; the question and own step never are', () => {
    const rows = Array.from({ length: 64 }, (_, k) => (k % 2 ? FULL : [Q, Q, Q, A, A, R, R, R]));
    const l = layout(rows);
    const { attnMask, skips } = buildAttnMask(l, { stepSkipProb: 0.7, seed: 'inv' });
    for (const { row, skipped } of skips) {
      const ids = rows[row];
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 8; j++) {
          const stageJ = ['question', 'analysis', 'guidance', 'answer'][ids[j]];
          const expectHidden = ids[i] > ids[j] && (skipped as string[]).includes(stageJ);
          expect(hidden(attnMask, 8, row, i, j)).toBe(expectHidden);
          if (ids[j] === Q || ids[j] === ids[i]) expect(hidden(attnMask, 8, row, i, j)).toBe(false);
        }
      }
    }
    expect(skips.some((s) => s.skipped.length > 0)).toBe(true);
  });

  it('p = 0 never skips: the mask is all zeros for one document per row', () => {
    const { attnMask, skips } = buildAttnMask(layout([FULL, FULL, FULL]), { stepSkipProb: 0, seed: 1 });
    expect(skips.every((s) => s.skipped.length === 0)).toBe(true);
    expect(attnMask.every((v) => v === 0)).toBe(true);
  });

  it('p = 1 always skips when the chain has a reasoning step, never when it is answer-only', () => {
    const rows = Array.from({ length: 50 }, () => FULL);
    const { skips } = buildAttnMask(layout(rows), { stepSkipProb: 1, seed: 2 });
    expect(skips.every((s) => s.skipped.length > 0)).toBe(true);
    const direct = buildAttnMask(layout([[Q, Q, R, R]]), { stepSkipProb: 1, seed: 2 });
    expect(direct.skips[0].skipped).toEqual([]);
    expect(direct.attnMask.every((v) => v === 0)).toBe(true);
  });

  it('never skips a check after the answer, nor a step with nothing after it', () => {
    const { skips } = buildAttnMask(layout([[Q, A, R, C]]), {
      stepSkipProb: 1,
      seed: 3,
      skippable: ['analysis', 'check'],
    });
    expect(skips[0].skipped).toEqual(['analysis']);
  });

  it('is reproducible by seed and changes with it', () => {
    const rows = Array.from({ length: 40 }, () => FULL);
    const a = buildAttnMask(layout(rows), { stepSkipProb: 0.5, seed: 'x' });
    const b = buildAttnMask(layout(rows), { stepSkipProb: 0.5, seed: 'x' });
    const c = buildAttnMask(layout(rows), { stepSkipProb: 0.5, seed: 'y' });
    expect(b.skips).toEqual(a.skips);
    expect(b.attnMask).toEqual(a.attnMask);
    expect(c.skips).not.toEqual(a.skips);
  });

  it('isolates documents in a packed row and skips per document', () => {
    const steps = [Q, A, R, Q, Q, R, Q, 0];
    const docs = [0, 0, 0, 1, 1, 1, 2, -1]; // doc 2 is a question alone (truncated view); last is padding
    const { attnMask, skips } = buildAttnMask(layout([steps], [docs]), {
      stepSkipProb: 1,
      rng: scripted(0, 0),
    });
    expect(skips).toEqual([
      { row: 0, doc: 0, skipped: ['analysis'] },
      { row: 0, doc: 1, skipped: [] },
      { row: 0, doc: 2, skipped: [] },
    ]);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        const expectHidden = docs[i] !== docs[j] || (i === 2 && j === 1);
        expect(hidden(attnMask, 8, 0, i, j)).toBe(expectHidden);
      }
    }
  });

  it('validates its inputs', () => {
    expect(() => buildAttnMask(layout([FULL]), { stepSkipProb: 1.5 })).toThrow('stepSkipProb = 1.5');
    expect(() => buildAttnMask({ ...layout([FULL]), T: 7 })).toThrow(
      /docIds \(and stepIds, when given\) of length B·T/,
    );
  });
});

describe('through the model', () => {
  // A tiny model; ids of a chain: question (0–2), analysis (3–5), answer (6–8).
  const model = Transformer.init(MODEL_PRESETS['tiny-test'], 'skip-mask');
  const steps = [Q, Q, Q, A, A, A, R, R, R];
  const base = [1, 10, 11, 20, 21, 22, 30, 31, 32];
  const answer = [6, 7, 8];

  /** Logits at the answer positions, with or without an analysis-skipping mask. */
  function answerLogits(ids: number[], skip: boolean): Float32Array {
    const T = ids.length;
    const { attnMask } = buildAttnMask(layout([steps]), { stepSkipProb: skip ? 1 : 0, rng: scripted(0, 0) });
    const mask = tf.tensor3d(attnMask, [1, T, T]);
    const logits = model.logits([ids], { attnMask: mask });
    const V = logits.shape[2];
    const all = logits.dataSync();
    const out = new Float32Array(answer.flatMap((i) => Array.from(all.subarray(i * V, (i + 1) * V))));
    tf.dispose([mask, logits]);
    return out;
  }

  const withTokens = (positions: number[], offset: number) =>
    base.map((id, i) => (positions.includes(i) ? id + offset : id));
  const maxDiff = (a: Float32Array, b: Float32Array) =>
    a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  it('with analysis skipped, the answer does not depend on the analysis tokens', () => {
    const changedAnalysis = withTokens([3, 4, 5], 5);
    expect(maxDiff(answerLogits(base, true), answerLogits(changedAnalysis, true))).toBe(0);
    expect(maxDiff(answerLogits(base, false), answerLogits(changedAnalysis, false))).toBeGreaterThan(1e-4);
  });

  it('the answer still depends on the question', () => {
    const changedQuestion = withTokens([1, 2], 3);
    expect(maxDiff(answerLogits(base, true), answerLogits(changedQuestion, true))).toBeGreaterThan(1e-4);
  });
});
