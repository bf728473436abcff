// The token rows a PEFT adapter carries — `trainable_token_indices` rows, and the whole embed_tokens / lm_head
// matrices PEFT saves after a vocabulary resize — onto the model's added rows (Transformer.addedEmbedding /
// addedHead, the ids [addedStart, addedStart + n)). Read from PEFT's TrainableTokensLayer / TrainableTokensWrapper
// (tuners/trainable_tokens/layer.py, utils/other.py) and `get_peft_model_state_dict` (utils/save_and_load.py).
//
// What PEFT means by them:
// - a trainable-tokens layer REPLACES the rows of its ids by the stored values (the tensor is called "delta" but holds
//   the rows themselves), stored in the order of the ids;
// - a list of ids trains the input embedding; lm_head follows it only when the model ties its weights, so on an
//   untied model lm_head keeps its base rows for those ids;
// - a dict names the ids per module, and lm_head's may differ from embed_tokens' (their rows are stored apart);
// - rows no adapter trains are the base layer's; after `resize_token_embeddings` the rows past the old matrix are
//   random, which is why PEFT then saves the whole matrices beside the adapter (`save_embedding_layers`).
// Everything is checked by `planTokenRows` before the model changes; the function it returns only writes.
import * as tf from '@tensorflow/tfjs';
import type { Transformer } from '../model/transformer.js';
import { FormatError } from '../util/errors.js';
import { transpose } from './hf-llama-layout.js';

/** A whole [vocab, hidden] matrix found in an adapter file. */
export interface SavedMatrix {
  key: string;
  shape: number[];
  data: Float32Array;
}

/** The token data of one adapter. */
export interface AdapterTokenRows {
  /** The adapter_config.json (errors about ids name it) and the safetensors file (errors about tensors). */
  configFile: string;
  file: string;
  /** embed_tokens ids and their rows (|ids|, hidden), or null. */
  embedIds: number[] | null;
  embedRows: Float32Array | null;
  /** lm_head ids (dict form) and their rows (|ids|, hidden), or null. */
  headIds: number[] | null;
  headRows: Float32Array | null;
  /** The form of trainable_token_indices, null without one. */
  form: 'list' | 'dict' | null;
  embedMatrix: SavedMatrix | null;
  headMatrix: SavedMatrix | null;
}

/** The model's added rows as they will be once the import has added its tokens. */
export interface RowBlock {
  /** First and past-the-last id of the added rows. */
  start: number;
  end: number;
  /** Token ids of the tokenizer then (every one needs a row). */
  vocab: number;
}

/**
 * A base matrix row saved by PEFT may have been through bfloat16 (a model loaded in bf16 and saved, or the reverse):
 * rows count as the base's when they agree to 2⁻⁷ relative. This tells a resized copy of this base from another
 * base or a trained embedding; it is not an exactness check.
 */
const BASE_ROW_TOLERANCE = 2 ** -7;

/**
 * Checks the token data of an adapter against `model` and the block its added rows will be (ids, shapes, tying,
 * base rows of whole matrices) and returns the function that writes the rows once the block exists. Throws,
 * naming the file and field or tensor, when PEFT's model cannot be reproduced.
 */
export function planTokenRows(model: Transformer, src: AdapterTokenRows, block: RowBlock): () => void {
  const c = model.config;
  const tied = c.tiedEmbeddings;
  const V0 = model.embedding.shape[0];
  const { start, end } = block;
  const field = (module: string) =>
    src.form === 'dict' ? `trainable_token_indices.${module}` : 'trainable_token_indices';

  if (tied && src.headIds && !(src.embedIds && same(src.headIds, src.embedIds)))
    throw new FormatError(
      src.configFile,
      field('lm_head'),
      `${JSON.stringify(src.headIds)} differs from embed_tokens' ${JSON.stringify(src.embedIds)}, but this model ties lm_head to the embedding (tie_word_embeddings), so their rows cannot differ`,
    );
  for (const [module, ids] of [
    ['embed_tokens', src.embedIds],
    ['lm_head', src.headIds],
  ] as const)
    for (const id of ids ?? [])
      if (id < start || id >= end)
        throw new FormatError(
          src.configFile,
          field(module),
          `token row ${id} is ${start === end ? 'not an added row: this model has none' : `outside this model's added rows (ids ${start}–${end - 1})`}; mote-tfjs trains only the rows of added tokens, which must be in the tokenizer and the model first`,
        );
  for (const m of [src.embedMatrix, src.headMatrix]) if (m) checkMatrixShape(src.file, m, c.dim, block.vocab);
  const embedBase = src.embedMatrix ?? (tied ? src.headMatrix : null);
  if (src.embedMatrix) checkBaseRows(src.file, src.embedMatrix, model.embedding, false, block);
  if (src.headMatrix)
    checkBaseRows(src.file, src.headMatrix, tied ? model.embedding : model.head!.weight, !tied, block);
  if (tied && src.embedMatrix && src.headMatrix)
    checkSameRows(src.file, src.embedMatrix, src.headMatrix, block);
  // an untied head PEFT did not train for these tokens keeps its base rows: none exist past the old matrix
  const headKeepsBase = !tied && !src.headIds && !src.headMatrix;
  if (headKeepsBase)
    for (const id of src.embedIds ?? [])
      if (id >= V0)
        throw new FormatError(
          src.configFile,
          field('embed_tokens'),
          `token ${id} has a trained embedding row but no lm_head row: this model's head is untied and has ${V0} rows, so PEFT's lm_head row ${id} came from resize_token_embeddings (random) and is not in the adapter; save it with trainable_token_indices={"embed_tokens": ids, "lm_head": ids} or save_embedding_layers=True`,
        );

  return () => {
    const d = c.dim;
    const n = end - start;
    if (model.addedStart !== start || (model.addedEmbedding?.shape[0] ?? 0) !== n)
      throw new Error(`importPeftAdapters: the model's added rows are not ids ${start}–${end - 1}`);
    const emb = model.addedEmbedding!.dataSync().slice() as Float32Array; // (n, d)
    if (embedBase) copyMatrixRows(embedBase, emb, start, end, d);
    setRows(emb, src.embedIds, src.embedRows, start, d);
    tf.tidy(() => model.addedEmbedding!.assign(tf.tensor2d(emb, [n, d])));
    if (tied) return;
    const head = transpose(model.addedHead!.dataSync() as Float32Array, d, n); // (n, d)
    if (src.headMatrix) copyMatrixRows(src.headMatrix, head, start, end, d);
    if (headKeepsBase && src.embedIds) {
      const ids = src.embedIds.filter((id) => id < V0);
      const cols = tf.tidy(() => tf.transpose(tf.gather(model.head!.weight, ids, 1)).dataSync()); // (|ids|, d)
      setRows(head, ids, cols as Float32Array, start, d);
    }
    setRows(head, src.headIds, src.headRows, start, d);
    tf.tidy(() => model.addedHead!.assign(tf.tensor2d(transpose(head, n, d), [d, n])));
  };
}

