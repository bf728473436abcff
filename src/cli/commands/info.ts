// `mote info`: backend, versions, and a model summary.
import * as tf from '@tensorflow/tfjs';
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { loadModel } from '../../io/load.js';
import { backendOption, setUpBackend } from '../options.js';

type Args = ArgumentsCamelCase<{
  backend: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  model?: string;
  tokenizer?: string;
}>;

export const infoCommand: CommandModule<object, Args> = {
  command: 'info',
  describe: 'show the backend, versions and (with --model) a model summary',
  builder: (y) =>
    y.options({
      ...backendOption,
      model: { type: 'string', describe: 'llama2.c .bin checkpoint to summarise' },
      tokenizer: { type: 'string', describe: 'its tokenizer.bin' },
    }) as never,
  handler: async (a) => {
    const backend = await setUpBackend(a.backend, true);
    const info: Record<string, unknown> = {
      backend,
      tfjs: tf.version.tfjs,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    };
    if (a.model) {
      const { model, tokenizer } = await loadModel(a.model, {
        tokenizer: a.tokenizer ?? a.model.replace(/[^/]*$/, 'tokenizer.bin'),
      });
      info.model = {
        path: a.model,
        ...model.config,
        parameters: model.parameterCount(),
        trainable: model.parameterCount(true),
      };
      info.tokenizer = { vocabSize: tokenizer.vocabSize, bos: tokenizer.bosId, eos: tokenizer.eosId };
      model.dispose();
    }
    process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  },
};
