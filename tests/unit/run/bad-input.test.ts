// Bad Hugging Face base directories on the path a user takes (`mote train --base DIR`: planRun + trainRun; the
// inference commands: loadForInference): each refused with an error naming the file and the field or tensor, before
// any tensor's data is read (the large allocation), and with nothing written into the run directory. The loaders'
// own cases are in tests/unit/io (hf-config, hf-weights, load) and tests/unit/tokenizer (load-tokenizer).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import { aligncotCommand } from '../../../src/cli/commands/aligncot.js';
import { SafetensorsFile } from '../../../src/io/safetensors-file.js';
import { loadForInference } from '../../../src/run/load.js';
import { planRun, trainRun } from '../../../src/run/train.js';
import { SAMPLE_CHAINS } from '../../helpers/chains.js';
import { tinyHfWeights, writeTinyHfDir } from '../../helpers/hf-reference.js';
import { writeTinyHfModel } from '../../helpers/tiny-hf-model.js';

let root: string;
let chains: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mote-bad-base-'));
  chains = join(root, 'chains.jsonl');
  await writeFile(chains, SAMPLE_CHAINS.map((c) => JSON.stringify(c)).join('\n'));
});
afterAll(() => rm(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const patchJson = async (path: string, patch: Record<string, unknown>) =>
  writeFile(path, JSON.stringify({ ...JSON.parse(await readFile(path, 'utf8')), ...patch }));

const CASES: [string, (dir: string) => Promise<void>, RegExp][] = [
  [
    'a config.json of an unsupported family',
    (dir) =>
      patchJson(join(dir, 'config.json'), { model_type: 'gemma2', architectures: ['Gemma2ForCausalLM'] }),
    /config\.json:model_type: "gemma2" is not supported; expected one of "llama" \(LlamaForCausalLM\), "qwen2"/,
  ],
  [
    'no tokenizer files',
    (dir) => rm(join(dir, 'tokenizer.json')),
    /no tokenizer files \(looked for tokenizer\.json, vocab\.json \+ merges\.txt/,
  ],
  [
    'an unreadable tokenizer file',
    async (dir) => {
      await rm(join(dir, 'tokenizer.json'));
      await mkdir(join(dir, 'tokenizer.json'));
    },
    /tokenizer\.json: cannot read \(EISDIR\)/,
  ],
  [
    'a malformed tokenizer file',
    (dir) => writeFile(join(dir, 'tokenizer.json'), '{"model": {'),
    /tokenizer\.json:.*not valid JSON/,
  ],
  [
    'a tokenizer with more ids than the embedding has rows',
    (dir) => patchJson(join(dir, 'config.json'), { vocab_size: 200 }),
    /tokenizer .* has 265 ids but model .* \(config\.json vocab_size\) has only 200 embedding rows/,
  ],
  [
    'a shard missing from the index',
    async (dir) => {
      const spec = await writeTinyHfModel(dir, {});
      await rm(join(dir, 'model.safetensors'));
      await writeTinyHfDir(dir, spec, tinyHfWeights(spec, 'tiny-hf-model'), { shards: 2 });
      await rm(join(dir, 'model-00002-of-00002.safetensors'));
    },
    /model\.safetensors\.index\.json:weight_map: shard .*model-00002-of-00002\.safetensors is missing/,
  ],
  [
    'a tensor of the wrong shape',
    async (dir) => {
      const spec = await writeTinyHfModel(dir, {});
      const w = tinyHfWeights(spec, 'x');
      w.set('model.layers.1.self_attn.k_proj.weight', { shape: [16, 8], data: new Float32Array(128) });
      await writeTinyHfDir(dir, spec, w);
    },
    /model\.safetensors:tensor model\.layers\.1\.self_attn\.k_proj\.weight: shape \[16,8\] does not match config\.json: expected \[8,16\]/,
  ],
  [
    'a tensor of an unsupported dtype',
    async (dir) => {
      const spec = await writeTinyHfModel(dir, {});
      const w = tinyHfWeights(spec, 'x');
      w.set('model.norm.weight', { shape: [16], data: new Int32Array(16) });
      await writeTinyHfDir(dir, spec, w);
    },
    /model\.safetensors:tensor model\.norm\.weight: dtype I32 is not supported; expected F32, F16 or BF16/,
  ],
  [
    'a chat template that fails to render',
    (dir) => writeFile(join(dir, 'chat_template.jinja'), "{{ raise_exception('no chat here') }}"),
    /chat_template\.jinja: the chat template fails to render \[user, assistant\] \(@huggingface\/jinja: no chat here\)/,
  ],
  [
    'a chat template that does not parse',
    (dir) =>
      writeFile(
        join(dir, 'tokenizer_config.json'),
        JSON.stringify({ chat_template: '{% for m in messages %}{{ m' }),
      ),
    /tokenizer_config\.json:chat_template: the chat template does not parse \(@huggingface\/jinja: Unexpected end of input\)/,
  ],
];

describe('a bad HF base', () => {
  it.each(CASES)(
    '%s: mote train is refused by name; no weight read, nothing written',
    async (name, spoil, message) => {
      const base = join(root, `base-${name.replace(/\W+/g, '-')}`);
      await writeTinyHfModel(base, {});
      await spoil(base);
      const out = join(root, `run-${name.replace(/\W+/g, '-')}`);
      const read = vi.spyOn(SafetensorsFile.prototype, 'read');
      const before = tf.memory().numTensors;
      const plan = await planRun(out, {
        layers: [
          { model: { base, tokenizer: '' }, experts: { kind: 'mote', rank: 2 }, data: { train: chains } },
        ],
      });
      await expect(trainRun(plan)).rejects.toThrow(message);
      expect(read).not.toHaveBeenCalled();
      expect(tf.memory().numTensors).toBe(before);
      expect(existsSync(out)).toBe(false);
      // the inference commands load the same way
      await expect(loadForInference({ model: base })).rejects.toThrow(message);
    },
  );
});

describe('a bad HF base given to aligncot build --generator self', () => {
  it('is refused by file and field before any prompt, and no chains file is written', async () => {
    const base = join(root, 'base-self-generator');
    await writeTinyHfModel(base, {});
    await patchJson(join(base, 'config.json'), {
      model_type: 'gemma2',
      architectures: ['Gemma2ForCausalLM'],
    });
    const out = join(root, 'self', 'chains.jsonl');
    const read = vi.spyOn(SafetensorsFile.prototype, 'read');
    const args = ['aligncot', 'build', '--prompts', chains, '--format', 'jsonl', '--generator', 'self'];
    await expect(
      yargs([...args, '--model', base, '--out', out, '--no-progress', '--backend', 'cpu'])
        .command(aligncotCommand)
        .strict()
        .exitProcess(false)
        .fail(false)
        .parseAsync(),
    ).rejects.toThrow(/config\.json:model_type: "gemma2" is not supported/);
    expect(read).not.toHaveBeenCalled();
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.rejected.jsonl`)).toBe(false);
  });
});
