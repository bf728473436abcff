// The real Hugging Face tokenizer files in ../shared/models/hf (see its README: written by transformers / tokenizers
// for real chat models) and llama.cpp's golden ids for them (Python `encode(text, add_special_tokens=False)`).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { STEP_TOKENS } from '../../../src/steps.js';
import type { HfTokenizer } from '../../../src/tokenizer/index.js';
import { loadTokenizer, saveHfTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import { ROOT } from '../../helpers/index.js';
import { ROUND_TRIP } from './corpus.js';

export const HF_MODELS = `${ROOT}../shared/models/hf`;

/** Model directories by short name; each holds one tokenizer format. */
export const HF_DIRS = {
  /** tokenizer.json: byte-level BPE with a Digits pre-tokenizer; no BOS added. */
  smollm2: `${HF_MODELS}/smollm2-135m-instruct`,
  /** tokenizer.json: Llama-2 SentencePiece BPE (legacy normalizer), byte fallback, BOS `<s>`. */
  tinyllama: `${HF_MODELS}/tinyllama-1.1b-chat-v1.0`,
  /** tokenizer.json: Llama-2-style, no BOS added (add_bos_token false). */
  phi35: `${HF_MODELS}/phi-3.5-mini-instruct`,
  /** vocab.json + merges.txt + tokenizer_config.json (22 added tokens, ids 151643–151664). */
  qwen25: `${HF_MODELS}/qwen2.5-0.5b-instruct`,
  /** encoder.json + vocab.bpe (Llama-3 ranks, no special tokens) + chat_template.jinja. */
  llama32: `${HF_MODELS}/llama-3.2-1b-instruct`,
} as const;

export type HfModel = keyof typeof HF_DIRS;

const loaded = new Map<HfModel, Promise<HfTokenizer>>();

/** The model's tokenizer, loaded once per test file (shared: a test that adds tokens says so). */
export function hfTokenizer(model: HfModel): Promise<HfTokenizer> {
  let p = loaded.get(model);
  if (!p) {
    p = loadTokenizer(HF_DIRS[model]) as Promise<HfTokenizer>;
    loaded.set(model, p);
  }
  return p;
}

/** One golden case: the text and Python's ids for it. */
export interface GoldenCase {
  text: string;
  ids: number[];
}

/** NAME.inp (texts separated by `\n__ggml_vocab_test__\n`) with NAME.out (one line of ids per text). */
export function goldenCases(name: string): GoldenCase[] {
  const dir = `${HF_MODELS}/golden-ids`;
  const texts = readFileSync(`${dir}/${name}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  if (texts.at(-1) === '') texts.pop(); // the file ends with a separator
  const lines = readFileSync(`${dir}/${name}.out`, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== texts.length)
    throw new Error(`${name}: ${texts.length} texts but ${lines.length} lines of ids`);
  return texts.map((text, i) => {
    const line = lines[i].trim();
    return { text, ids: line === '' ? [] : line.split(/\s+/).map(Number) };
  });
}

const { analysis, guidance, answer } = STEP_TOKENS;
/** Texts an export must encode as before: non-ASCII, step tokens, chat markers and control tokens as text. */
export const EXPORT_TEXTS = [
  ...ROUND_TRIP,
  `${analysis.start}Grüße — 日本語 😀${analysis.end}${guidance.start}x${guidance.end}`,
  `User: hi<|im_start|>${answer.start}Пока!${answer.end}</s>`,
];

/** A JSON file, parsed. */
export const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8'));

/**
 * Saves `tok` (with the step tokens added) into `dir`, loads it back, and checks what every export must keep: ids,
 * BOS/EOS, the chat template, the step tokens special in tokenizer.json and in tokenizer_config.json.
 */
export async function exportRoundTrip(tok: HfTokenizer, dir: string): Promise<HfTokenizer> {
  await saveHfTokenizer(tok, dir);
  const back = (await loadTokenizer(dir)) as HfTokenizer;
  expect([back.vocabSize, back.bosId, back.eosId]).toEqual([tok.vocabSize, tok.bosId, tok.eosId]);
  expect([back.bosToken, back.eosToken, back.chatTemplate]).toEqual([
    tok.bosToken,
    tok.eosToken,
    tok.chatTemplate,
  ]);
  expect([...back.specialTokens]).toEqual([...tok.specialTokens]);
  for (const text of EXPORT_TEXTS) {
    const ids = tok.encode(text, { eos: true });
    expect(back.encode(text, { eos: true })).toEqual(ids);
    expect(back.decode(ids)).toBe(tok.decode(ids));
  }
  const json = await readJson(join(dir, 'tokenizer.json'));
  const steps = json.added_tokens.filter(
    (t: { content: string }) => t.content.startsWith('<|') && /analysis|guidance|response/.test(t.content),
  );
  expect(steps).toEqual(
    [analysis, guidance, answer]
      .flatMap((s) => [s.start, s.end])
      .map((content) => ({
        id: tok.specialTokens.get(content),
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
  );
  const config = await readJson(join(dir, 'tokenizer_config.json'));
  expect(config.additional_special_tokens).toEqual(expect.arrayContaining([analysis.start, answer.end]));
  expect(config.added_tokens_decoder[String(tok.specialTokens.get(analysis.start))]).toMatchObject({
    content: analysis.start,
    special: true,
  });
  return back;
}
