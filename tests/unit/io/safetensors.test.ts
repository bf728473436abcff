import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bf16ToF32,
  decodeSafetensors,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  type HostTensor,
  toTfTensors,
} from '../../../src/io/safetensors.js';
import { readSafetensors, writeSafetensors } from '../../../src/io/safetensors-node.js';
import { FormatError } from '../../../src/util/errors.js';

/** A file built by hand: u64 LE header length, the header text, then the data bytes. */
function handFile(header: string, data: Uint8Array = new Uint8Array()): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const f32Bytes = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const f32 = (values: number[]): HostTensor => ({ shape: [values.length], data: new Float32Array(values) });

describe('safetensors writer matches the reference byte for byte', () => {
  // Cases of huggingface/safetensors `tensor.rs` tests (what Python's `save_file` produces), rebuilt by hand.
  it('one F32 tensor whose header is already 8-byte aligned', () => {
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'; // 64 bytes
    const expected = handFile(header, f32Bytes([0, 1, 2, 3, 4, 5]));
    expect(expected.slice(0, 8)).toEqual(new Uint8Array([64, 0, 0, 0, 0, 0, 0, 0]));
    const got = encodeSafetensors(
      new Map([['attn.0', { shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]]),
    );
    expect(got).toEqual(expected);
  });

  it('pads the header with spaces to a multiple of 8', () => {
    const header = `${'{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}'}       `; // 65 + 7
    const got = encodeSafetensors(
      new Map([['attn0', { shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) }]]),
    );
    expect(got).toEqual(handFile(header, f32Bytes([0, 1, 2, 3, 4, 5])));
    expect(got[0]).toBe(72);
  });

  it('writes an empty file and metadata first', () => {
    expect(encodeSafetensors(new Map())).toEqual(handFile('{}      '));
    expect(encodeSafetensors(new Map(), { metadata: { framework: 'pt' } })).toEqual(
      handFile('{"__metadata__":{"framework":"pt"}}     '),
    );
  });

  it('orders tensors by dtype alignment, then name', () => {
    const bytes = encodeSafetensors(
      new Map<string, HostTensor>([
        ['b', f32([1])],
        ['half', f32([1])],
        ['a', f32([2])],
        ['ids', { shape: [1], data: new Int32Array([7]) }],
        ['brain', f32([1])],
      ]),
      { dtype: (name) => (name === 'half' ? 'F16' : name === 'brain' ? 'BF16' : 'F32') },
    );
    const { tensors } = decodeSafetensors(bytes);
    expect([...tensors.keys()]).toEqual(['a', 'b', 'ids', 'brain', 'half']);
    expect([...tensors.values()].map((t) => t.dtype)).toEqual(['F32', 'F32', 'I32', 'BF16', 'F16']);
  });
});

describe('F16 / BF16 rounding', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0, 0x0000],
    [-0, 0x8000],
    [1 / 3, 0x3555], // 0.333251953125
    [65504, 0x7bff], // largest finite
    [65519, 0x7bff], // rounds down
    [65520, 0x7c00], // tie → even → Inf
    [1e6, 0x7c00],
    [Number.NEGATIVE_INFINITY, 0xfc00],
    [Number.NaN, 0x7e00],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1 + 2⁻¹⁰ → even (1)
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even (1 + 2⁻⁹)
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie → even (0)
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // 1.5 ulp: tie → even (2)
    [-(2 ** -15), 0x8200], // subnormal 512·2⁻²⁴
    [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal + ½ ulp: tie → even carries into the smallest normal
  ])('f32ToF16(%s) = %s', (x, bits) => {
    expect(f32ToF16(x)).toBe(bits);
  });

  it('decodes F16 bits', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0x3555)).toBe(0.333251953125);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    const broken: number[] = []; // every non-NaN half must survive the round trip
    for (let h = 0; h < 0x10000; h++)
      if (!Number.isNaN(f16ToF32(h)) && f32ToF16(f16ToF32(h)) !== h) broken.push(h);
    expect(broken).toEqual([]);
  });

  it.each([
    [1, 0x3f80],
    [1 + 2 ** -8, 0x3f80], // tie → even
    [1 + 3 * 2 ** -8, 0x3f82], // tie → even
    [Math.PI, 0x4049], // 0x40490fdb: lower half < 0x8000 → down
    [3.4028234663852886e38, 0x7f80], // max float32 rounds to Inf
    [Number.NEGATIVE_INFINITY, 0xff80],
    [Number.NaN, 0x7fc0],
    [1e-40, 0x0001], // float32 subnormal 0x000116c2 → bf16 subnormal
    [-0, 0x8000],
  ])('f32ToBf16(%s) = %s', (x, bits) => {
    expect(f32ToBf16(x)).toBe(bits);
  });

  it('decodes BF16 bits', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0x4049)).toBe(3.140625);
    expect(bf16ToF32(0xff80)).toBe(Number.NEGATIVE_INFINITY);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
  });
});

