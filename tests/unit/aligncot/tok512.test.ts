// AlignCoT with the real llama2.c tok512 tokenizer: step tokens are single ids, format → tokenize → decode →
// parse round trips, a hand-checked encoding, and the committed sample dataset (examples/data/chains.jsonl).
import { describe, expect, it } from 'vitest';
import { encodeChain, encodeChains } from '../../../src/aligncot/encode.js';
import { formatChain, parseChainText } from '../../../src/aligncot/format.js';
import { loadChains } from '../../../src/aligncot/schema-node.js';
import { FOUR_STAGE, stageNames, THREE_STAGE } from '../../../src/aligncot/stages.js';
import { chainStats } from '../../../src/aligncot/stats.js';
import { STEP_TOKENS } from '../../../src/steps.js';
import { addStepTokens } from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { ROOT, TOK512_BIN } from '../../helpers/index.js';
import { CHAINS } from './sample-chains.js';

const tok = await loadLlama2cTokenizer(TOK512_BIN);
const ids = addStepTokens(tok, stageNames(FOUR_STAGE));

describe('tok512 step tokens', () => {
  it('get the ids after the 512 base pieces, start before end, in stage order', () => {
    expect(ids).toEqual({
      analysis: { start: 512, end: 513 },
      guidance: { start: 514, end: 515 },
      answer: { start: 516, end: 517 },
      check: { start: 518, end: 519 },
    });
  });

  it.each(Object.entries(STEP_TOKENS))(
    '%s tokens are single ids, alone and inside text',
    (stage, { start, end }) => {
      const { start: s, end: e } = ids[stage as keyof typeof ids];
      expect(tok.encode(start, { bos: false })).toEqual([s]);
      expect(tok.encode(end, { bos: false })).toEqual([e]);
      const inText = tok.encode(`x${start}y z${end}w`, { bos: false });
      expect(inText.filter((id) => id === s || id === e)).toEqual([s, e]);
      expect(inText.filter((id) => id >= 512)).toEqual([s, e]);
    },
  );
});

describe('tok512 round trip', () => {
  it.each(CHAINS.map((c) => [c.id, c]))('format → encode → decode → parse: %s', (_, c) => {
    for (const stages of [THREE_STAGE, FOUR_STAGE]) {
      const text = formatChain(c, stages);
      const decoded = tok.decode(tok.encode(text, { bos: true, eos: true }));
      expect(decoded).toBe(text);
      const { id: _id, meta: _meta, ...fields } = c;
      if (stages === THREE_STAGE) delete fields.check;
      expect(parseChainText(decoded)).toEqual(fields);
    }
  });
});

describe('tok512 encoding', () => {
  it('matches the hand-checked ids, step ids and loss mask', () => {
    const e = encodeChain(
      { id: 'x', question: 'Is it hot?', analysis: 'Safe.', answer: 'Yes, it is.' },
      tok,
      {
        maxLen: 64,
      },
    )!;
    // <s> ␣ U s er : ␣I s ␣it ␣h ot ? <0x0A> | <|analysis|> ␣S a f e . <|/analysis|> |
    // <|response|> ␣ Y es , ␣it ␣ is . <|/response|> | </s>
    const tokens = [
      1, 410, 471, 419, 285, 467, 359, 419, 312, 270, 309, 450, 13, 512, 301, 412, 431, 411, 426, 513, 516,
      410, 452, 406, 432, 312, 410, 293, 426, 517, 2,
    ];
    expect(Array.from(e.ids)).toEqual(tokens.slice(0, -1));
    expect(Array.from(e.targets)).toEqual(tokens.slice(1));
    expect(Array.from(e.stepIds)).toEqual([...Array(13).fill(0), ...Array(7).fill(1), ...Array(10).fill(3)]);
    expect(Array.from(e.lossMask)).toEqual([...Array(12).fill(0), ...Array(18).fill(1)]);
    expect(e.stepSpans).toEqual([
      { stage: 'question', start: 0, end: 13 },
      { stage: 'analysis', start: 13, end: 20 },
      { stage: 'answer', start: 20, end: 30 },
    ]);
    const span = (k: number) => tok.decode(Array.from(e.ids.slice(e.stepSpans[k].start, e.stepSpans[k].end)));
    expect([span(0), span(1), span(2)]).toEqual([
      'User: Is it hot?\n',
      '<|analysis|> Safe.<|/analysis|>',
      '<|response|> Yes, it is.<|/response|>',
    ]);
  });
});

describe('the sample dataset (examples/data/chains.jsonl)', async () => {
  const { chains, errors, counts } = await loadChains(`${ROOT}examples/data/chains.jsonl`, {
    onError: 'skip',
  });

  it('loads without errors', () => {
    expect(errors).toEqual([]);
    expect(counts.bad).toBe(0);
    expect(chains.length).toBeGreaterThanOrEqual(300);
  });

  it('round-trips every chain through tok512 and encodes within the stories260K context', () => {
    for (const c of chains) {
      const text = formatChain(c);
      expect(tok.decode(tok.encode(text, { bos: true, eos: true }))).toBe(text);
    }
    const { encoded, report } = encodeChains(chains, tok, { maxLen: 512, onOverflow: 'drop' });
    expect(report.encoded + report.dropped.length).toBe(chains.length);
    for (const e of encoded) expect(e.ids.length).toBeLessThanOrEqual(512);
  });

  it('has statistics in the documented ranges (about 30% answer-only)', () => {
    const s = chainStats(chains, { tokenizer: tok, selfBleuSample: 50 });
    expect(s.withStage.answer).toBe(chains.length);
    expect(s.answerOnlyShare).toBeGreaterThan(0.2);
    expect(s.answerOnlyShare).toBeLessThan(0.4);
    expect(s.selfBleu4!.value).toBeGreaterThan(0);
    expect(s.selfBleu4!.value).toBeLessThan(0.5);
  });
});
