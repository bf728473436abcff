// One entry point to load a base model and its tokenizer from files (design.md: `loadModel`): a llama2.c `.bin`
// checkpoint with its tokenizer.bin, or a Hugging Face Llama directory with its tokenizer.json.
import { stat } from 'node:fs/promises';
import type { Transformer } from '../model/transformer.js';
import { loadTokenizer } from '../tokenizer/index.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { loadHfLlama } from './hf-llama.js';
import { loadLlama2c } from './llama2c.js';

export interface LoadModelOptions {
  /**
   * Tokenizer: a llama2.c tokenizer.bin (required for a llama2.c checkpoint), or for a HF directory a
   * tokenizer.json file or directory (default: the model directory itself).
   */
  tokenizer?: string;
  /** Base weights trainable (full fine-tuning / continued pretraining). Default false: frozen. */
  trainable?: boolean;
  /** HF directories only: cap on the context when max_position_embeddings is larger (RoPE table memory). */
  maxSeqLen?: number;
}

export interface LoadedModel {
  model: Transformer;
  tokenizer: Tokenizer;
}

/**
 * Loads a llama2.c `.bin` checkpoint with its `tokenizer.bin`, or a HF Llama model directory (config.json +
 * model.safetensors or sharded index) with its tokenizer.json. The tokenizer must have exactly as many ids as the
 * model has embedding rows.
 */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new Error(`model file not found: ${path}`);
  if (info.isDirectory()) return loadHfDirectory(path, options);
  if (!info.isFile() || !path.endsWith('.bin')) {
    throw new Error(
      `unsupported model path ${path}: expected a llama2.c .bin checkpoint or a Hugging Face model directory`,
    );
  }
  if (!options.tokenizer)
    throw new Error(
      `loadModel(${path}): a llama2.c checkpoint needs { tokenizer: 'tokenizer.bin' } (or a tokenizer.json)`,
    );
  const model = await loadLlama2c(path, { trainable: options.trainable });
  try {
    // tokenizer.bin, or a tokenizer.json (llama2.c files cannot hold a BPE tokenizer: `mote pretrain` writes both)
    const V = model.config.vocabSize;
    const tokenizer = await loadTokenizer(options.tokenizer, { vocabSize: V });
    if (tokenizer.vocabSize !== V)
      throw new Error(
        `tokenizer ${options.tokenizer} has ${tokenizer.vocabSize} ids but model ${path} has ${V} embedding rows; they must match`,
      );
    return { model, tokenizer };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

async function loadHfDirectory(dir: string, options: LoadModelOptions): Promise<LoadedModel> {
  const model = await loadHfLlama(dir, { trainable: options.trainable, maxSeqLen: options.maxSeqLen });
  try {
    const source = options.tokenizer ?? dir;
    const tokenizer = await loadTokenizer(source).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT')
        throw new Error(
          `loadModel(${dir}): no tokenizer at ${source} (expected tokenizer.json; pass { tokenizer })`,
        );
      throw e;
    });
    const V = model.config.vocabSize;
    if (tokenizer.vocabSize !== V)
      throw new Error(
        `tokenizer ${source} has ${tokenizer.vocabSize} ids but model ${dir} has ${V} embedding rows (config.json vocab_size); they must match`,
      );
    return { model, tokenizer };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
