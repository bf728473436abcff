// A safetensors file read tensor by tensor through a file handle: the header first (validated as the whole-file
// reader does, against the file's size), then each tensor's byte range on demand. A model checkpoint of several GB
// is never held as one buffer: at most one tensor's stored bytes and its float32 values are alive at a time.
import { type FileHandle, open } from 'node:fs/promises';
import { FormatError } from '../util/errors.js';
import {
  checkHeaderLength,
  decodeTensorData,
  parseSafetensorsHeader,
  type TensorInfo,
} from './safetensors.js';

/** Largest single read (fs reads are limited to 2 GiB − 1 bytes per call). */
const READ_CHUNK = 1 << 28;

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private handle: FileHandle | null,
    /** Byte offset of the data section in the file. */
    private readonly dataStart: number,
    /** Tensors by name, in offset order. */
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Opens `path` and reads and validates its header only. Close the file when done. */
  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
      throw new FormatError(path, '', `cannot open (${e.code ?? e.message})`);
    });
    try {
      const size = (await handle.stat()).size;
      if (size < 8)
        throw new FormatError(
          path,
          'header',
          `file is ${size} bytes; a safetensors file starts with an 8-byte header length`,
        );
      const head = await readAt(handle, 0, 8, path);
      const n = checkHeaderLength(new DataView(head.buffer).getBigUint64(0, true), size, path);
      const { infos, metadata } = parseSafetensorsHeader(
        await readAt(handle, 8, n, path),
        size - 8 - n,
        path,
      );
      return new SafetensorsFile(path, handle, 8 + n, new Map(infos.map((t) => [t.name, t])), metadata);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** One tensor's values (float32 for float dtypes, int32 for integer ones), read from disk now. */
  async read(name: string): Promise<Float32Array | Int32Array> {
    const t = this.tensors.get(name);
    if (!t) throw new FormatError(this.path, `tensor ${name}`, 'not in this file');
    if (!this.handle) throw new Error(`${this.path}: read after close`);
    const raw = await readAt(this.handle, this.dataStart + t.begin, t.end - t.begin, this.path);
    return decodeTensorData(raw.buffer as ArrayBuffer, t.dtype, (reason) => {
      throw new FormatError(this.path, `tensor ${name}`, reason);
    });
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await h?.close();
  }
}

/** `length` bytes at `position`, into a fresh (aligned, owned) buffer; a short file is a FormatError. */
async function readAt(
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
