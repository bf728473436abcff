import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { llama2cFileSize, parseLlama2c } from '../../../src/io/llama2c.js';
import { loadLlama2c, saveLlama2c } from '../../../src/io/llama2c-node.js';
import { Transformer } from '../../../src/model/transformer.js';
import { expectClose, STORIES_BIN } from '../../helpers/index.js';

describe('llama2.c checkpoints', () => {
  it('reads the stories260K header and size', async () => {
    const model = await loadLlama2c(STORIES_BIN);
    expect(model.config).toMatchObject({
      dim: 64,
      hiddenDim: 172,
      numLayers: 5,
      numHeads: 8,
      numKvHeads: 4,
      vocabSize: 512,
      maxSeqLen: 512,
      tiedEmbeddings: true,
    });
    expect(llama2cFileSize(model.config)).toBe(1_056_540);
    expect(model.parameterCount()).toBe(260_032); // 512·64 + 5·(2·64 + 64·64·2 + 64·32·2 + 3·64·172) + 64
    expect(model.trainableVariables()).toHaveLength(0);
    model.dispose();
  });

  it.each([true, false])('save → load round-trips exactly (tied head: %s)', async (tied) => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-'));
    const model = Transformer.init(
      {
        dim: 16,
        hiddenDim: 40,
        numLayers: 2,
        numHeads: 4,
        numKvHeads: 2,
        vocabSize: 64,
        maxSeqLen: 32,
        tiedEmbeddings: tied,
      },
      'rt',
    );
    await saveLlama2c(model, join(dir, 'm.bin'));
    const back = await loadLlama2c(join(dir, 'm.bin'));
    expect(back.config).toEqual(model.config);
    const a = model.logits([[1, 2, 3]]);
    const b = back.logits([[1, 2, 3]]);
    expectClose(a, b, 0, 0);
    a.dispose();
    b.dispose();
    model.dispose();
    back.dispose();
  });

  it('rejects a truncated file, naming the file, the sizes and the header', async () => {
    const buf = await readFile(STORIES_BIN);
    const dir = await mkdtemp(join(tmpdir(), 'mote-'));
    const path = join(dir, 'cut.bin');
    await writeFile(path, buf.subarray(0, buf.length - 100));
    await expect(loadLlama2c(path)).rejects.toThrow(
      `${path}: size 1056440 bytes does not match its header (dim 64, layers 5, vocab_size 512): expected 1056540 bytes (truncated?)`,
    );
  });

  it('rejects a bad header field and a too-short file', () => {
    const buf = new Uint8Array(28);
    new Int32Array(buf.buffer).set([64, 172, 5, 7, 4, 512, 512]);
    expect(() => parseLlama2c(buf, 'x.bin')).toThrow(
      'x.bin:header field dim: 64 is invalid; expected a multiple of numHeads (7)',
    );
    expect(() => parseLlama2c(new Uint8Array(10), 'y.bin')).toThrow(
      /y.bin:byte 0: file has 10 bytes, shorter than the 28-byte llama2.c header/,
    );
    new Int32Array(buf.buffer).set([0x616b3432, 1]);
    expect(() => parseLlama2c(buf, 'v1.bin')).toThrow(/versioned llama2.c export/);
  });

  it('refuses to save what a llama2.c file cannot hold: head size, RoPE scaling, biases', async () => {
    const model = Transformer.init({
      dim: 16,
      numHeads: 2,
      numKvHeads: 1,
      headDim: 6,
      ropeScaling: { type: 'linear', factor: 2 },
      biases: ['q', 'k', 'v'],
    });
    const dir = await mkdtemp(join(tmpdir(), 'mote-'));
    await expect(saveLlama2c(model, join(dir, 'x.bin'))).rejects.toThrow(
      'saveLlama2c: a llama2.c checkpoint cannot hold headDim 6 ≠ dim / numHeads (8); RoPE scaling (linear); biases on q, k, v; save as a Hugging Face directory (saveHfLlama)',
    );
    model.dispose();
  });
});
