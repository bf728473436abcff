// SafetensorsFile: the header read alone and validated as the whole-file reader does, tensors read one at a time
// through the file handle, and the table/shift decoders of F16/BF16 checked on every bit pattern.
import { mkdtemp, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bf16ToF32,
  decodeSafetensors,
  decodeTensorData,
  encodeSafetensors,
  f16ToF32,
  type HostTensor,
} from '../../../src/io/safetensors.js';
import { SafetensorsFile } from '../../../src/io/safetensors-file.js';

const fail = (r: string): never => {
  throw new Error(r);
};

describe('half-precision decoding', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  it.each([
    ['F16', f16ToF32],
    ['BF16', bf16ToF32],
  ] as const)('%s: every bit pattern decodes as the scalar conversion does', (dtype, scalar) => {
    const out = decodeTensorData(all.slice().buffer, dtype, fail);
    const wrong: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const e = Math.fround(scalar(h));
      const same = Number.isNaN(e) ? Number.isNaN(out[h]) : Object.is(out[h], e);
      if (!same) wrong.push(`bits ${h}: ${out[h]} vs ${e}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('SafetensorsFile', () => {
  const tensors = new Map<string, HostTensor>([
    ['a', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0.25, -0, 7]) }],
    ['b', { shape: [4], data: Float32Array.from([0.1, 0.2, 0.3, 65504]) }],
    ['c', { shape: [], data: Int32Array.from([-9]) }],
  ]);

  it.each(['F32', 'F16', 'BF16'] as const)(
    '%s: reads each tensor as the whole-file reader does',
    async (dtype) => {
      const dir = await mkdtemp(join(tmpdir(), 'mote-stf-'));
      const bytes = encodeSafetensors(tensors, { dtype, metadata: { format: 'pt' } });
      await writeFile(join(dir, 'x.safetensors'), bytes);
      const whole = decodeSafetensors(bytes);
      const file = await SafetensorsFile.open(join(dir, 'x.safetensors'));
      expect(file.metadata).toEqual({ format: 'pt' });
      expect([...file.tensors.keys()]).toEqual([...whole.tensors.keys()]);
      for (const name of ['b', 'c', 'a']) {
        expect(file.tensors.get(name)?.shape).toEqual(whole.tensors.get(name)?.shape);
        expect(await file.read(name)).toEqual(whole.tensors.get(name)?.data);
      }
      await expect(file.read('zz')).rejects.toThrow(/x\.safetensors:tensor zz: not in this file/);
      await file.close();
    },
  );

  it('validates the header against the file size before reading data', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mote-stf-'));
    const path = join(dir, 'cut.safetensors');
    const bytes = encodeSafetensors(tensors);
    await writeFile(path, bytes);
    await truncate(path, bytes.length - 4);
    await expect(SafetensorsFile.open(path)).rejects.toThrow(
      /cut\.safetensors:tensor c: data_offsets \[40, 44\] run past the data section \(40 bytes\)/,
    );
    await truncate(path, 5);
    await expect(SafetensorsFile.open(path)).rejects.toThrow(
      /cut\.safetensors:header: file is 5 bytes; a safetensors file starts with an 8-byte header length/,
    );
    await expect(SafetensorsFile.open(join(dir, 'none.safetensors'))).rejects.toThrow(
      /none\.safetensors: cannot open \(no such file\)/,
    );
  });
});
