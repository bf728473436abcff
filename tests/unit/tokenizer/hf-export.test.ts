// Writing tokenizers back: a trained byte-level BPE and the real SmolLM2 (tokenizer.json), Qwen2.5 (vocab.json +
// merges.txt) and Llama-3.2 (encoder.json + vocab.bpe) tokenizers, with the step tokens added, saved as
// tokenizer.json + tokenizer_config.json and loaded back through the HF library: the same ids, the step tokens
// special in `added_tokens`, the chat template and BOS/EOS kept.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveTokenizerFiles } from '../../../src/io/hf-tokenizer-files.js';
import {
  addStepTokens,
  type HfTokenizer,
  loadTokenizer,
  STEP_TOKENS,
  saveHfTokenizer,
  trainBpe,
} from '../../../src/tokenizer/index.js';
import { hhRlhfTexts, ROUND_TRIP } from './corpus.js';
import { freshHfTokenizer } from './hf-models.js';

const root = await mkdtemp(join(tmpdir(), 'mote-hf-export-'));
afterAll(() => rm(root, { recursive: true, force: true }));

const { analysis, guidance, answer } = STEP_TOKENS;
const TEXTS = [
  ...ROUND_TRIP,
  `${analysis.start}Grüße — 日本語 😀${analysis.end}${guidance.start}x${guidance.end}`,
  `User: hi<|im_start|>${answer.start}Пока!${answer.end}</s>`,
];

const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8'));

/** Saves `tok` into a fresh directory, loads it back, and checks what every export must keep. */
async function roundTrip(tok: HfTokenizer, name: string): Promise<HfTokenizer> {
  const dir = join(root, name);
  await saveHfTokenizer(tok, dir);
  const back = (await loadTokenizer(dir)) as HfTokenizer;
  expect([back.vocabSize, back.bosId, back.eosId]).toEqual([tok.vocabSize, tok.bosId, tok.eosId]);
  expect([back.bosToken, back.eosToken, back.chatTemplate]).toEqual([
    tok.bosToken,
    tok.eosToken,
    tok.chatTemplate,
  ]);
  expect([...back.specialTokens]).toEqual([...tok.specialTokens]);
  for (const text of TEXTS) {
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

describe('export → reload', () => {
  it('a byte-level BPE trained by trainBpe', async () => {
    const tok = await trainBpe(hhRlhfTexts(60_000), { vocabSize: 700 });
    const steps = addStepTokens(tok);
    expect(steps.analysis.start).toBe(700);
    const back = await roundTrip(tok, 'trained');
    for (const text of hhRlhfTexts(20_000, 2000)) expect(back.encode(text)).toEqual(tok.encode(text));
    // the layout HF tokenizers writes: string merges, ByteLevel stages, a BOS template, specials first
    const json = await readJson(join(root, 'trained', 'tokenizer.json'));
    expect(json.model.merges[0]).toBe('Ġ t');
    expect(json.model.vocab['<s>']).toBe(1);
    expect(json.pre_tokenizer).toEqual({
      type: 'ByteLevel',
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: true,
    });
    expect(json.post_processor.single[0]).toEqual({ SpecialToken: { id: '<s>', type_id: 0 } });
    expect(json.added_tokens.slice(0, 3).map((t: { content: string }) => t.content)).toEqual([
      '<pad>',
      '<s>',
      '</s>',
    ]);
    const config = await readJson(join(root, 'trained', 'tokenizer_config.json'));
    expect(config).toMatchObject({
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: '<s>',
      eos_token: '</s>',
    });
  });

  it.each(['smollm2', 'qwen25', 'llama32'] as const)('%s with the step tokens', async (model) => {
    const tok = await freshHfTokenizer(model);
    addStepTokens(tok);
    await roundTrip(tok, model);
  });

  it('through saveTokenizerFiles, as `mote export` calls it', async () => {
    const tok = await trainBpe(hhRlhfTexts(20_000), { vocabSize: 400 });
    addStepTokens(tok);
    await saveTokenizerFiles(tok, join(root, 'via-io'));
    const back = await loadTokenizer(join(root, 'via-io'));
    expect(back.encode(TEXTS.at(-1)!)).toEqual(tok.encode(TEXTS.at(-1)!));
  });
});
