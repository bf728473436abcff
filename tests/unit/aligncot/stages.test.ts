// Stage sets as data: defaults, training flags, validation, and step token ids read from a tokenizer.
import { describe, expect, it } from 'vitest';
import {
  defineStages,
  FOUR_STAGE,
  stageNames,
  stepTokenIds,
  THREE_STAGE,
} from '../../../src/aligncot/stages.js';
import { STEP_ID, STEP_LABELS } from '../../../src/steps.js';
import { addStepTokens } from '../../../src/tokenizer/special-tokens.js';
import { ConfigError } from '../../../src/util/errors.js';
import { ToyTokenizer } from './toy-tokenizer.js';

describe('stages', () => {
  it('THREE_STAGE is analysis → guidance → answer, all trained, with the shared step tokens', () => {
    expect(THREE_STAGE).toEqual([
      { name: 'analysis', start: '<|analysis|>', end: '<|/analysis|>', trained: true },
      { name: 'guidance', start: '<|guidance|>', end: '<|/guidance|>', trained: true },
      { name: 'answer', start: '<|response|>', end: '<|/response|>', trained: true },
    ]);
  });

  it('FOUR_STAGE adds an untrained check', () => {
    expect(stageNames(FOUR_STAGE)).toEqual(['analysis', 'guidance', 'answer', 'check']);
    expect(FOUR_STAGE.map((s) => s.trained)).toEqual([true, true, true, false]);
    expect(FOUR_STAGE[3]).toMatchObject({ start: '<|check|>', end: '<|/check|>' });
  });

  it('step ids are fixed small ints in chain order', () => {
    expect(STEP_LABELS).toEqual(['question', 'analysis', 'guidance', 'answer', 'check']);
    expect(STEP_ID).toEqual({ question: 0, analysis: 1, guidance: 2, answer: 3, check: 4 });
  });

  it('trained can be chosen', () => {
    const s = defineStages(['analysis', 'answer', 'check'], { trained: ['answer', 'check'] });
    expect(s.map((x) => [x.name, x.trained])).toEqual([
      ['analysis', false],
      ['answer', true],
      ['check', true],
    ]);
  });

  it.each([
    [
      ['analysis', 'reflection', 'answer'],
      {},
      'stages[1] = "reflection"; expected one of analysis, guidance, answer, check',
    ],
    [['guidance', 'analysis', 'answer'], {}, 'stages[1] = "analysis"; expected stages in chain order'],
    [['answer', 'answer'], {}, 'stages[1] = "answer"'],
    [['analysis', 'guidance'], {}, 'expected a list containing "answer"'],
    [
      ['analysis', 'answer'],
      { trained: ['guidance'] },
      'trained[0] = "guidance"; expected one of the stages (analysis, answer)',
    ],
  ])('rejects %j %j', (names, options, message) => {
    expect(() => defineStages(names, options)).toThrow(ConfigError);
    expect(() => defineStages(names, options)).toThrow(message);
  });

  it('stepTokenIds reads the ids addStepTokens gave, and names a missing token', () => {
    const tok = new ToyTokenizer();
    expect(() => stepTokenIds(tok, THREE_STAGE)).toThrow(/<\|analysis\|>; call addStepTokens/);
    const added = addStepTokens(tok, stageNames(THREE_STAGE));
    expect(Object.fromEntries(stepTokenIds(tok, THREE_STAGE))).toEqual(added);
    expect(() => stepTokenIds(tok, FOUR_STAGE)).toThrow(/<\|check\|>/);
  });
});
