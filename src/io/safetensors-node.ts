// safetensors files on disk: read whole and validated (safetensors.ts `decodeSafetensors`), written atomically.
import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomic.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
  type SafetensorsContents,
  type WriteOptions,
} from './safetensors.js';

/**
 * Writes tensors (tf tensors are read with `await data()`, not disposed) to `path` atomically (temp file, fsync,
 * rename), so a failed write never leaves a partial file where a good one was.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, tf.Tensor | HostTensor>,
  options: WriteOptions = {},
): Promise<void> {
  const host = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    if (!(t instanceof tf.Tensor)) host.set(name, t);
    else if (t.dtype === 'float32' || t.dtype === 'int32')
      host.set(name, { shape: [...t.shape], data: (await t.data()) as Float32Array | Int32Array });
    else throw new Error(`safetensors: ${name} has dtype ${t.dtype}; expected float32 or int32`);
  }
  await writeFileAtomic(path, encodeSafetensors(host, options));
}

/** Reads and validates a safetensors file; errors name the file, the tensor and the problem. */
export async function readSafetensors(path: string): Promise<SafetensorsContents> {
  return decodeSafetensors(new Uint8Array(await readFile(path)), path);
}