// ---------------------------------------------------------------- checks

function checkMatrixShape(file: string, m: SavedMatrix, d: number, vocab: number): void {
  if (m.shape.length !== 2 || m.shape[1] !== d)
    throw new FormatError(file, m.key, `has shape [${m.shape}]; this model expects [vocab, ${d}]`);
  if (m.shape[0] < vocab)
    throw new FormatError(
      file,
      m.key,
      `has ${m.shape[0]} rows but the tokenizer has ${vocab} ids; every id needs a row`,
    );
}

/**
 * Every row of the saved matrix outside the added block that this model's base has must agree with it (the rows
 * past the block have no token and are ignored). `base` is (V₀, d), or (d, V₀) when `columns`.
 */
function checkBaseRows(
  file: string,
  m: SavedMatrix,
  base: tf.Tensor,
  columns: boolean,
  block: RowBlock,
): void {
  const d = m.shape[1];
  const V0 = base.shape[columns ? 1 : 0] as number;
  const rows = Math.min(V0, m.shape[0]);
  const CHUNK = 4096;
  for (let from = 0; from < rows; from += CHUNK) {
    const size = Math.min(CHUNK, rows - from);
    const ours = tf.tidy(() => {
      const part = columns
        ? tf.transpose(tf.slice(base, [0, from], [-1, size]))
        : tf.slice(base, [from, 0], [size, -1]);
      return part.dataSync() as Float32Array; // (size, d)
    });
    for (let r = from; r < from + size; r++) {
      if (r >= block.start && r < block.end) continue;
      for (let k = 0; k < d; k++) {
        const a = m.data[r * d + k];
        const b = ours[(r - from) * d + k];
        if (Math.abs(a - b) > BASE_ROW_TOLERANCE * Math.max(Math.abs(a), Math.abs(b)) + 1e-6)
          throw new FormatError(
            file,
            m.key,
            `row ${r} differs from this base's (element ${k}: ${a} vs ${b}): the adapter was saved for another base, or with a trained ${columns ? 'lm_head' : 'embedding'}, which an adapter here cannot hold`,
          );
      }
    }
  }
}

/** A tied model's two saved matrices must hold the same rows for the added tokens. */
function checkSameRows(file: string, e: SavedMatrix, h: SavedMatrix, block: RowBlock): void {
  const d = e.shape[1];
  for (let r = block.start; r < block.end; r++)
    for (let k = 0; k < d; k++)
      if (e.data[r * d + k] !== h.data[r * d + k])
        throw new FormatError(
          file,
          h.key,
          `row ${r} differs from ${e.key}'s, but this model ties lm_head to the embedding`,
        );
}

// ---------------------------------------------------------------- writing

/** Rows [start, end) of a saved matrix into the block (n, d). */
function copyMatrixRows(m: SavedMatrix, out: Float32Array, start: number, end: number, d: number): void {
  out.set(m.data.subarray(start * d, end * d));
}

/** The rows of `ids` (in that order in `rows`, (|ids|, d)) into the block (n, d) starting at id `start`. */
function setRows(
  out: Float32Array,
  ids: readonly number[] | null,
  rows: Float32Array | null,
  start: number,
  d: number,
): void {
  if (!ids || !rows) return;
  ids.forEach((id, i) => {
    out.set(rows.subarray(i * d, (i + 1) * d), (id - start) * d);
  });
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);
