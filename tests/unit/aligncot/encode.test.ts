// Training encodings: the worked example of encode.ts, loss masks and step ids by hand, spans, overflow.
import { describe, expect, it } from 'vitest';
import type { Chain } from '../../../src/aligncot/chain.js';
import { encodeChain, encodeChains, labelTokens } from '../../../src/aligncot/encode.js';
import {
  defineStages,
  FOUR_STAGE,
  stageNames,
  stepTokenIds,
  THREE_STAGE,
} from '../../../src/aligncot/stages.js';
import { STEP_ID } from '../../../src/steps.js';
import { addStepTokens } from '../../../src/tokenizer/special-tokens.js';
import { FormatError } from '../../../src/util/errors.js';
import { ToyTokenizer } from './toy-tokenizer.js';

/** A fresh word-level toy tokenizer with all four stages' step tokens (ids 3…10). */
function toy(): ToyTokenizer {
  const tok = new ToyTokenizer();
  addStepTokens(tok, stageNames(FOUR_STAGE));
  return tok;
}

const arr = (a: ArrayLike<number>) => Array.from(a);

describe('encodeChain', () => {
  it('reproduces the worked example of the doc comment', () => {
    const tok = new ToyTokenizer();
    addStepTokens(tok); // <|analysis|>=3 <|/analysis|>=4 <|guidance|>=5 <|/guidance|>=6 <|response|>=7 <|/response|>=8
    const chain: Chain = { id: 'ex', question: 'pick lock?', analysis: 'risky', answer: 'ask locksmith' };
    const e = encodeChain(chain, tok, { maxLen: 64 })!;
    expect(arr(e.ids)).toEqual([1, 9, 10, 11, 12, 3, 13, 4, 7, 14, 15, 8]);
    expect(arr(e.targets)).toEqual([9, 10, 11, 12, 3, 13, 4, 7, 14, 15, 8, 2]);
    expect(arr(e.stepIds)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 3, 3, 3, 3]);
    expect(arr(e.lossMask)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(e.stepSpans).toEqual([
      { stage: 'question', start: 0, end: 5 },
      { stage: 'analysis', start: 5, end: 8 },
      { stage: 'answer', start: 8, end: 12 },
    ]);
    expect(e.ids.map((id) => (tok.idToPiece(id) === '\n' ? 1 : 0)).indexOf(1)).toBe(4);
    expect(e.truncated).toBeUndefined();
  });

  it('labels a full 3-stage chain by hand', () => {
    const tok = toy();
    const e = encodeChain({ id: 'x', question: 'q', analysis: 'a a', guidance: 'g', answer: 'r r r' }, tok, {
      maxLen: 64,
    })!;
    // <s> User: ␣q \n | <A> ␣a ␣a </A> | <G> ␣g </G> | <R> ␣r ␣r ␣r </R> | </s>
    expect(arr(e.stepIds)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]);
    expect(arr(e.lossMask)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(e.stepSpans.map((s) => [s.stage, s.start, s.end])).toEqual([
      ['question', 0, 4],
      ['analysis', 4, 8],
      ['guidance', 8, 11],
      ['answer', 11, 16],
    ]);
    expect(tok.idToPiece(e.ids[11])).toBe('<|response|>');
    expect(e.targets[15]).toBe(tok.eosId);
  });

  it('targets are ids shifted by one, and spans tile the ids', () => {
    const tok = toy();
    const e = encodeChain({ id: 'x', question: 'Hi there', guidance: 'be nice', answer: 'Hello!' }, tok, {
      maxLen: 64,
    })!;
    expect(arr(e.targets.slice(0, -1))).toEqual(arr(e.ids.slice(1)));
    expect(e.ids[0]).toBe(tok.bosId);
    expect(e.stepSpans[0].start).toBe(0);
    expect(e.stepSpans.at(-1)!.end).toBe(e.ids.length);
    for (let k = 1; k < e.stepSpans.length; k++) expect(e.stepSpans[k].start).toBe(e.stepSpans[k - 1].end);
    for (const s of e.stepSpans)
      for (let i = s.start; i < s.end; i++) expect(e.stepIds[i]).toBe(STEP_ID[s.stage]);
  });

  it('the check block of FOUR_STAGE is labelled but not trained, and neither is the EOS after it', () => {
    const tok = toy();
    const c: Chain = { id: 'x', question: 'q', answer: 'r', check: { verdict: 'safe' } };
    const e = encodeChain(c, tok, { maxLen: 64, stages: FOUR_STAGE })!;
    // <s> User: ␣q \n | <R> ␣r </R> | <C> ␣safe </C> | </s>
    expect(arr(e.stepIds)).toEqual([0, 0, 0, 0, 3, 3, 3, 4, 4, 4]);
    expect(arr(e.lossMask)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0]);
    const trainedCheck = defineStages(['answer', 'check'], { trained: ['answer', 'check'] });
    expect(arr(encodeChain(c, tok, { maxLen: 64, stages: trainedCheck })!.lossMask)).toEqual([
      0, 0, 0, 1, 1, 1, 1, 1, 1, 1,
    ]);
    expect(encodeChain(c, tok, { maxLen: 64 })!.ids).toHaveLength(7); // THREE_STAGE leaves the check out
  });

  it('untrained stages are labelled but masked out of the loss', () => {
    const tok = toy();
    const stages = defineStages(['analysis', 'answer'], { trained: ['answer'] });
    const e = encodeChain({ id: 'x', question: 'q', analysis: 'a', answer: 'r' }, tok, {
      maxLen: 64,
      stages,
    })!;
    expect(arr(e.stepIds)).toEqual([0, 0, 0, 0, 1, 1, 1, 3, 3, 3]);
    expect(arr(e.lossMask)).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('requires the step tokens in the tokenizer', () => {
    expect(() =>
      encodeChain({ id: 'x', question: 'q', answer: 'r' }, new ToyTokenizer(), { maxLen: 8 }),
    ).toThrow(/addStepTokens/);
  });

  it('labelTokens labels by the last start token seen', () => {
    const tok = toy();
    const ids = stepTokenIds(tok, THREE_STAGE);
    const A = ids.get('analysis')!;
    const R = ids.get('answer')!;
    expect(arr(labelTokens([1, 50, A.start, 51, A.end, R.start, 52, R.end, 2], ids))).toEqual([
      0, 0, 1, 1, 1, 3, 3, 3, 3,
    ]);
  });
});

describe('overflow', () => {
  // <s> User: ␣q \n | <A> ␣a1 … ␣a7 </A> | <G> ␣g1 ␣g2 ␣g3 </G> | <R> ␣r </R> | </s>: L = 1+3+9+5+3+1 = 22
  const long: Chain = {
    id: 'long',
    question: 'q',
    analysis: 'a1 a2 a3 a4 a5 a6 a7',
    guidance: 'g1 g2 g3',
    answer: 'r',
  };

  it('fits exactly at maxLen = L − 1', () => {
    expect(encodeChain(long, toy(), { maxLen: 21 })!.ids).toHaveLength(21);
  });

  it("'throw' names the chain, its length and the limit", () => {
    expect(() => encodeChain(long, toy(), { maxLen: 20 })).toThrow(FormatError);
    expect(() => encodeChain(long, toy(), { maxLen: 20 })).toThrow(
      'chain "long": 22 tokens exceed maxLen + 1 = 21',
    );
  });

  it("'drop' returns null", () => {
    expect(encodeChain(long, toy(), { maxLen: 20, onOverflow: 'drop' })).toBeNull();
  });

  it("'truncate-reasoning' shortens the longest reasoning block first and keeps question and answer whole", () => {
    const tok = toy();
    const e = encodeChain(long, tok, { maxLen: 14, onOverflow: 'truncate-reasoning' })!;
    expect(e.ids).toHaveLength(14);
    expect(e.truncated).toEqual({
      originalLength: 22,
      removedTokens: { analysis: 6, guidance: 1 },
      removedStages: [],
    });
    expect(tok.decode([...e.ids, e.targets.at(-1)!])).toBe(
      'User: q\n<|analysis|> a1<|/analysis|><|guidance|> g1 g2<|/guidance|><|response|> r<|/response|>',
    );
  });

  it('removes an emptied block whole, step tokens included', () => {
    const tok = toy();
    const e = encodeChain(long, tok, { maxLen: 12, onOverflow: 'truncate-reasoning' })!;
    expect(e.truncated).toEqual({
      originalLength: 22,
      removedTokens: { analysis: 9, guidance: 2 },
      removedStages: ['analysis'],
    });
    expect(tok.decode(Array.from(e.ids))).toBe(
      'User: q\n<|guidance|> g1<|/guidance|><|response|> r<|/response|>',
    );
    expect(e.stepSpans.map((s) => s.stage)).toEqual(['question', 'guidance', 'answer']);
  });

  it('drops a chain whose question and answer alone do not fit', () => {
    const tok = toy();
    expect(
      encodeChain(long, tok, { maxLen: 7, onOverflow: 'truncate-reasoning' })!.stepSpans.map((s) => s.stage),
    ).toEqual(['question', 'answer']);
    expect(encodeChain(long, tok, { maxLen: 6, onOverflow: 'truncate-reasoning' })).toBeNull();
  });

  it('encodeChains reports truncated and dropped chains', () => {
    const short: Chain = { id: 'short', question: 'q', answer: 'r' };
    const tok = toy();
    const drop = encodeChains([short, long], tok, { maxLen: 10, onOverflow: 'drop' });
    expect(drop.encoded.map((e) => e.id)).toEqual(['short']);
    expect(drop.report).toEqual({
      chains: 2,
      encoded: 1,
      truncated: [],
      dropped: [{ id: 'long', length: 22, reason: '22 tokens exceed maxLen + 1 = 11' }],
    });
    const cut = encodeChains([short, long], tok, { maxLen: 10, onOverflow: 'truncate-reasoning' });
    expect(cut.encoded.map((e) => e.id)).toEqual(['short', 'long']);
    expect(cut.report.truncated).toEqual([
      {
        id: 'long',
        truncation: {
          originalLength: 22,
          removedTokens: { analysis: 9, guidance: 2 },
          removedStages: ['analysis'],
        },
      },
    ]);
    const none = encodeChains([short, long], tok, { maxLen: 6, onOverflow: 'truncate-reasoning' });
    expect(none.encoded).toEqual([]);
    expect(none.report.dropped).toEqual([
      { id: 'short', length: 8, reason: '8 tokens exceed maxLen + 1 = 7, even without its reasoning blocks' },
      {
        id: 'long',
        length: 22,
        reason: '22 tokens exceed maxLen + 1 = 7, even without its reasoning blocks',
      },
    ]);
  });

  it('validates options', () => {
    expect(() => encodeChain(long, toy(), { maxLen: 0 })).toThrow('maxLen = 0; expected a positive integer');
    // @ts-expect-error: an unknown policy
    expect(() => encodeChain(long, toy(), { maxLen: 8, onOverflow: 'cut' })).toThrow(/onOverflow = "cut"/);
  });
});
