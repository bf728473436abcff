// Tokenizer files of an exported HF model or PEFT adapter directory: tokenizer.json + tokenizer_config.json, from a
// Hugging Face tokenizer (tokenizer/load-tokenizer.ts `saveHfTokenizer`: the loaded files, or the tokenizer.json
// assembled from slow files, with the step tokens in added_tokens) or from a llama2.c tokenizer.bin converted the way
// transformers' LlamaConverter converts a SentencePiece model (▁ for space, byte fallback, merges of every two-piece
// split ordered by the merged piece's score; tests/unit/tokenizer/hf-llama-parity.test.ts shows it encodes like run.c),
// with the non-legacy Metaspace pre-tokenizer so text after a step token gets no dummy-prefix space, as in run.c.
// Added special tokens (the step tokens) go into `added_tokens` with their ids. The files are built in memory here;
// hf-tokenizer-files-node.ts writes them into a directory.
import { HfTokenizer } from '../tokenizer/hf-tokenizer.js';
import { BYTE_TOKEN_OFFSET, readLlama2cVocab } from '../tokenizer/llama2c-format.js';
import { Llama2cTokenizer } from '../tokenizer/llama2c-tokenizer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { TOKENIZER_FILE_NAMES } from '../tokenizer/tokenizer-files.js';
import { addedTokenJson } from '../tokenizer/tokenizer-json.js';

const CONTROL = ['<unk>', '<s>', '</s>'];
/** Ids below this are control and byte pieces, which are never the result of a merge. */
const FIRST_MERGED_ID = BYTE_TOKEN_OFFSET + 256;

export interface TokenizerFilesOptions {
  /** The tokenizer.bin a Llama2cTokenizer was read from (its scores are needed for the merges), by path (Node). */
  llama2cPath?: string;
  /** …or its bytes. */
  llama2cBin?: Uint8Array;
}

/** Whether this tokenizer's files can be written (an HfTokenizer, or a llama2.c one with its tokenizer.bin). */
export function canSaveTokenizerFiles(tokenizer: Tokenizer, options: TokenizerFilesOptions = {}): boolean {
  return (
    tokenizer instanceof HfTokenizer ||
    (tokenizer instanceof Llama2cTokenizer && !!(options.llama2cPath || options.llama2cBin))
  );
}

/**
 * tokenizer.json and tokenizer_config.json of `tokenizer` (file name → text), as transformers'
 * `AutoTokenizer.from_pretrained` and our `loadTokenizer` read them, with its added special tokens. A llama2.c
 * tokenizer needs its tokenizer.bin's bytes (`llama2cBin`; `file` names it in errors).
 */
export function tokenizerFileTexts(
  tokenizer: Tokenizer,
  llama2cBin?: Uint8Array,
  file = 'tokenizer.bin',
): Map<string, string> {
  const text = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const N = TOKENIZER_FILE_NAMES;
  if (tokenizer instanceof HfTokenizer)
    return new Map([
      [N.tokenizerJson, text(tokenizer.toTokenizerJson())],
      [N.tokenizerConfig, text(tokenizer.toTokenizerConfig())],
    ]);
  if (!(tokenizer instanceof Llama2cTokenizer))
    throw new Error('tokenizer files: expected an HfTokenizer or a Llama2cTokenizer');
  if (!llama2cBin)
    throw new Error('tokenizer files: a llama2.c tokenizer needs the tokenizer.bin it came from');
  const json = llama2cTokenizerJson(llama2cBin, tokenizer.baseVocabSize, tokenizer.specialTokens, file);
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    additional_special_tokens: [...tokenizer.specialTokens.keys()],
  };
  return new Map([
    [N.tokenizerJson, text(json)],
    [N.tokenizerConfig, text(config)],
  ]);
}

/**
 * The tokenizer.json object of a llama2.c tokenizer.bin of `vocabSize` pieces plus `special` tokens (piece → id;
 * ids ≥ vocabSize must follow densely). `file` names the .bin in errors.
 */
export function llama2cTokenizerJson(
  bin: Uint8Array,
  vocabSize: number,
  special: ReadonlyMap<string, number>,
  file: string,
): Record<string, unknown> {
  const { pieces: raw, scores } = readLlama2cVocab(bin, file, vocabSize);
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const pieces = raw.map((p, id) =>
    id < CONTROL.length ? CONTROL[id] : decoder.decode(p).replaceAll(' ', '▁'),
  );
  const ids = new Map<string, number>();
  pieces.forEach((p, id) => {
    if (ids.has(p)) throw new Error(`${file}: pieces ${ids.get(p)} and ${id} are both ${JSON.stringify(p)}`);
    ids.set(p, id);
  });
  const merges: { left: string; right: string; score: number; id: number }[] = [];
  pieces.forEach((piece, id) => {
    if (id < FIRST_MERGED_ID) return;
    const chars = [...piece];
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      if ((ids.get(left) ?? 0) >= FIRST_MERGED_ID && (ids.get(right) ?? 0) >= FIRST_MERGED_ID)
        merges.push({ left, right, score: scores[id], id });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id);

  const added = [...special].sort((a, b) => a[1] - b[1]);
  let next = vocabSize;
  for (const [content, id] of added) {
    if (id < vocabSize && pieces[id] !== content)
      throw new Error(
        `${file}: special token ${JSON.stringify(content)} has id ${id}, whose piece is ${pieces[id]}`,
      );
    if (id >= vocabSize && id !== next++)
      throw new Error(
        `${file}: added token ${JSON.stringify(content)} has id ${id}; expected ${next - 1} (dense ids)`,
      );
  }
  const token = (id: number, content: string) => addedTokenJson(id, content, true);
  const bos = { SpecialToken: { id: '<s>', type_id: 0 } };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      ...CONTROL.map((c, id) => token(id, c)),
      ...added.filter(([c]) => !CONTROL.includes(c)).map(([c, id]) => token(id, c)),
    ],
    normalizer: null,
    // Metaspace with prepend_scheme "first" (transformers' non-legacy Llama): the dummy-prefix ▁ goes only before
    // the text at offset 0, never after an added token, as run.c's encode does (its one difference: a text that
    // already starts with a space gets no second ▁).
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [bos, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [bos, { Sequence: { id: 'A', type_id: 0 } }, bos, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(pieces.map((p, id) => [p, id])),
      merges: merges.map((m) => `${m.left} ${m.right}`),
    },
  };
}
