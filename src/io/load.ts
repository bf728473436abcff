// One entry point to load a base model and its tokenizer from bytes or files, in a page or anywhere (design.md:
// `loadModel`): a llama2.c `.bin` checkpoint (bytes, a Blob, a Response or a URL to fetch) with its tokenizer.bin or
// tokenizer.json, or a Hugging Face Llama directory's files (a FileSet) with its own tokenizer files. Paths on disk
// are load-node.ts.
import type { ModelConfig } from '../model/config.js';
import type { Transformer } from '../model/transformer.js';
import { Llama2cTokenizer } from '../tokenizer/llama2c-tokenizer.js';
import { tokenizerFromFileSet } from '../tokenizer/load-tokenizer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { tokenizerFromFiles } from '../tokenizer/tokenizer-files.js';
import { type ByteSource, type FileSet, isFileSet, readBytes } from './files.js';
import { hfConfigFromFiles, hfLlamaFromFiles } from './hf-llama.js';
import { llama2cFromBytes, parseLlama2cHeader } from './llama2c.js';

/** A model: a llama2.c checkpoint's bytes (or where to get them), or a Hugging Face directory's files. */
export type ModelSource = ByteSource | FileSet;

export interface LoadModelOptions {
  /**
   * Tokenizer: a llama2.c tokenizer.bin or a tokenizer.json (required for a llama2.c checkpoint), or for a HF model
   * the files holding its tokenizer (default: the model's own files).
   */
  tokenizer?: ModelSource;
  /** Base weights trainable (full fine-tuning / continued pretraining). Default false: frozen. */
  trainable?: boolean;
  /** HF models only: cap on the context when max_position_embeddings is larger (RoPE table memory). */
  maxSeqLen?: number;
}

export interface LoadedModel {
  model: Transformer;
  tokenizer: Tokenizer;
}

/**
 * The shape of a model from its header alone (a llama2.c header, or config.json), before any weight is read: for a
 * memory estimate (model/memory.ts) before allocating. A Blob is read only as far as its header.
 */
export async function readModelConfig(source: ModelSource, name = 'model'): Promise<Readonly<ModelConfig>> {
  if (isFileSet(source)) return (await hfConfigFromFiles(source)).config;
  const head = typeof Blob !== 'undefined' && source instanceof Blob ? source.slice(0, 28) : source;
  return parseLlama2cHeader(await readBytes(head, name), name);
}

/**
 * Loads a llama2.c checkpoint (its bytes, or where to fetch them) with `options.tokenizer`, or a HF Llama model's files
 * (config.json + model.safetensors or sharded index) with its tokenizer files. The tokenizer is read first; its ids
 * must have embedding rows: more ids than rows is refused, fewer is normal (a model may pad its embedding).
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<LoadedModel> {
  if (isFileSet(source)) {
    const config = (await hfConfigFromFiles(source, { maxSeqLen: options.maxSeqLen })).config;
    const tokenizerSource = options.tokenizer ?? source;
    const tokenizer = await tokenizerOf(tokenizerSource, undefined);
    checkTokenizerRows(tokenizer, nameOf(tokenizerSource), config.vocabSize, source.label);
    const model = await hfLlamaFromFiles(source, {
      trainable: options.trainable,
      maxSeqLen: options.maxSeqLen,
    });
    return { model, tokenizer };
  }
  if (!options.tokenizer)
    throw new Error(
      'loadModel: a llama2.c checkpoint needs { tokenizer } (its tokenizer.bin, or a tokenizer.json)',
    );
  const name = nameOf(source);
  const model = llama2cFromBytes(await readBytes(source, name), name, { trainable: options.trainable });
  try {
    const V = model.config.vocabSize;
    const tokenizer = await tokenizerOf(options.tokenizer, V);
    if (tokenizer.vocabSize !== V)
      throw new Error(
        `tokenizer ${nameOf(options.tokenizer)} has ${tokenizer.vocabSize} ids but model ${name} has ${V} embedding rows; they must match`,
      );
    return { model, tokenizer };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** A tokenizer from files, or from one file's bytes: a tokenizer.json when they start with '{', else tokenizer.bin. */
async function tokenizerOf(source: ModelSource, vocabSize: number | undefined): Promise<Tokenizer> {
  if (isFileSet(source)) return tokenizerFromFileSet(source, { vocabSize });
  const name = nameOf(source);
  const bytes = await readBytes(source, name);
  const text = new TextDecoder().decode(bytes.subarray(0, 64));
  if (text.trimStart().startsWith('{'))
    return tokenizerFromFiles(
      { tokenizerJson: new TextDecoder().decode(bytes), names: { tokenizerJson: name } },
      { vocabSize },
    );
  return Llama2cTokenizer.fromBuffer(bytes, vocabSize, name);
}

/** How errors name a source: its URL, a File's name, or the set's label. */
function nameOf(source: ModelSource): string {
  if (isFileSet(source)) return source.label;
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  const named = source as { name?: unknown; url?: unknown };
  if (typeof named.name === 'string' && named.name) return named.name;
  if (typeof named.url === 'string' && named.url) return named.url;
  return '<bytes>';
}

/** A tokenizer with more ids than the model has embedding rows is refused. */
export function checkTokenizerRows(
  tokenizer: Tokenizer,
  source: string,
  rows: number | undefined,
  model: string,
): void {
  if (rows !== undefined && tokenizer.vocabSize > rows)
    throw new Error(
      `tokenizer ${source} has ${tokenizer.vocabSize} ids but model ${model} has only ${rows} embedding rows; ids ≥ ${rows} would have no row`,
    );
}
