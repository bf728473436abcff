// One entry point to load a base model and its tokenizer from disk (design.md: `loadModel`): a llama2.c `.bin`
// checkpoint with its tokenizer.bin, or a Hugging Face Llama directory with its own tokenizer files. From bytes or
// a page's files: load.ts.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTokenizer } from '../tokenizer/load-tokenizer-node.js';
import { HF_CONFIG_FILE } from './hf-llama.js';
import { loadHfLlama } from './hf-llama-node.js';
import { loadLlama2c } from './llama2c-node.js';
import { checkTokenizerRows, type LoadedModel } from './load.js';

export interface LoadModelOptions {
  /**
   * Tokenizer: a llama2.c tokenizer.bin (required for a llama2.c checkpoint), or for a HF directory a tokenizer
   * file or directory (default: the model directory itself; see `loadTokenizer` for the formats).
   */
  tokenizer?: string;
  /** Base weights trainable (full fine-tuning / continued pretraining). Default false: frozen. */
  trainable?: boolean;
  /** HF directories only: cap on the context when max_position_embeddings is larger (RoPE table memory). */
  maxSeqLen?: number;
}

/**
 * Loads a llama2.c `.bin` checkpoint with its `tokenizer.bin` (or the tokenizer.json `mote pretrain` writes), or a HF
 * Llama model directory (config.json + model.safetensors or sharded index) with its tokenizer files (tokenizer.json,
 * vocab.json + merges.txt, or encoder.json + vocab.bpe). The tokenizer's ids must have embedding rows: a tokenizer
 * with more ids than the model has rows is refused; fewer is normal (Qwen2.5 pads 151,665 ids to 151,936 rows).
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

/** The tokenizer is read (and checked against config.json's vocab_size) before any weight is. */
async function loadHfDirectory(dir: string, options: LoadModelOptions): Promise<LoadedModel> {
  const source = options.tokenizer ?? dir;
  const rows = await configVocabSize(dir);
  const tokenizer = await loadTokenizer(source);
  checkTokenizerRows(tokenizer, source, rows, `${dir} (config.json vocab_size)`);
  const model = await loadHfLlama(dir, { trainable: options.trainable, maxSeqLen: options.maxSeqLen });
  try {
    checkTokenizerRows(tokenizer, source, model.config.vocabSize, dir);
    return { model, tokenizer };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** config.json's vocab_size when it is an integer (the model loader reports a missing or bad config itself). */
async function configVocabSize(dir: string): Promise<number | undefined> {
  const text = await readFile(join(dir, HF_CONFIG_FILE), 'utf8').catch(() => null);
  if (text === null) return undefined;
  try {
    const size = (JSON.parse(text) as { vocab_size?: unknown } | null)?.vocab_size;
    return Number.isInteger(size) ? (size as number) : undefined;
  } catch {
    return undefined;
  }
}
