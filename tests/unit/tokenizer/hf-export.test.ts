// Writing a trained byte-level BPE back, with the step tokens added, as tokenizer.json + tokenizer_config.json in the
// layout HF tokenizers writes, and loading it through the HF library (hf-tokenizer.test.ts does the same for the real
// SmolLM2, Qwen2.5 and Llama-3.2 tokenizers).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveTokenizerFiles } from '../../../src/io/hf-tokenizer-files-node.js';
import { addStepTokens, trainBpe } from '../../../src/tokenizer/index.js';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import { hhRlhfTexts } from './corpus.js';
import { EXPORT_TEXTS, exportRoundTrip, readJson } from './hf-models.js';

const root = await mkdtemp(join(tmpdir(), 'mote-hf-export-'));
afterAll(() => rm(root, { recursive: true, force: true }));

describe('export → reload', () => {
  it('a byte-level BPE trained by trainBpe', async () => {
    const tok = await trainBpe(hhRlhfTexts(60_000), { vocabSize: 700 });
    const steps = addStepTokens(tok);
    expect(steps.analysis.start).toBe(700);
    const back = await exportRoundTrip(tok, join(root, 'trained'));
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

  it('through saveTokenizerFiles, as `mote export` calls it', async () => {
    const tok = await trainBpe(hhRlhfTexts(20_000), { vocabSize: 400 });
    addStepTokens(tok);
    await saveTokenizerFiles(tok, join(root, 'via-io'));
    const back = await loadTokenizer(join(root, 'via-io'));
    expect(back.encode(EXPORT_TEXTS.at(-1)!)).toEqual(tok.encode(EXPORT_TEXTS.at(-1)!));
  });
});
