// llama2.c checkpoints (legacy "version 0" format of run.c): a 7×int32 header, then float32 weights,
// PyTorch layout (out, in). A negative vocab_size means the classifier is stored separately (untied).
import * as tf from '@tensorflow/tfjs';
import { type ModelConfig, resolveModelConfig } from '../model/config.js';
import { type BuildOptions, Transformer } from '../model/transformer.js';
import { ConfigError, FormatError } from '../util/errors.js';

const HEADER_FIELDS = [
  'dim',
  'hidden_dim',
  'n_layers',
  'n_heads',
  'n_kv_heads',
  'vocab_size',
  'seq_len',
] as const;
const HEADER_BYTES = HEADER_FIELDS.length * 4;
/** Magic of llama2.c's versioned exports ("ak42"), which run.c does not read. */
const VERSIONED_MAGIC = 0x616b3432;

/** One tensor of the file in order: name in our model, llama2.c shape (out, in), and whether it is a (out, in) matrix to transpose. */
interface Entry {
  name: string;
  shape: number[];
  transpose: boolean;
}

/** The tensors of a v0 file, in file order (run.c `memory_map_weights`). */
function layout(c: ModelConfig): { entries: Entry[]; ropeFloats: number } {
  const { dim, hiddenDim, numLayers: L, vocabSize } = c;
  const hs = dim / c.numHeads;
  const kvDim = hs * c.numKvHeads;
  const perLayer = (suffix: string, shape: number[], transpose: boolean): Entry[] =>
    Array.from({ length: L }, (_, l) => ({ name: `blocks.${l}.${suffix}`, shape, transpose }));
  const entries: Entry[] = [
    { name: 'embedding', shape: [vocabSize, dim], transpose: false },
    ...perLayer('attnNorm.weight', [dim], false),
    ...perLayer('attn.q.weight', [dim, dim], true),
    ...perLayer('attn.k.weight', [kvDim, dim], true),
    ...perLayer('attn.v.weight', [kvDim, dim], true),
    ...perLayer('attn.o.weight', [dim, dim], true),
    ...perLayer('mlpNorm.weight', [dim], false),
    ...perLayer('mlp.gate.weight', [hiddenDim, dim], true), // w1
    ...perLayer('mlp.down.weight', [dim, hiddenDim], true), // w2
    ...perLayer('mlp.up.weight', [hiddenDim, dim], true), // w3
    { name: 'finalNorm.weight', shape: [dim], transpose: false },
  ];
  // the legacy freq_cis_real / freq_cis_imag tables (seq_len, hs/2) each, skipped (RoPE is computed)
  const ropeFloats = c.maxSeqLen * hs;
  if (!c.tiedEmbeddings) entries.push({ name: 'head.weight', shape: [vocabSize, dim], transpose: true });
  return { entries, ropeFloats };
}

