// Hand-built tokenizer.json objects, small enough to encode by hand (ids worked out in the tests that use them).
import { byteTokenPiece } from '../../../src/tokenizer/index.js';

/**
 * GPT-2-style byte-level BPE: 17 pieces, 7 merges, `<|endoftext|>` as BOS and EOS. `firstMerge` adds one more
 * merge at rank 0 (its piece gets id 17).
 */
export function gpt2Tiny(mergeForm: 'strings' | 'arrays' = 'strings', firstMerge?: [string, string]) {
  const merges = [
    ...(firstMerge ? [firstMerge] : []),
    ['h', 'e'],
    ['l', 'l'],
    ['he', 'll'],
    ['hell', 'o'],
    ['Ġ', 'w'],
    ['o', 'r'],
    ['Ġw', 'or'],
  ];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 0,
        content: '<|endoftext|>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: {
        '<|endoftext|>': 0,
        h: 1,
        e: 2,
        l: 3,
        o: 4,
        Ġ: 5,
        w: 6,
        r: 7,
        d: 8,
        he: 9,
        ll: 10,
        hell: 11,
        hello: 12,
        Ġw: 13,
        or: 14,
        Ġwor: 15,
        '!': 16,
        ...(firstMerge ? { [firstMerge.join('')]: 17 } : {}),
      },
      merges: mergeForm === 'strings' ? merges.map((m) => m.join(' ')) : merges,
    },
  };
}

/**
 * SentencePiece-style Llama BPE as HF converts it: <unk> <s> </s>, the 256 `<0xNN>` byte pieces (3..258), then
 * ▁ h i ▁h ▁hi e (259..264) with merges ▁+h, ▁h+i. `legacy` is the normalizer form (Prepend ▁ + Replace),
 * `metaspace` the newer pre-tokenizer form (prepend_scheme "first", no split), as transformers' LlamaConverter
 * writes them; both decode with Replace ▁ → ' ', ByteFallback, Fuse, Strip one leading space.
 */
export function llamaTiny(form: 'legacy' | 'metaspace', byteFallback = true) {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[byteTokenPiece(b)] = 3 + b;
  Object.assign(vocab, { '▁': 259, h: 260, i: 261, '▁h': 262, '▁hi': 263, e: 264 });
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const legacy = form === 'legacy';
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: legacy
      ? {
          type: 'Sequence',
          normalizers: [
            { type: 'Prepend', prepend: '▁' },
            { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
          ],
        }
      : null,
    pre_tokenizer: legacy
      ? null
      : { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
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
      byte_fallback: byteFallback,
      ignore_merges: false,
      vocab,
      merges: ['▁ h', '▁h i'],
    },
  };
}
