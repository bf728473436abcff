// A safetensors file on disk read tensor by tensor (safetensors-reader.ts over the file's directory): the header
// when opened, each tensor's byte range on demand.
import { basename, dirname } from 'node:path';
import { directoryFiles } from './files-node.js';
import type { TensorInfo } from './safetensors.js';
import { SafetensorsReader } from './safetensors-reader.js';

export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private reader: SafetensorsReader | null,
  ) {}

  /** Opens `path` and reads and validates its header only. Close the file when done. */
  static async open(path: string): Promise<SafetensorsFile> {
    return new SafetensorsFile(
      path,
      await SafetensorsReader.open(directoryFiles(dirname(path)), basename(path)),
    );
  }

  /** Tensors by name, in offset order. */
  get tensors(): ReadonlyMap<string, TensorInfo> {
    return this.open().tensors;
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.open().metadata;
  }

  /** One tensor's values (float32 for float dtypes, int32 for integer ones), read from disk now. */
  async read(name: string): Promise<Float32Array | Int32Array> {
    return this.open().read(name);
  }

  async close(): Promise<void> {
    this.reader = null;
  }

  private open(): SafetensorsReader {
    if (!this.reader) throw new Error(`${this.path}: read after close`);
    return this.reader;
  }
}
