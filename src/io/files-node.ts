// A directory on disk as a FileSet (files.ts): the loaders that read a FileSet read a model or adapter directory
// this way in Node. Ranges are read through a file handle, so a multi-GB safetensors file is never one buffer.
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../util/errors.js';
import type { FileSet } from './files.js';

/** Largest single read (fs reads are limited to 2 GiB − 1 bytes per call). */
const READ_CHUNK = 1 << 28;

/** The files of `dir`; errors name a file by its path, `join(dir, name)`. */
export function directoryFiles(dir: string): FileSet {
  const path = (name: string) => join(dir, name);
  return {
    label: dir,
    path,
    names: () => readdir(dir),
    // anything that exists has a size (a directory where a file should be fails when read, naming the cause)
    size: async (name) => (await stat(path(name)).catch(() => null))?.size ?? null,
    read: async (name, offset = 0, length) => {
      const cannot = (e: NodeJS.ErrnoException) => {
        throw new FormatError(path(name), '', `cannot read (${e.code ?? e.message})`);
      };
      const handle = await open(path(name), 'r').catch(cannot);
      try {
        const n = length ?? (await handle.stat()).size - offset;
        return await readAt(handle, offset, n, path(name)).catch((e: NodeJS.ErrnoException) =>
          e instanceof FormatError ? Promise.reject(e) : cannot(e),
        );
      } finally {
        await handle.close();
      }
    },
  };
}

/** `length` bytes at `position`, into a fresh (aligned, owned) buffer; a short file is a FormatError. */
export async function readAt(
  handle: FileHandle,
  position: number,
  length: number,
  path: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const want = Math.min(READ_CHUNK, length - done);
    const { bytesRead } = await handle.read(out, done, want, position + done);
    if (bytesRead === 0)
      throw new FormatError(
        path,
        `byte ${position + done}`,
        `file ends early (${length - done} bytes missing)`,
      );
    done += bytesRead;
  }
  return out;
}