/** Transposes a row-major (rows, cols) block into (cols, rows). */
function transposed(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/** Parses the header into a validated ModelConfig; errors name the file and the field. */
export function parseLlama2cHeader(buf: Uint8Array, file = '<buffer>'): Readonly<ModelConfig> {
  if (buf.byteLength < HEADER_BYTES) {
    throw new FormatError(
      file,
      'byte 0',
      `file has ${buf.byteLength} bytes, shorter than the ${HEADER_BYTES}-byte llama2.c header`,
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const h = HEADER_FIELDS.map((_, i) => view.getInt32(i * 4, true));
  if (h[0] === VERSIONED_MAGIC) {
    throw new FormatError(
      file,
      'byte 0',
      `versioned llama2.c export (magic "ak42", version ${view.getInt32(4, true)}); expected the legacy version-0 format run.c reads (export.py --version 0)`,
    );
  }
  const [dim, hiddenDim, numLayers, numHeads, numKvHeads, rawVocab, maxSeqLen] = h;
  try {
    return resolveModelConfig({
      dim,
      hiddenDim,
      numLayers,
      numHeads,
      numKvHeads,
      vocabSize: Math.abs(rawVocab),
      maxSeqLen,
      tiedEmbeddings: rawVocab > 0,
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      const field =
        {
          dim: 'dim',
          hiddenDim: 'hidden_dim',
          numLayers: 'n_layers',
          numHeads: 'n_heads',
          numKvHeads: 'n_kv_heads',
          vocabSize: 'vocab_size',
          maxSeqLen: 'seq_len',
        }[e.key] ?? e.key;
      throw new FormatError(
        file,
        `header field ${field}`,
        `${JSON.stringify(e.value)} is invalid; expected ${e.expected}`,
      );
    }
    throw e;
  }
}

/** Expected file size in bytes for a config (header + weights + legacy RoPE tables). */
export function llama2cFileSize(c: ModelConfig): number {
  const { entries, ropeFloats } = layout(c);
  return (
    HEADER_BYTES + 4 * (entries.reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0) + ropeFloats)
  );
}

/** Reads named weights (our layout: matrices (in, out)) and the config from a v0 checkpoint buffer. */
export function parseLlama2c(
  buf: Uint8Array,
  file = '<buffer>',
): { config: Readonly<ModelConfig>; weights: Map<string, tf.Tensor> } {
  const config = parseLlama2cHeader(buf, file);
  const expected = llama2cFileSize(config);
  if (buf.byteLength !== expected) {
    const v = config.tiedEmbeddings ? config.vocabSize : -config.vocabSize;
    throw new FormatError(
      file,
      '',
      `size ${buf.byteLength} bytes does not match its header (dim ${config.dim}, layers ${config.numLayers}, vocab_size ${v}): expected ${expected} bytes${buf.byteLength < expected ? ' (truncated?)' : ''}`,
    );
  }
  // copy to an aligned buffer once, then take float views (Uint8Array's slice copies; Buffer's would not)
  const floats = new Float32Array(Uint8Array.prototype.slice.call(buf, HEADER_BYTES).buffer);
  const { entries, ropeFloats } = layout(config);
  const weights = new Map<string, tf.Tensor>();
  let offset = 0;
  for (const e of entries) {
    if (e.name === 'head.weight') offset += ropeFloats; // the classifier follows the RoPE tables
    const n = e.shape.reduce((a, b) => a * b, 1);
    const raw = floats.subarray(offset, offset + n);
    offset += n;
    weights.set(
      e.name,
      e.transpose
        ? tf.tensor2d(transposed(raw, e.shape[0], e.shape[1]), [e.shape[1], e.shape[0]])
        : tf.tensor(raw.slice(), e.shape),
    );
  }
  return { config, weights };
}

/** A llama2.c v0 checkpoint's bytes as a Transformer (base weights frozen unless `trainable`); `file` names it. */
export function llama2cFromBytes(
  buf: Uint8Array,
  file = '<buffer>',
  options: BuildOptions = {},
): Transformer {
  const { config, weights } = parseLlama2c(buf, file);
  return Transformer.fromWeights(config, weights, options);
}

/** A model as the bytes of a llama2.c v0 checkpoint that run.c can read (added token rows are not part of it). */
export function encodeLlama2c(model: Transformer): Uint8Array {
  const m = model.config;
  const unsupported = [
    m.headDim !== null && `headDim ${m.headDim} ≠ dim / numHeads (${m.dim / m.numHeads})`,
    m.ropeScaling && `RoPE scaling (${m.ropeScaling.type})`,
    m.biases.length > 0 && `biases on ${m.biases.join(', ')}`,
  ].filter(Boolean);
  if (unsupported.length)
    throw new Error(
      `a llama2.c checkpoint cannot hold ${unsupported.join('; ')}; save as a Hugging Face directory (saveHfLlama)`,
    );
  const vars = model.namedVariables();
  const c = { ...model.config, vocabSize: model.embedding.shape[0] };
  const { entries, ropeFloats } = layout(c);
  const out = new Float32Array((llama2cFileSize(c) - HEADER_BYTES) / 4);
  let offset = 0;
  const hs = c.dim / c.numHeads;
  const writeRope = () => {
    for (let pos = 0; pos < c.maxSeqLen; pos++) {
      for (let i = 0; i < hs / 2; i++) {
        const val = pos / c.ropeTheta ** ((2 * i) / hs);
        out[offset + pos * (hs / 2) + i] = Math.cos(val);
        out[offset + ropeFloats / 2 + pos * (hs / 2) + i] = Math.sin(val);
      }
    }
    offset += ropeFloats;
  };
  for (const e of entries) {
    if (e.name === 'head.weight') writeRope();
    const v = vars.get(e.name);
    if (!v) throw new Error(`model has no plain weight ${e.name} (detach or merge experts first)`);
    const data = v.dataSync() as Float32Array;
    out.set(e.transpose ? transposed(data, e.shape[1], e.shape[0]) : data, offset);
    offset += data.length;
  }
  if (c.tiedEmbeddings) writeRope();
  const header = new Int32Array([
    c.dim,
    c.hiddenDim,
    c.numLayers,
    c.numHeads,
    c.numKvHeads,
    c.tiedEmbeddings ? c.vocabSize : -c.vocabSize,
    c.maxSeqLen,
  ]);
  const bytes = new Uint8Array(HEADER_BYTES + out.byteLength);
  bytes.set(new Uint8Array(header.buffer), 0);
  bytes.set(new Uint8Array(out.buffer), HEADER_BYTES);
  return bytes;
}
