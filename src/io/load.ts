// One entry point to load a base model and its tokenizer from files (design.md: `loadModel`).
import { stat } from 'node:fs/promises';
import type { Transformer } from '../model/transformer.js';
import { loadLlama2cTokenizer } from '../tokenizer/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { loadLlama2c } from './llama2c.js';

export interface LoadModelOptions {
  /** Tokenizer file (llama2.c tokenizer.bin). Required for a llama2.c checkpoint. */
  tokenizer?: string;
  /** Base weights trainable (full fine-tuning / continued pretraining). Default false: frozen. */
  trainable?: boolean;
}

export interface LoadedModel {
  model: Transformer;
  tokenizer: Tokenizer;
}

/** Loads a llama2.c `.bin` checkpoint with its `tokenizer.bin`; the tokenizer must match the model's vocabulary. */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`model file not found: ${path}`);
  if (!info.isFile() || !path.endsWith('.bin')) {
    throw new Error(`unsupported model path ${path}: expected a llama2.c .bin checkpoint`);
  }
  if (!options.tokenizer)
    throw new Error(`loadModel(${path}): a llama2.c checkpoint needs { tokenizer: 'tokenizer.bin' }`);
  const model = await loadLlama2c(path, { trainable: options.trainable });
  try {
    const tokenizer = await loadLlama2cTokenizer(options.tokenizer, model.config.vocabSize);
    return { model, tokenizer };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
