// A base model ready for experts, in one place: the model and its tokenizer loaded from files (a llama2.c .bin with
// its tokenizer.bin, or a Hugging Face directory), the AlignCoT step tokens added to the tokenizer as atomic special
// tokens, and their embedding rows made trainable (model/transformer.ts `addTokens`). Training, inference, export and
// the experiments all start from it, so a run is rebuilt exactly as it was trained. Weights holding NaN or ±Inf are
// refused here, naming the file and the tensor (or let through with a warning on request: util/finite.ts).
//
// Where the step tokens' rows come from. The tokenizer gives the new tokens the ids after its highest one, as
// transformers' `add_special_tokens` does. A model with more embedding rows than its tokenizer has ids (Qwen2.5 pads
// 151,665 ids to 151,936 rows) already has rows at those ids that no token uses: the step tokens take them over, and
// the matrix grows only by what the padding cannot hold (stories260K, SmolLM2: no padding). Growing instead, past
// the padding, would give the tokens ids that differ from the ones Python gets by adding the same tokens, and would
// copy the whole matrix for nothing. Either way the rows are trainable and start at the mean embedding (a padding
// row was never trained); PEFT exports them as `trainable_token_indices` rows at their real ids (io/peft.ts).
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { LoadedModel } from '../io/load.js';
import { type LoadModelOptions, loadModel } from '../io/load-node.js';
import type { Stage } from '../steps.js';
import { checkFiniteTensors, type NonFiniteOptions } from '../util/finite.js';
import { BUNDLED } from './bundled.js';
import { type Base, withStepTokens } from './step-tokens.js';

export type { Base } from './step-tokens.js';

/**
 * The context a Hugging Face base is loaded with when its `max_position_embeddings` is larger (Llama-3.2: 131,072),
 * unless asked otherwise: a decoder preallocates its KV cache for the whole context (about 8.6 GB for Llama-3.2-1B
 * at 131,072 positions, 268 MB at 4,096), and chains and chats fit in far less.
 */
export const DEFAULT_MAX_SEQ_LEN = 4096;

/** Where a base model is. */
export interface BaseSource {
  /** A llama2.c `.bin` checkpoint or a Hugging Face model directory. */
  model: string;
  /** Its tokenizer file; default (also for ''): `findTokenizer`. */
  tokenizer?: string;
}

export interface LoadBaseOptions extends NonFiniteOptions {
  /** Whether the base weights are trainable (full fine-tuning). Default false (frozen, for experts). */
  trainable?: boolean;
  /** The stages whose step tokens are added. Default analysis, guidance, answer. */
  stages?: readonly Stage[];
  /**
   * Hugging Face bases: the longest context to load (the RoPE table and what decoders preallocate), capped by the
   * model's `max_position_embeddings`; null = the model's whole context. Default DEFAULT_MAX_SEQ_LEN (4096). A
   * llama2.c checkpoint keeps its own.
   */
  maxSeqLen?: number | null;
}

/** Loads a base and adds the step tokens (file header). Every call builds a fresh, identical state. */
export async function loadBase(source: BaseSource, options: LoadBaseOptions = {}): Promise<Base> {
  const cap = options.maxSeqLen === undefined ? DEFAULT_MAX_SEQ_LEN : options.maxSeqLen;
  if (cap !== null && !(Number.isInteger(cap) && cap >= 1))
    throw new Error(`loadBase: maxSeqLen must be a positive integer or null, got ${cap}`);
  const loaded = await loadFiniteModel(
    source.model,
    {
      tokenizer: source.tokenizer || undefined,
      trainable: options.trainable ?? false,
      maxSeqLen: cap ?? undefined,
    },
    options,
  );
  return withStepTokens(loaded, options.stages);
}

/**
 * The tokenizer of a model when none is named: a Hugging Face directory's own files (undefined: loadModel reads
 * them), the bundled tok512 for the bundled stories260K, else tokenizer.bin or tokenizer.json beside a llama2.c
 * `.bin` (what `mote pretrain` and `mote export --format llama2c` write). Throws when a `.bin` has neither.
 */
export async function findTokenizer(model: string, tokenizer?: string): Promise<string | undefined> {
  if (tokenizer) return tokenizer;
  const info = await stat(model).catch(() => null);
  if (!info?.isFile()) return undefined; // a directory, or missing: loadModel says which
  if (resolve(model) === resolve(BUNDLED.model)) return BUNDLED.tokenizer;
  for (const name of ['tokenizer.bin', 'tokenizer.json']) {
    const beside = join(dirname(model), name);
    if ((await stat(beside).catch(() => null))?.isFile()) return beside;
  }
  throw new Error(
    `${model}: a llama2.c checkpoint needs its tokenizer, and there is no tokenizer.bin or tokenizer.json beside it; name it (--tokenizer FILE)`,
  );
}

/**
 * `loadModel` (io/load.ts) with the tokenizer found by `findTokenizer` when none is named, then every weight checked for NaN and ±Inf: an error naming the model file and the
 * tensor, unless `allowNonFinite` (then a warning). The caller disposes the model.
 */
export async function loadFiniteModel(
  path: string,
  options: LoadModelOptions = {},
  finite: NonFiniteOptions = {},
): Promise<LoadedModel> {
  const tokenizer = await findTokenizer(path, options.tokenizer);
  const loaded = await loadModel(path, { ...options, tokenizer });
  try {
    await checkFiniteTensors(loaded.model.namedVariables(), path, finite);
    return loaded;
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
}
