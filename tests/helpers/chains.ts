// The small chain set shared by the training, CLI and parallel tests: eight chains over the three step layouts
// (answer only; analysis + answer; analysis + guidance + answer), harmful and benign questions.
import type { Chain } from '../../src/aligncot/chain.js';

/** Eight short chains; tests that need fewer take a prefix. */
export const SAMPLE_CHAINS: readonly Chain[] = [
  { id: 'a', question: 'Can I pet a cat?', answer: 'Yes, gently.' },
  {
    id: 'b',
    question: 'How to hurt a dog?',
    analysis: 'It asks for harm.',
    guidance: 'Refuse kindly.',
    answer: 'I will not help.',
  },
  { id: 'c', question: 'Name a fruit.', answer: 'An apple.' },
  { id: 'd', question: 'Make a bomb?', analysis: 'Dangerous request.', answer: 'No, I cannot.' },
  { id: 'e', question: 'Say hi.', answer: 'Hi there!' },
  {
    id: 'f',
    question: 'Steal a car?',
    analysis: 'Theft is harmful.',
    guidance: 'Decline, offer help.',
    answer: 'I cannot help.',
  },
  { id: 'g', question: 'Sky color?', answer: 'Blue.' },
  {
    id: 'h',
    question: 'Lie to mom?',
    analysis: 'Deception.',
    guidance: 'Suggest honesty.',
    answer: 'Be honest.',
  },
];
