// `mote info [dir]`: backend, versions, and a model summary. A Hugging Face directory is described from its
// config.json alone (family, parameters, the memory inference and MoTE training need per backend), without reading
// its weights; a llama2.c .bin (--model) is loaded and summarised with its tokenizer.
import { stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { HF_FAMILIES } from '../../io/hf-llama-config.js';
import { readHfConfig } from '../../io/hf-llama-node.js';
import { headSize } from '../../model/config.js';
import { type BackendMemory, estimateMemory } from '../../model/memory.js';
import { loadFiniteModel } from '../../run/base.js';
import {
  allowNonFiniteOption,
  backendOption,
  modelOptions,
  nonFiniteFlags,
  setUpBackend,
} from '../options.js';
import { terminalJson } from '../terminal-text.js';

type Args = ArgumentsCamelCase<{
  backend: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  dir?: string;
  model?: string;
  tokenizer?: string;
  seqLen: number;
  batchSize: number;
  rank: number;
  allowNonFinite: boolean;
}>;

const GiB = 1024 ** 3;
const gib = (bytes: number) => Math.round((bytes / GiB) * 100) / 100;

export const infoCommand: CommandModule<object, Args> = {
  command: 'info [dir]',
  describe: 'show the backend, versions and a model summary (a Hugging Face directory, or --model)',
  builder: (y) =>
    y
      .positional('dir', {
        type: 'string',
        describe: 'Hugging Face model directory (config.json) to describe',
      })
      .options({
        ...backendOption,
        model: {
          type: 'string',
          describe:
            'model to summarise: a llama2.c .bin or a Hugging Face model directory (from its config.json)',
        },
        tokenizer: { type: 'string', describe: modelOptions.tokenizer.describe },
        ...allowNonFiniteOption,
        'seq-len': { type: 'number', default: 512, describe: 'tokens per sequence of the memory estimate' },
        'batch-size': { type: 'number', default: 1, describe: 'sequences per step of the memory estimate' },
        rank: { type: 'number', default: 16, describe: 'MoTE LoRA rank (all projections) of the estimate' },
      }) as never,
  handler: async (a) => {
    const backend = await setUpBackend(a.backend, true);
    const info: Record<string, unknown> = {
      backend,
      tfjs: tf.version.tfjs,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    };
    const path = a.dir ?? a.model;
    if (path && (await stat(path).catch(() => null))?.isDirectory()) {
      const { family, config, torchDtype } = await readHfConfig(path);
      const shape = { seqLen: a.seqLen, batchSize: a.batchSize, rank: a.rank };
      const memory = estimateMemory(config, shape);
      const checkpointed = estimateMemory(config, { ...shape, activationCheckpointing: true });
      const perBackend = (m: BackendMemory, c: BackendMemory) => {
        const limit = m.limitBytes ?? totalmem();
        return {
          inferenceGiB: gib(m.inference.total),
          trainingGiB: gib(m.training.total),
          limitGiB: gib(limit),
          limit: m.limitBytes === null ? 'machine memory' : 'wasm heap',
          inferenceFits: m.inference.total <= limit,
          trainingFits: m.training.total <= limit,
          checkpointedTrainingGiB: gib(c.training.total), // --activation-checkpointing
          checkpointedTrainingFits: c.training.total <= limit,
          trainingParts: Object.fromEntries(Object.entries(m.training.parts).map(([k, v]) => [k, gib(v)])),
        };
      };
      info.model = {
        path,
        family,
        architecture: HF_FAMILIES[family],
        torchDtype,
        parameters: memory.parameters,
        ...config,
        headDim: headSize(config),
      };
      info.memory = {
        estimate: `inference (KV cache and one forward of ${a.batchSize}×${a.seqLen} tokens) and MoTE training (rank ${a.rank} on every projection, 3 step experts + shared, AdamW), float32`,
        wasm: perBackend(memory.backends.wasm, checkpointed.backends.wasm),
        cpu: perBackend(memory.backends.cpu, checkpointed.backends.cpu),
        tensorflow: perBackend(memory.backends.tensorflow, checkpointed.backends.tensorflow),
      };
    } else if (path) {
      const { model, tokenizer } = await loadFiniteModel(path, { tokenizer: a.tokenizer }, nonFiniteFlags(a));
      info.model = {
        path,
        ...model.config,
        parameters: model.parameterCount(),
        trainable: model.parameterCount(true),
      };
      info.tokenizer = { vocabSize: tokenizer.vocabSize, bos: tokenizer.bosId, eos: tokenizer.eosId };
      model.dispose();
    }
    process.stdout.write(`${terminalJson(info, 2)}\n`);
  },
};
