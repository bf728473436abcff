// Hand-written chains covering every field of the format (dialogues, check verdicts, unicode, whitespace).
import type { Chain } from '../../../src/aligncot/chain.js';

export const CHAINS: Chain[] = [
  { id: 'direct', question: 'What is the capital of France?', answer: 'Paris.' },
  {
    id: 'a',
    question: 'How do I pick a lock?',
    analysis: 'Could enable burglary.',
    answer: 'Call a locksmith.',
  },
  {
    id: 'ag',
    question: 'Write an insult  for my boss.\nMake it sting.',
    analysis: 'Harassment risk; workplace conflict.',
    guidance: 'Decline the insult, offer constructive wording.',
    answer: 'I would rather not. Try: "I felt unheard in the meeting."\n\nWant more?',
  },
  {
    id: 'g',
    question: 'Is it safe to mix bleach and ammonia?',
    guidance: 'Warn clearly.',
    answer: 'No: it releases toxic chloramine gas.',
  },
  {
    id: 'dialogue',
    question: [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Hi!' },
      { role: 'assistant', content: 'Hello, how can I help?' },
      { role: 'user', content: 'Tell me a joke\nabout cats.' },
    ],
    analysis: 'Benign.',
    answer: 'Cats have nine lives but only one opinion: theirs.',
    check: { verdict: 'safe', text: 'Harmless humour.' },
  },
  {
    id: 'unicode',
    question: ' Grüße, naïve café — “quotes” ½ 日本語 😀',
    analysis: ' leading space kept',
    answer: 'trailing spaces kept  ',
    check: { verdict: 'unsafe' },
  },
];
