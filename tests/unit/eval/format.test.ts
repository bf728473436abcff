// Chain format adherence on hand-made good and bad outputs: every violation kind, stage patterns, token counts.
import { describe, expect, it } from 'vitest';
import { formatChain } from '../../../src/aligncot/format.js';
import { checkChainFormat, type FormatViolationKind, stagePattern } from '../../../src/eval/format.js';

const A = (s: string) => `<|analysis|> ${s}<|/analysis|>`;
const G = (s: string) => `<|guidance|> ${s}<|/guidance|>`;
const R = (s: string) => `<|response|> ${s}<|/response|>`;

/** [output text, expected violation kinds in order, expected stagesUsed]. */
const CASES: [string, string, FormatViolationKind[], string[]][] = [
  [
    'full chain',
    A('Risky.') + G('Decline kindly.') + R('I cannot help.'),
    [],
    ['analysis', 'guidance', 'answer'],
  ],
  ['answer only', R('Paris.'), [], ['answer']],
  ['analysis → answer, whitespace between', `${A('Fine.')}\n ${R('Sure.')}\n`, [], ['analysis', 'answer']],
  ['guidance → answer', G('Be brief.') + R('Yes.'), [], ['guidance', 'answer']],
  ['no step tokens at all', 'Just some text.', ['stray-text', 'missing-answer'], []],
  [
    'answer never closed',
    `${A('Risky.')}<|response|> I cannot`,
    ['unclosed', 'missing-answer'],
    ['analysis'],
  ],
  ['analysis not closed before answer', `<|analysis|> Risky.${R('No.')}`, ['unclosed'], ['answer']],
  ['end token without start', `Risky.<|/analysis|>${R('No.')}`, ['stray-text', 'unopened'], ['answer']],
  [
    'mismatched end token',
    `<|analysis|> Risky.<|/guidance|>${R('No.')}`,
    ['unopened', 'unclosed'],
    ['answer'],
  ],
  [
    'out of order',
    G('Be kind.') + A('Risky.') + R('No.'),
    ['out-of-order'],
    ['guidance', 'analysis', 'answer'],
  ],
  ['analysis after the answer', R('No.') + A('Risky.'), ['out-of-order'], ['answer', 'analysis']],
  ['duplicate stage', A('One.') + A('Two.') + R('No.'), ['duplicate'], ['analysis', 'answer']],
  ['empty answer', `${A('Risky.')}<|response|> <|/response|>`, ['empty-block'], ['analysis', 'answer']],
  ['text before the first block', `Hmm. ${R('No.')}`, ['stray-text'], ['answer']],
  ['text between blocks', `${A('Risky.')} so ${R('No.')}`, ['stray-text'], ['analysis', 'answer']],
  ['text after the answer', `${R('No.')} And another thing`, ['text-after-answer'], ['answer']],
  [
    'unknown stage token',
    `<|plan|> x<|/plan|>${R('No.')}`,
    ['unknown-stage', 'stray-text', 'unknown-stage'],
    ['answer'],
  ],
  [
    'check is not generated at inference',
    `${R('No.')}<|check|> safe<|/check|>`,
    ['unknown-stage', 'text-after-answer', 'unknown-stage'],
    ['answer'],
  ],
];

describe('checkChainFormat', () => {
  it.each(CASES)('%s', (_, text, kinds, used) => {
    const result = checkChainFormat(text);
    expect(result.violations.map((v) => v.kind)).toEqual(kinds);
    expect(result.wellFormed).toBe(kinds.length === 0);
    expect(result.stagesUsed).toEqual(used);
  });

  it('gives the content of each block, the pattern, and offsets of violations', () => {
    const text = `${A('Risky.')}<|response|> I cannot`;
    const r = checkChainFormat(text);
    expect(r.blocks).toEqual({ analysis: 'Risky.' });
    expect(r.pattern).toBe('no-answer');
    expect(r.violations[0]).toEqual({
      kind: 'unclosed',
      stage: 'answer',
      offset: text.indexOf('<|response|>'),
      detail: 'expected <|/response|> before the end of the text',
    });
    expect(checkChainFormat(A('a') + G('g') + R('r')).pattern).toBe('full');
  });

  it('accepts what formatChain writes (without the question line)', () => {
    const chain = { question: 'Q?', analysis: 'Risky.', guidance: 'Decline.', answer: 'No, sorry.' };
    const text = formatChain(chain).slice('User: Q?\n'.length);
    const r = checkChainFormat(text);
    expect(r.wellFormed).toBe(true);
    expect(r.blocks).toEqual({ analysis: 'Risky.', guidance: 'Decline.', answer: 'No, sorry.' });
  });

  it('allows the check stage after the answer when asked to', () => {
    const r = checkChainFormat(`${R('No.')}<|check|> safe<|/check|>`, {
      stages: ['analysis', 'guidance', 'answer', 'check'],
    });
    expect(r.violations).toEqual([]);
    expect(r.stagesUsed).toEqual(['answer', 'check']);
  });

  it('counts content tokens per stage and per answer with the given function', () => {
    const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
    const r = checkChainFormat(A('It asks for harm.') + R('I cannot help with that.'), {
      countTokens: words,
    });
    expect(r.tokensPerStage).toEqual({ analysis: 4, answer: 5 });
    expect(r.answerTokens).toBe(5);
    expect(checkChainFormat('<|response|> open', { countTokens: words }).answerTokens).toBeUndefined();
    expect(checkChainFormat(R('x')).tokensPerStage).toBeUndefined();
  });
});

describe('stagePattern', () => {
  it.each([
    [{ answer: 'a' }, 'answer-only'],
    [{ analysis: 'x', answer: 'a' }, 'analysis-answer'],
    [{ guidance: 'x', answer: 'a' }, 'guidance-answer'],
    [{ analysis: 'x', guidance: 'y', answer: 'a' }, 'full'],
    [{ analysis: 'x' }, 'no-answer'],
    [{ analysis: undefined, answer: '' }, 'answer-only'],
  ])('%j → %s', (stages, pattern) => {
    expect(stagePattern(stages)).toBe(pattern);
  });
});
