// A safetensors file read tensor by tensor from a FileSet (files.ts): the header first (validated as the
// whole-file reader does, against the file's size), then each tensor's byte range on demand. A model checkpoint of
// several GB is never held as one buffer: at most one tensor's stored bytes and its float32 values are alive at a
// time. In Node, safetensors-file.ts opens one by path.
import { FormatError } from '../util/errors.js';
import type { FileSet } from './files.js';
import {
  checkHeaderLength,
  decodeTensorData,
  parseSafetensorsHeader,
  type TensorInfo,
} from './safetensors.js';

export class SafetensorsReader {
  private constructor(
    /** How errors name the file. */
    readonly path: string,
    private readonly files: FileSet,
    private readonly name: string,
    /** Byte offset of the data section in the file. */
    private readonly dataStart: number,
    /** Tensors by name, in offset order. */
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Reads and validates the header of `name` in `files` (nothing else is read). */
  static async open(files: FileSet, name: string): Promise<SafetensorsReader> {
    const path = files.path(name);
    const size = await files.size(name);
    if (size === null) throw new FormatError(path, '', 'cannot open (no such file)');
    if (size < 8)
      throw new FormatError(
        path,
        'header',
        `file is ${size} bytes; a safetensors file starts with an 8-byte header length`,
      );
    const head = await files.read(name, 0, 8);
    const n = checkHeaderLength(new DataView(head.buffer).getBigUint64(0, true), size, path);
    const { infos, metadata } = parseSafetensorsHeader(await files.read(name, 8, n), size - 8 - n, path);
    return new SafetensorsReader(path, files, name, 8 + n, new Map(infos.map((t) => [t.name, t])), metadata);
  }

  /** One tensor's values (float32 for float dtypes, int32 for integer ones), read now. */
  async read(name: string): Promise<Float32Array | Int32Array> {
    const t = this.tensors.get(name);
    if (!t) throw new FormatError(this.path, `tensor ${name}`, 'not in this file');
    const raw = await this.files.read(this.name, this.dataStart + t.begin, t.end - t.begin);
    return decodeTensorData(raw.buffer as ArrayBuffer, t.dtype, (reason) => {
      throw new FormatError(this.path, `tensor ${name}`, reason);
    });
  }
}
