// safetensors, read and written by our own code (format of huggingface/safetensors, `safetensors/src/tensor.rs`):
//   8 bytes  N, little-endian u64: the header length
//   N bytes  UTF-8 JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, …},
//            starting with '{', padded with spaces so the data starts 8-byte aligned
//   rest     the data section: every tensor's row-major little-endian bytes, offsets relative to its start,
//            covering it exactly (no holes, no overlaps, nothing after the last tensor).
// The writer orders tensors as the reference does (larger dtypes first, then by name) so files are byte-identical.
import * as tf from '@tensorflow/tfjs';
import { FormatError } from '../util/errors.js';

/** dtypes we read; F64/I64 are converted to float32/int32 on read. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';
/** dtypes we write: floats from float32 data (F16/BF16 rounded to nearest even), I32 from int32 data. */
export type WritableDtype = 'F32' | 'F16' | 'BF16' | 'I32';

/** A tensor on the host: float32 for float dtypes, int32 for integer dtypes. */
export interface HostTensor {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A tensor read from a file, with the dtype it was stored in. */
export interface SafetensorsEntry extends HostTensor {
  dtype: SafetensorsDtype;
}

export interface SafetensorsContents {
  /** Tensors in file (offset) order. */
  tensors: Map<string, SafetensorsEntry>;
  /** The `__metadata__` strings ({} when absent). */
  metadata: Record<string, string>;
}

export interface WriteOptions {
  /** String-to-string `__metadata__`. Omitted when undefined. */
  metadata?: Record<string, string>;
  /** Stored dtype of float tensors, for all or per tensor. Default F32. Int32 data is always I32. */
  dtype?: WritableDtype | ((name: string, t: HostTensor) => WritableDtype);
}

/** Largest header we accept: 100 MB, the reference implementation's MAX_HEADER_SIZE. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };
/** Alignment rank of the reference's `Dtype` enum (BOOL < U8 < … < F16 < BF16 < I32 < U32 < F32 < F64 < I64 < U64). */
const DTYPE_ORDER: Record<SafetensorsDtype, number> = { F16: 7, BF16: 8, I32: 9, F32: 11, F64: 12, I64: 13 };
/** The reference's other dtypes: named in errors as known but unsupported. */
const OTHER_DTYPES = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'U32', 'U64'];

// ---------------------------------------------------------------- writing

/**
 * Serialises host tensors to safetensors bytes, as the reference's `serialize` does: tensors sorted by dtype
 * (larger alignment first) then name, compact JSON header with `__metadata__` first, space padding to a multiple
 * of 8 bytes.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, HostTensor>,
  options: WriteOptions = {},
): Uint8Array {
  const items = [...tensors].map(([name, t]) => {
    checkWritable(name, t);
    const dtype: WritableDtype =
      t.data instanceof Int32Array
        ? 'I32'
        : typeof options.dtype === 'function'
          ? options.dtype(name, t)
          : (options.dtype ?? 'F32');
    if (dtype === 'I32' && !(t.data instanceof Int32Array))
      throw new Error(`safetensors: ${name}: I32 needs Int32Array data`);
    return { name, dtype, t, bytes: encodeData(t.data, dtype) };
  });
  items.sort(
    (a, b) =>
      DTYPE_ORDER[b.dtype] - DTYPE_ORDER[a.dtype] || compareBytes(utf8.encode(a.name), utf8.encode(b.name)),
  );

  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) {
    for (const [k, v] of Object.entries(options.metadata))
      if (typeof v !== 'string')
        throw new Error(`safetensors: metadata ${k} must be a string, got ${typeof v}`);
    header.__metadata__ = options.metadata;
  }
  let offset = 0;
  for (const it of items) {
    header[it.name] = {
      dtype: it.dtype,
      shape: it.t.shape,
      data_offsets: [offset, offset + it.bytes.length],
    };
    offset += it.bytes.length;
  }
  let json = JSON.stringify(header);
  const jsonBytes = utf8.encode(json).length;
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);

  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const it of items) {
    out.set(it.bytes, pos);
    pos += it.bytes.length;
  }
  return out;
}

const utf8 = new TextEncoder();

/** Byte-wise order of two strings' UTF-8 encodings (the reference sorts names as bytes, not UTF-16 units). */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function checkWritable(name: string, t: HostTensor): void {
  if (name === '' || name === '__metadata__')
    throw new Error(`safetensors: invalid tensor name ${JSON.stringify(name)}`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new Error(`safetensors: ${name}: shape [${t.shape}] must be non-negative integers`);
  const size = t.shape.reduce((a, b) => a * b, 1);
  if (size !== t.data.length)
    throw new Error(`safetensors: ${name}: shape [${t.shape}] needs ${size} values, got ${t.data.length}`);
}

function encodeData(data: Float32Array | Int32Array, dtype: WritableDtype): Uint8Array {
  if (dtype === 'F32' || dtype === 'I32')
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const half = new Uint16Array(data.length);
  const convert = dtype === 'F16' ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < data.length; i++) half[i] = convert(data[i]);
  return new Uint8Array(half.buffer);
}

