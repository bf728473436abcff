// loadModel's tokenizer part for Hugging Face directories: the tokenizer files of the directory (any format) are read
// and checked against config.json's vocab_size before any weight is read; a tokenizer with more ids than the model
// has rows is refused, fewer (padding rows) is loaded.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveHfLlama } from '../../../src/io/hf-llama-node.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import { loadModel } from '../../../src/io/load-node.js';
import { STORIES_BIN } from '../../helpers/index.js';
import { llamaTiny } from '../tokenizer/fixtures.js';
import { HF_DIRS } from '../tokenizer/hf-models.js';

const root = await mkdtemp(join(tmpdir(), 'mote-load-'));
afterAll(() => rm(root, { recursive: true, force: true }));

describe('loadModel(dir): the tokenizer', () => {
  it('is refused, before any weight is read, when it has more ids than config.json has rows', async () => {
    const dir = join(root, 'small-vocab'); // config.json and a tokenizer only: reading weights would fail otherwise
    await cp(HF_DIRS.qwen25, dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'qwen2', vocab_size: 151_000 }));
    await expect(loadModel(dir)).rejects.toThrow(
      /tokenizer .*small-vocab has 151665 ids but model .*small-vocab \(config\.json vocab_size\) has only 151000 embedding rows/,
    );
  });

  it('names a bad tokenizer file before any weight is read', async () => {
    const dir = join(root, 'bad-tokenizer');
    await cp(HF_DIRS.smollm2, dir, { recursive: true });
    await writeFile(join(dir, 'tokenizer.json'), '{"model": ');
    await expect(loadModel(dir)).rejects.toThrow(/bad-tokenizer\/tokenizer\.json: not valid JSON/);
  });

  it('with fewer ids than rows is loaded, and an explicit tokenizer path is used', async () => {
    const dir = join(root, 'padded');
    const model = await loadLlama2c(STORIES_BIN);
    await saveHfLlama(model, dir); // 512 rows
    model.dispose();
    const tokenizer = join(root, 'tiny-tokenizer.json');
    await writeFile(tokenizer, JSON.stringify(llamaTiny('legacy'))); // 265 ids
    const loaded = await loadModel(dir, { tokenizer });
    expect([loaded.tokenizer.vocabSize, loaded.model.config.vocabSize]).toEqual([265, 512]);
    loaded.model.dispose();
  });
});
