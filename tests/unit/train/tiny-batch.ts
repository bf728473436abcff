// A tiny MoTE batch shared by the gradient tests (backprop, checkpoint-blocks): two rows of eight ids on the
// tiny-test model and their step labels, every step expert reached.
import { resolveModelConfig } from '../../../src/model/config.js';

export const tiny = resolveModelConfig({}, 'tiny-test');
export const ids = [
  [1, 5, 9, 3, 7, 2, 11, 4],
  [1, 8, 8, 6, 0, 13, 12, 10],
];
export const labels = [
  ['question', 'question', 'analysis', 'analysis', 'guidance', 'answer', 'answer', 'answer'],
  ['question', 'question', 'question', 'answer', 'answer', 'answer', 'answer', null],
] as const;