// ---------------------------------------------------------------- reading

/**
 * Parses safetensors bytes with strict validation: header length within the file and ≤ MAX_HEADER_BYTES,
 * UTF-8 JSON object starting with '{', string-only metadata, known dtypes, integer shapes, offsets that tile the
 * data section exactly (sorted, no overlap, no hole, no trailing bytes) and match shape × dtype size.
 * `file` names the source in errors.
 */
export function decodeSafetensors(bytes: Uint8Array, file = '<buffer>'): SafetensorsContents {
  const fail = (where: string, reason: string): never => {
    throw new FormatError(file, where, reason);
  };
  if (bytes.length < 8)
    fail('header', `file is ${bytes.length} bytes; a safetensors file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = checkHeaderLength(view.getBigUint64(0, true), bytes.length, file);
  const dataStart = 8 + n;
  const { infos, metadata } = parseSafetensorsHeader(
    bytes.subarray(8, dataStart),
    bytes.length - dataStart,
    file,
  );
  const tensors = new Map<string, SafetensorsEntry>();
  for (const it of infos) {
    const raw = bytes.slice(dataStart + it.begin, dataStart + it.end); // copy: aligned and owned
    tensors.set(it.name, {
      dtype: it.dtype,
      shape: it.shape,
      data: decodeTensorData(raw.buffer, it.dtype, (r) => fail(`tensor ${it.name}`, r)),
    });
  }
  return { tensors, metadata };
}

/** The header length `n64` read from the first 8 bytes, checked against the limit and the file size. */
export function checkHeaderLength(n64: bigint, fileBytes: number, file: string): number {
  if (n64 > BigInt(MAX_HEADER_BYTES))
    throw new FormatError(file, 'header', `header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (8 + n > fileBytes)
    throw new FormatError(
      file,
      'header',
      `header length ${n} runs past the end of the file (${fileBytes} bytes)`,
    );
  return n;
}

/**
 * Parses and validates the JSON header (the N bytes after the length): UTF-8 JSON object starting with '{',
 * string-only metadata, known dtypes, integer shapes, offsets that tile a data section of `dataLength` bytes
 * exactly (no overlap, no hole, no trailing bytes) and match shape × dtype size. Tensors in offset order.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  file: string,
): { infos: TensorInfo[]; metadata: Record<string, string> } {
  const fail = (where: string, reason: string): never => {
    throw new FormatError(file, where, reason);
  };
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail('header', 'header is not valid UTF-8');
  }
  if (!text.startsWith('{'))
    fail('header', `header must start with '{', got ${JSON.stringify(text.slice(0, 16))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail('header', `header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    fail('header', 'header is not a JSON object');
  const { __metadata__: meta, ...entries } = header as Record<string, unknown>;
  const metadata = parseMetadata(meta, fail);

  const infos = Object.entries(entries).map(([name, info]) => parseInfo(name, info, dataLength, fail));
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const it of infos) {
    if (it.begin < expected)
      fail(
        `tensor ${it.name}`,
        `data_offsets [${it.begin}, ${it.end}] overlap the previous tensor (ends at ${expected})`,
      );
    if (it.begin > expected)
      fail(
        `tensor ${it.name}`,
        `data_offsets [${it.begin}, ${it.end}] leave a hole: bytes ${expected}…${it.begin} belong to no tensor`,
      );
    expected = it.end;
  }
  if (expected !== dataLength)
    fail(
      'data',
      `${dataLength - expected} bytes after the last tensor (data section ${dataLength} bytes, tensors cover ${expected})`,
    );
  return { infos, metadata };
}

/** One tensor of a header: byte offsets relative to the start of the data section. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseMetadata(
  meta: unknown,
  fail: (where: string, reason: string) => never,
): Record<string, string> {
  if (meta === undefined) return {};
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    fail('__metadata__', 'must be an object of strings');
  for (const [k, v] of Object.entries(meta as object))
    if (typeof v !== 'string')
      fail('__metadata__', `value of ${JSON.stringify(k)} must be a string, got ${JSON.stringify(v)}`);
  return meta as Record<string, string>;
}

function parseInfo(
  name: string,
  info: unknown,
  dataLength: number,
  fail: (where: string, reason: string) => never,
): TensorInfo {
  const where = `tensor ${name}`;
  if (info === null || typeof info !== 'object' || Array.isArray(info))
    fail(where, 'entry must be an object {dtype, shape, data_offsets}');
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    const known = OTHER_DTYPES.includes(dtype as string)
      ? ' (a safetensors dtype this library does not read)'
      : '';
    fail(
      where,
      `dtype ${JSON.stringify(dtype)}${known}; expected one of ${Object.keys(DTYPE_BYTES).join(', ')}`,
    );
  }
  const isCount = (d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount))
    fail(where, `shape ${JSON.stringify(shape)} must be a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
    fail(where, `data_offsets ${JSON.stringify(offsets)} must be two non-negative integers [begin, end]`);
  const [begin, end] = offsets as number[];
  if (begin > end) fail(where, `data_offsets [${begin}, ${end}]: begin is after end`);
  if (end > dataLength)
    fail(where, `data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes)`);
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  const need = size * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (end - begin !== need)
    fail(
      where,
      `data_offsets [${begin}, ${end}] hold ${end - begin} bytes; shape [${shape}] of ${dtype} needs ${need}`,
    );
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

/** A tensor's stored bytes (an owned, aligned buffer) → float32 / int32 values; F32 and I32 are views, no copy. */
export function decodeTensorData(
  buf: ArrayBuffer,
  dtype: SafetensorsDtype,
  fail: (reason: string) => never,
): Float32Array | Int32Array {
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'I64': {
      const big = new BigInt64Array(buf);
      const out = new Int32Array(big.length);
      for (let i = 0; i < big.length; i++) {
        if (big[i] > 2147483647n || big[i] < -2147483648n)
          fail(`I64 value ${big[i]} at index ${i} does not fit in int32`);
        out[i] = Number(big[i]);
      }
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits into place (exact, NaN payloads included)
      const half = new Uint16Array(buf);
      const bits = new Uint32Array(half.length);
      for (let i = 0; i < half.length; i++) bits[i] = half[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F16': {
      const half = new Uint16Array(buf);
      const table = f16Table();
      const out = new Float32Array(half.length);
      for (let i = 0; i < half.length; i++) out[i] = table[half[i]];
      return out;
    }
  }
}

let F16_TABLE: Float32Array | null = null;

/** Every binary16 bit pattern's value (256 KB, built once): a table lookup per element instead of a call. */
function f16Table(): Float32Array {
  if (!F16_TABLE) {
    F16_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToF32(h);
  }
  return F16_TABLE;
}

/** Tensors of a file as tf tensors (float32 / int32); the caller owns them. */
export function toTfTensors(contents: SafetensorsContents): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, t] of contents.tensors)
    out.set(name, tf.tensor(t.data, t.shape, t.data instanceof Int32Array ? 'int32' : 'float32'));
  return out;
}

// ---------------------------------------------------------------- half-precision conversions

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE binary16 bits, round to nearest even; overflow → ±Inf, NaN → 0x7e00 (sign kept), subnormals kept. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // normal: keep 10 of 23 mantissa bits; a carry out of the mantissa bumps the exponent (up to Inf), as it should
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    return sign | h;
  }
  if (e < -25) return sign; // below half the smallest subnormal 2⁻²⁴
  // subnormal: value = 1.mant·2^e = (mant | 2²³)·2^(e−23); in units of 2⁻²⁴ that is (mant | 2²³) >> −(e+1)
  mant |= 0x800000;
  const shift = -(e + 1); // 14 … 24
  let h = mant >>> shift;
  const rest = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && h & 1)) h++;
  return sign | h;
}

/** IEEE binary16 bits → number. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

/** float32 → bfloat16 bits (the upper half), round to nearest even; NaN → 0x7fc0 (sign kept). */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bfloat16 bits → number. */
export function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}
