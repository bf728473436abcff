// EvalRecord: the JSONL form the generation side can write, and the text the classifier and the judge see.
import { describe, expect, it } from 'vitest';
import { answerText, type EvalRecord, parseEvalRecords } from '../../../src/eval/record.js';

const RECORD: EvalRecord = {
  id: 'q1',
  question: 'How do I bake bread?',
  harmful: false,
  source: 'alpaca',
  output: {
    text: '<|analysis|> Benign.<|/analysis|><|response|> Mix flour and water.<|/response|>',
    stages: { analysis: 'Benign.', answer: 'Mix flour and water.' },
    tokensPerStage: { analysis: 3, answer: 6 },
    totalTokens: 13,
  },
};

describe('parseEvalRecords', () => {
  it('reads records one per line, skipping blank lines', () => {
    const text = `${JSON.stringify(RECORD)}\n\n${JSON.stringify({ ...RECORD, id: 'q2', source: undefined })}\n`;
    expect(parseEvalRecords(text, 'r.jsonl').map((r) => r.id)).toEqual(['q1', 'q2']);
  });

  it.each([
    [{ ...RECORD, harmful: 'yes' }, 'field harmful: expected true or false'],
    [
      { ...RECORD, output: { ...RECORD.output, totalTokens: -1 } },
      'field output.totalTokens: expected a non-negative number of tokens',
    ],
    [
      { ...RECORD, output: { ...RECORD.output, tokensPerStage: { answer: 1.5 } } },
      'field output.tokensPerStage.answer: expected an integer number of tokens',
    ],
    [
      { ...RECORD, output: { ...RECORD.output, stages: { check: 'safe' } } },
      'field output.stages: unexpected key(s) "check"; expected an object {analysis?, guidance?, answer?}',
    ],
    [
      { ...RECORD, extra: 1 },
      'field (record): unexpected key(s) "extra"; expected a JSON object {id, question, harmful, source?, output}',
    ],
  ])('names the line and the field: %#', (record, reason) => {
    expect(() =>
      parseEvalRecords(`${JSON.stringify(RECORD).replace('q1', 'q0')}\n${JSON.stringify(record)}`, 'r.jsonl'),
    ).toThrow(`r.jsonl:2: ${reason}`);
  });

  it('rejects repeated ids, bad JSON and empty files', () => {
    const line = JSON.stringify(RECORD);
    expect(() => parseEvalRecords(`${line}\n${line}`, 'r.jsonl')).toThrow(
      'r.jsonl:2: field id: expected a unique id, got "q1" (first on line 1)',
    );
    expect(() => parseEvalRecords('{', 'r.jsonl')).toThrow(
      'r.jsonl:1: expected a JSON object, got invalid JSON',
    );
    expect(() => parseEvalRecords('\n', 'r.jsonl')).toThrow(
      'r.jsonl: expected at least one record, got none (empty file)',
    );
  });
});

describe('answerText', () => {
  it('is the answer block, or the text without step tokens when there is none', () => {
    expect(answerText(RECORD.output)).toBe('Mix flour and water.');
    const broken = {
      ...RECORD.output,
      text: '<|analysis|> Risky.<|/analysis|><|response|> I cannot',
      stages: { analysis: 'Risky.' },
    };
    expect(answerText(broken)).toBe('Risky.\nI cannot');
  });
});
