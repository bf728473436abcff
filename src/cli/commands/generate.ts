// `mote generate`: sample text from a model, streaming it to stdout.
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { generateStream } from '../../generate/generate.js';
import { loadModel } from '../../io/load.js';
import { backendOption, modelOptions, setUpBackend } from '../options.js';

const options = {
  ...backendOption,
  ...modelOptions,
  prompt: { type: 'string', default: '', describe: 'text to continue (BOS is prepended)' },
  temperature: { type: 'number', default: 1, describe: '0 = greedy' },
  'top-p': { type: 'number', default: 0.9, describe: 'nucleus sampling mass (1 = off)' },
  'top-k': { type: 'number', default: 0, describe: 'keep the k most likely tokens (0 = off)' },
  'max-tokens': { type: 'number', default: 256, describe: 'most new tokens' },
  seed: { type: 'number', default: 42, describe: 'sampling seed' },
  stop: { type: 'string', array: true, default: [] as string[], describe: 'stop strings' },
  decoder: {
    choices: ['auto', 'host', 'tensor'] as const,
    default: 'auto' as const,
    describe: 'decoding engine',
  },
} as const;

type Args = ArgumentsCamelCase<{
  backend: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  model: string;
  tokenizer: string;
  prompt: string;
  temperature: number;
  topP: number;
  topK: number;
  maxTokens: number;
  seed: number;
  stop: string[];
  decoder: 'auto' | 'host' | 'tensor';
}>;

export const generateCommand: CommandModule<object, Args> = {
  command: 'generate',
  describe: 'generate text from a model',
  builder: (y) => y.options(options) as never,
  handler: async (a) => {
    await setUpBackend(a.backend);
    const { model, tokenizer } = await loadModel(a.model, { tokenizer: a.tokenizer });
    const t0 = performance.now();
    process.stdout.write(a.prompt);
    const it = generateStream(model, tokenizer, a.prompt, {
      temperature: a.temperature,
      topP: a.topP,
      topK: a.topK,
      maxTokens: a.maxTokens,
      seed: a.seed,
      stop: a.stop,
      decoder: a.decoder,
    });
    let r = await it.next();
    while (!r.done) {
      process.stdout.write(r.value.text);
      r = await it.next();
    }
    const s = (performance.now() - t0) / 1000;
    process.stdout.write('\n');
    process.stderr.write(
      `${r.value.ids.length} tokens in ${s.toFixed(2)} s (${(r.value.ids.length / s).toFixed(0)} tokens/s), stop: ${r.value.stopReason}\n`,
    );
    model.dispose();
  },
};
