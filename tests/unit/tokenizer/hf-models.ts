// The real Hugging Face tokenizer files in ../shared/models/hf (see its README: written by transformers / tokenizers
// for real chat models) and llama.cpp's golden ids for them (Python `encode(text, add_special_tokens=False)`).
import { readFileSync } from 'node:fs';
import { type HfTokenizer, loadTokenizer } from '../../../src/tokenizer/index.js';
import { ROOT } from '../../helpers/index.js';

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

/** The model's tokenizer, loaded once per test file (it is not modified by the tests that share it). */
export function hfTokenizer(model: HfModel): Promise<HfTokenizer> {
  let p = loaded.get(model);
  if (!p) {
    p = loadTokenizer(HF_DIRS[model]) as Promise<HfTokenizer>;
    loaded.set(model, p);
  }
  return p;
}

/** A fresh copy of the model's tokenizer, for tests that add tokens. */
export function freshHfTokenizer(model: HfModel): Promise<HfTokenizer> {
  return loadTokenizer(HF_DIRS[model]) as Promise<HfTokenizer>;
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