describe('round trips', () => {
  const values = [0, 1, -1.5, 1.2345, 1e-3, -65504, 2 ** -20, 1e-30];
  it.each(['F32', 'F16', 'BF16'] as const)('%s', (dtype) => {
    const bytes = encodeSafetensors(new Map([['w', { shape: [2, 4], data: new Float32Array(values) }]]), {
      dtype,
      metadata: { step: '3', note: 'ünïcode ✓' },
    });
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ step: '3', note: 'ünïcode ✓' });
    const w = tensors.get('w')!;
    expect(w.dtype).toBe(dtype);
    expect(w.shape).toEqual([2, 4]);
    const convert =
      dtype === 'F16'
        ? (x: number) => f16ToF32(f32ToF16(x))
        : dtype === 'BF16'
          ? (x: number) => bf16ToF32(f32ToBf16(x))
          : Math.fround;
    expect([...w.data]).toEqual(values.map(convert));
  });

  it('I32, scalars and empty tensors', () => {
    const bytes = encodeSafetensors(
      new Map<string, HostTensor>([
        ['ids', { shape: [3], data: new Int32Array([-5, 0, 2147483647]) }],
        ['scalar', { shape: [], data: new Float32Array([2.5]) }],
        ['empty', { shape: [0, 4], data: new Float32Array() }],
      ]),
    );
    const { tensors } = decodeSafetensors(bytes);
    expect([...tensors.get('ids')!.data]).toEqual([-5, 0, 2147483647]);
    expect(tensors.get('scalar')).toEqual({ dtype: 'F32', shape: [], data: new Float32Array([2.5]) });
    expect(tensors.get('empty')!.shape).toEqual([0, 4]);
  });

  it('reads F64 and I64 written by other tools', () => {
    const f64 = new Uint8Array(new Float64Array([0.5, -2]).buffer);
    const i64 = new Uint8Array(new BigInt64Array([-3n, 40n]).buffer);
    const header =
      '{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"l":{"dtype":"I64","shape":[2],"data_offsets":[16,32]}}';
    const data = new Uint8Array(32);
    data.set(f64, 0);
    data.set(i64, 16);
    const { tensors } = decodeSafetensors(handFile(header, data));
    expect(tensors.get('d')!.data).toEqual(new Float32Array([0.5, -2]));
    expect(tensors.get('l')!.data).toEqual(new Int32Array([-3, 40]));
  });

  it('reads files whose header is not padded', () => {
    const header = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'; // 53 bytes: data unaligned
    expect(decodeSafetensors(handFile(header, f32Bytes([7]))).tensors.get('x')!.data).toEqual(
      new Float32Array([7]),
    );
  });
});

describe('files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mote-st-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes tf tensors atomically and reads them back', async () => {
    const w = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const ids = tf.tensor1d([1, 2, 3], 'int32');
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(
      path,
      new Map<string, tf.Tensor>([
        ['w', w],
        ['ids', ids],
      ]),
      { metadata: { format: 'pt' } },
    );
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    const back = toTfTensors(await readSafetensors(path));
    expect(back.get('w')!.arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(back.get('ids')!.dtype).toBe('int32');
    tf.dispose([w, ids, ...back.values()]);
  });

  it('names the file in errors of a truncated file', async () => {
    const path = join(dir, 'cut.safetensors');
    const good = encodeSafetensors(new Map([['blocks.0.w', f32([1, 2, 3, 4])]]));
    await writeFile(path, good.slice(0, good.length - 3));
    await expect(readSafetensors(path)).rejects.toThrow(
      `${path}:tensor blocks.0.w: data_offsets [0, 16] run past the data section (13 bytes)`,
    );
    expect((await readFile(path)).length).toBe(good.length - 3);
  });
});

