// Chains inside a real chat format: SmolLM2's tokenizer and ChatML template. The question is the user turn, the step
// blocks the assistant's reply, <|im_end|> its end; the loss covers exactly the step blocks and that <|im_end|>
// (checked by decoding the trained and the untrained ids).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Chain } from '../../../src/aligncot/chain.js';
import { encodeChain } from '../../../src/aligncot/encode.js';
import { formatBlocks, formatChain } from '../../../src/aligncot/format.js';
import { STEP_ID } from '../../../src/steps.js';
import { addStepTokens, chatFormat, type Tokenizer } from '../../../src/tokenizer/index.js';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import { HF_DIRS } from '../tokenizer/hf-models.js';

const SYSTEM =
  '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n';
const CHAIN: Chain = { id: 'c', question: 'pick lock?', analysis: 'risky', answer: 'ask locksmith' };
const BLOCKS = '<|analysis|> risky<|/analysis|><|response|> ask locksmith<|/response|>';

let tok: Tokenizer;
let imEnd: number;
beforeAll(async () => {
  tok = await loadTokenizer(HF_DIRS.smollm2); // its own copy: step tokens are added
  addStepTokens(tok);
  imEnd = tok.pieceToId('<|im_end|>')!;
});

/** The trained targets and the untrained sequence start (ids[0] and every target the mask leaves out). */
function split(e: NonNullable<ReturnType<typeof encodeChain>>) {
  const mask = Array.from(e.lossMask);
  const first = mask.indexOf(1);
  expect(
    mask.slice(first).every((m) => m === 1),
    'one trained run, to the end',
  ).toBe(true);
  return { untrained: [e.ids[0], ...e.targets.slice(0, first)], trained: Array.from(e.targets.slice(first)) };
}

describe('a chain in SmolLM2 ChatML', () => {
  it('is the rendered question with the generation prompt, the step blocks, then <|im_end|>', () => {
    expect(formatChain(CHAIN, undefined, chatFormat(tok).template)).toBe(
      `${SYSTEM}<|im_start|>user\npick lock?<|im_end|>\n<|im_start|>assistant\n${BLOCKS}`,
    );
    const e = encodeChain(CHAIN, tok, { maxLen: 128 })!;
    const full = [e.ids[0], ...e.targets];
    expect(full).toEqual([
      ...tok.encode(`${SYSTEM}<|im_start|>user\npick lock?<|im_end|>\n<|im_start|>assistant\n${BLOCKS}`, {
        bos: false,
      }),
      imEnd,
    ]);
  });

  it('has loss exactly on the step blocks and the closing <|im_end|>', () => {
    const e = encodeChain(CHAIN, tok, { maxLen: 128 })!;
    const { untrained, trained } = split(e);
    expect(trained.at(-1)).toBe(imEnd);
    expect(tok.idToPiece(trained.at(-1)!)).toBe('<|im_end|>');
    expect(tok.decode(trained.slice(0, -1))).toBe(BLOCKS);
    expect(untrained).toEqual(chatFormat(tok).promptIds([{ role: 'user', content: 'pick lock?' }]));
    // SmolLM2's EOS is <|im_end|>, which decode renders as nothing
    expect(tok.decode(untrained)).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face\n' +
        '<|im_start|>user\npick lock?\n<|im_start|>assistant\n',
    );
  });

  it('labels everything before the first step token as question', () => {
    const e = encodeChain(CHAIN, tok, { maxLen: 128 })!;
    const firstStep = Array.from(e.ids).indexOf(tok.pieceToId('<|analysis|>')!);
    expect(Array.from(e.stepIds.slice(0, firstStep)).every((s) => s === STEP_ID.question)).toBe(true);
    expect(e.stepSpans.map((s) => s.stage)).toEqual(['question', 'analysis', 'answer']);
    expect(e.stepSpans[0].end).toBe(firstStep);
    // the loss starts at the prediction of the first step token
    expect(Array.from(e.lossMask).indexOf(1)).toBe(firstStep - 1);
  });

  it('a multi-turn dialogue: earlier turns (an assistant one included) are question, untrained', () => {
    const chain: Chain = {
      id: 'd',
      question: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: 'pick lock?' },
      ],
      guidance: 'be careful',
      answer: 'ask a locksmith',
    };
    const e = encodeChain(chain, tok, { maxLen: 128 })!;
    const { untrained, trained } = split(e);
    expect(tok.decode(untrained)).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face\n' +
        '<|im_start|>user\nHi\n<|im_start|>assistant\nHello!\n<|im_start|>user\npick lock?\n<|im_start|>assistant\n',
    );
    // four turns before the reply close with <|im_end|> (system, user, assistant, user), none of them trained
    expect(untrained.filter((id) => id === imEnd)).toHaveLength(4);
    expect(tok.decode(trained.slice(0, -1))).toBe(formatBlocks(chain));
    expect(trained.at(-1)).toBe(imEnd);
    expect(e.stepSpans.map((s) => s.stage)).toEqual(['question', 'guidance', 'answer']);
  });

  it('truncates the reasoning, never the template, the answer or the end of turn', () => {
    const long: Chain = { ...CHAIN, analysis: 'risky '.repeat(20).trim() };
    const full = encodeChain(long, tok, { maxLen: 512 })!;
    const cut = encodeChain(long, tok, { maxLen: full.ids.length - 5, onOverflow: 'truncate-reasoning' })!;
    expect(cut.truncated?.removedTokens).toEqual({ analysis: 5 });
    expect(cut.targets.at(-1)).toBe(imEnd);
    expect(cut.lossMask.at(-1)).toBe(1);
    const { untrained } = split(cut);
    expect(untrained).toEqual(split(full).untrained);
  });
});
