// Golden parity with llama2.c: `./run stories260K.bin -z tok512.bin -t 0.0 -n 200` (karpathy/llama2.c test_all.py).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generate/generate.js';
import { loadLlama2c } from '../../src/io/llama2c-node.js';
import type { Transformer } from '../../src/model/transformer.js';
import type { Llama2cTokenizer } from '../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../src/tokenizer/llama2c-tokenizer-node.js';
import { GOLDEN_200 } from '../helpers/golden.js';
import { onBackend, STORIES_BIN, TOK512_BIN } from '../helpers/index.js';

/** run.c semantics: `steps` counts positions, prompt tokens included. */
async function runc(
  model: Transformer,
  tok: Llama2cTokenizer,
  prompt: string,
  steps: number,
  decoder: 'host' | 'tensor',
) {
  const promptIds = tok.encode(prompt, { bos: true });
  const r = await generate(model, tok, promptIds, {
    temperature: 0,
    maxTokens: steps - promptIds.length + 1,
    decoder,
  });
  return { ...r, full: tok.decode([...promptIds, ...r.ids]) };
}

describe.each(['wasm', 'cpu'])('stories260K greedy parity on %s', (backend) => {
  let model: Transformer;
  let tok: Llama2cTokenizer;
  beforeAll(async () => {
    await tf.setBackend(backend);
    model = await loadLlama2c(STORIES_BIN);
    tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
  });
  afterAll(async () => {
    model.dispose();
    await tf.setBackend('wasm');
  });

  it.each(['host', 'tensor'] as const)(
    '200 steps from BOS reproduce the llama2.c golden text byte for byte (%s decoder)',
    async (decoder) => {
      const r = await runc(model, tok, '', 200, decoder);
      expect(r.text).toBe(GOLDEN_200);
      expect(r.ids.length).toBe(200);
    },
  );

  it('a prompt counts toward the steps and continues like run.c', async () => {
    // run.c prints the prompt pieces then the continuation; the prompt's tokens are forced, not sampled.
    const host = await runc(model, tok, 'Once upon a time', 60, 'host');
    const tensor = await runc(model, tok, 'Once upon a time', 60, 'tensor');
    expect(host.ids).toEqual(tensor.ids);
    expect(host.promptIds.length + host.ids.length).toBe(61);
    // the golden continuation from BOS starts with this prompt, so greedy must follow it
    expect(`Once upon a time${host.text}`).toBe(GOLDEN_200.slice(0, `Once upon a time${host.text}`.length));
  });
});

it('host and tensor decoders agree on a prompt that leaves the golden path', async () => {
  const model = await loadLlama2c(STORIES_BIN);
  const tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
  const a = await runc(model, tok, 'The dragon and the robot', 80, 'host');
  const b = await onBackend('cpu', () => runc(model, tok, 'The dragon and the robot', 80, 'tensor'));
  expect(a.ids).toEqual(b.ids);
  expect(a.text.length).toBeGreaterThan(50);
  model.dispose();
});