describe('strict validation', () => {
  const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const eight = new Uint8Array(8);
  const header = (len: bigint, rest = new Uint8Array()) => {
    const out = new Uint8Array(8 + rest.length);
    new DataView(out.buffer).setBigUint64(0, len, true);
    out.set(rest, 8);
    return out;
  };

  it.each<[string, Uint8Array, RegExp]>([
    ['a file shorter than 8 bytes', new Uint8Array(5), /f:header: file is 5 bytes/],
    [
      'a header over the limit',
      header(2n ** 40n),
      /header length 1099511627776 exceeds the 100000000-byte limit/,
    ],
    [
      'a header past the end',
      header(100n, new Uint8Array(10)),
      /header length 100 runs past the end of the file \(18 bytes\)/,
    ],
    ['invalid UTF-8', handFile('{"\xff"}').map((b, i) => (i === 10 ? 0xff : b)), /header is not valid UTF-8/],
    ['a header not starting with {', handFile(' {}     '), /header must start with '\{'/],
    ['invalid JSON', handFile('{"a": }'), /header is not valid JSON/],
    ['a tensor entry that is not an object', handFile('{"a":1}'), /f:tensor a: entry must be an object/],
    [
      'non-string metadata',
      handFile('{"__metadata__":{"step":3}}'),
      /f:__metadata__: value of "step" must be a string, got 3/,
    ],
    [
      'an unknown dtype',
      handFile('{"a":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)),
      /tensor a: dtype "Q8"; expected one of/,
    ],
    [
      'an unsupported dtype',
      handFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)),
      /dtype "U8" \(a safetensors dtype this library does not read\)/,
    ],
    [
      'a bad shape',
      handFile('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', eight),
      /tensor a: shape \[-2\] must be a list of non-negative integers/,
    ],
    [
      'missing offsets',
      handFile('{"a":{"dtype":"F32","shape":[2]}}', eight),
      /tensor a: data_offsets undefined must be two/,
    ],
    [
      'begin after end',
      handFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}', eight),
      /begin is after end/,
    ],
    [
      'a size mismatch',
      handFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', eight),
      /tensor a: data_offsets \[0, 8\] hold 8 bytes; shape \[3\] of F32 needs 12/,
    ],
    [
      'offsets past the end',
      handFile(ok, new Uint8Array(4)),
      /tensor a: data_offsets \[0, 8\] run past the data section \(4 bytes\)/,
    ],
    ['trailing bytes', handFile(ok, new Uint8Array(12)), /f:data: 4 bytes after the last tensor/],
    [
      'overlapping tensors',
      handFile(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        eight,
      ),
      /tensor b: data_offsets \[4, 8\] overlap the previous tensor \(ends at 8\)/,
    ],
    [
      'a hole',
      handFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', eight),
      /tensor a: data_offsets \[4, 8\] leave a hole: bytes 0…4 belong to no tensor/,
    ],
    [
      'an I64 out of int32 range',
      handFile(
        '{"l":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}',
        new Uint8Array(new BigInt64Array([2n ** 40n]).buffer),
      ),
      /tensor l: I64 value 1099511627776 at index 0 does not fit in int32/,
    ],
  ])('rejects %s', (_what, bytes, message) => {
    expect(() => decodeSafetensors(bytes, 'f')).toThrow(FormatError);
    expect(() => decodeSafetensors(bytes, 'f')).toThrow(message);
  });

  it('rejects bad input on write', () => {
    expect(() => encodeSafetensors(new Map([['w', { shape: [3], data: new Float32Array(2) }]]))).toThrow(
      /w: shape \[3\] needs 3 values, got 2/,
    );
    expect(() => encodeSafetensors(new Map([['__metadata__', f32([1])]]))).toThrow(/invalid tensor name/);
    expect(() => encodeSafetensors(new Map(), { metadata: { a: 1 as never } })).toThrow(
      /metadata a must be a string/,
    );
  });
});
