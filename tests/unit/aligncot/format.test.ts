// Chain ⇄ text: the documented template, and format → tokenize → decode → parse round trips.
import { describe, expect, it } from 'vitest';
import type { Chain } from '../../../src/aligncot/chain.js';
import { formatChain, formatQuestion, parseChainText } from '../../../src/aligncot/format.js';
import { FOUR_STAGE, stageNames, THREE_STAGE } from '../../../src/aligncot/stages.js';
import { addStepTokens } from '../../../src/tokenizer/special-tokens.js';
import { FormatError } from '../../../src/util/errors.js';
import { CHAINS } from './sample-chains.js';
import { ToyTokenizer } from './toy-tokenizer.js';

/** The chain fields parseChainText gives back for a chain formatted with `stages`. */
function expected(c: Chain, stages = THREE_STAGE) {
  const { id: _id, meta: _meta, ...fields } = c;
  if (!stageNames(stages).includes('check')) delete fields.check;
  return fields;
}

describe('formatChain', () => {
  it('renders the documented template', () => {
    expect(formatChain(CHAINS[2])).toBe(
      'User: Write an insult  for my boss.\nMake it sting.\n' +
        '<|analysis|> Harassment risk; workplace conflict.<|/analysis|>' +
        '<|guidance|> Decline the insult, offer constructive wording.<|/guidance|>' +
        '<|response|> I would rather not. Try: "I felt unheard in the meeting."\n\nWant more?<|/response|>',
    );
  });

  it('renders dialogues as Role: lines, and the check only with FOUR_STAGE', () => {
    const c = CHAINS[4];
    const q =
      'System: You are helpful.\nUser: Hi!\nAssistant: Hello, how can I help?\nUser: Tell me a joke\nabout cats.\n';
    expect(formatQuestion(c.question)).toBe(q);
    expect(formatChain(c)).toBe(`${q}<|analysis|> Benign.<|/analysis|><|response|> ${c.answer}<|/response|>`);
    expect(formatChain(c, FOUR_STAGE)).toBe(
      `${q}<|analysis|> Benign.<|/analysis|><|response|> ${c.answer}<|/response|><|check|> safe: Harmless humour.<|/check|>`,
    );
    expect(formatChain(CHAINS[5], FOUR_STAGE).endsWith('<|check|> unsafe<|/check|>')).toBe(true);
  });

  it('a string question renders like a one-turn user dialogue', () => {
    expect(formatQuestion('Hi?')).toBe(formatQuestion([{ role: 'user', content: 'Hi?' }]));
  });

  it('refuses a text containing a step token', () => {
    const bad = { id: 'x', question: 'q <|response|>', answer: 'a' };
    expect(() => formatChain(bad)).toThrow(FormatError);
    expect(() => formatChain(bad)).toThrow(
      'chain "x": expected text without the reserved step token <|response|>',
    );
  });
});

describe('parseChainText', () => {
  it.each(CHAINS.map((c) => [c.id, c]))('inverts formatChain: %s', (_, c) => {
    expect(parseChainText(formatChain(c))).toEqual(expected(c));
    expect(parseChainText(formatChain(c, FOUR_STAGE))).toEqual(expected(c, FOUR_STAGE));
  });

  it('returns a one-turn user dialogue as a string question', () => {
    const c: Chain = { id: 'x', question: [{ role: 'user', content: 'Hi?' }], answer: 'Hello.' };
    expect(parseChainText(formatChain(c))).toEqual({ question: 'Hi?', answer: 'Hello.' });
  });

  it('tolerates whitespace between and after blocks and a missing space after a start token', () => {
    const text = 'User: q\n<|analysis|>a<|/analysis|>\n <|response|> b<|/response|>\n';
    expect(parseChainText(text)).toEqual({ question: 'q', analysis: 'a', answer: 'b' });
  });

  it.each([
    ['no step token', 'User: q\nanswer', /offset 14: expected a step start token/],
    [
      'question without newline',
      'User: q<|response|> a<|/response|>',
      /offset 7: expected the question to end with a newline/,
    ],
    [
      'question without role',
      'q\n<|response|> a<|/response|>',
      /offset 0: expected a turn starting with "User: "/,
    ],
    [
      'unclosed block',
      'User: q\n<|response|> a',
      /offset 8: expected <\|\/response\|> to close <\|response\|>/,
    ],
    [
      'out of order',
      'User: q\n<|response|> a<|/response|><|analysis|> x<|/analysis|>',
      /expected stages in chain order/,
    ],
    [
      'repeated',
      'User: q\n<|response|> a<|/response|><|response|> b<|/response|>',
      /expected stages in chain order/,
    ],
    [
      'nested',
      'User: q\n<|analysis|> x<|response|> a<|/response|><|/analysis|>',
      /expected <\|\/analysis\|> before any other step token/,
    ],
    [
      'text after',
      'User: q\n<|response|> a<|/response|> trailing',
      /expected a step start token or the end of the text/,
    ],
    ['no answer', 'User: q\n<|analysis|> x<|/analysis|>', /expected an answer block/],
    [
      'bad verdict',
      'User: q\n<|response|> a<|/response|><|check|> fine<|/check|>',
      /expected a check "safe" or "unsafe"/,
    ],
  ])('rejects %s', (_, text, message) => {
    expect(() => parseChainText(text)).toThrow(FormatError);
    expect(() => parseChainText(text)).toThrow(message);
  });
});

describe.each(['word', 'char'] as const)('round trip with the %s-level toy tokenizer', (mode) => {
  const tok = new ToyTokenizer(mode);
  const ids = addStepTokens(tok, stageNames(FOUR_STAGE));

  it('step tokens are single ids', () => {
    for (const { start, end } of Object.values(ids)) {
      expect(start).not.toBe(end);
      for (const id of [start, end]) expect(tok.encode(tok.idToPiece(id), { bos: false })).toEqual([id]);
    }
  });

  it.each(CHAINS.map((c) => [c.id, c]))('format → encode → decode → parse: %s', (_, c) => {
    for (const stages of [THREE_STAGE, FOUR_STAGE]) {
      const text = formatChain(c, stages);
      const tokens = tok.encode(text, { bos: true, eos: true });
      expect(tok.decode(tokens)).toBe(text);
      expect(parseChainText(tok.decode(tokens))).toEqual(expected(c, stages));
    }
  });
});
