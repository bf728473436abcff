// A set of named files as the loaders read them, wherever they are: a directory on disk (files-node.ts
// `directoryFiles`), files a user dropped on a web page, or files fetched from a server (`memoryFiles`,
// `fetchFiles`). Loaders written against a FileSet run unchanged in Node and in a browser. Names are relative and
// '/'-separated; `path(name)` is how an error names a file (its full path on disk, or the set's label and name).
import { FormatError } from '../util/errors.js';

/** Named files with random access (safetensors weights are read tensor by tensor). */
export interface FileSet {
  /** How errors name the set as a whole: a directory's path, or a label such as 'dropped files'. */
  readonly label: string;
  /** How errors name `name`: its path on disk, or the set's label and the name. */
  path(name: string): string;
  /** The names of the files in the set (a directory on disk: its top level). */
  names(): Promise<string[]>;
  /** The size of `name` in bytes, or null when the set has no such file. */
  size(name: string): Promise<number | null>;
  /**
   * `length` bytes of `name` from `offset` (default: the whole file), in a fresh buffer. A missing file, or one
   * shorter than asked for, is a FormatError naming it.
   */
  read(name: string, offset?: number, length?: number): Promise<Uint8Array>;
}

/** Bytes as a page has them: a buffer or view, a Blob (a dropped File), a fetch Response, or a URL to fetch. */
export type ByteSource = ArrayBuffer | ArrayBufferView | Blob | Response | URL | string;

/** Whether `x` is a FileSet (rather than a ByteSource). */
export function isFileSet(x: unknown): x is FileSet {
  const f = x as Partial<FileSet> | null;
  return typeof f === 'object' && f !== null && typeof f.read === 'function' && typeof f.size === 'function';
}

/** The bytes of `source` (a URL or string is fetched); `what` names it in errors. Views are copied, not shared. */
export async function readBytes(source: ByteSource, what = 'input'): Promise<Uint8Array> {
  if (source instanceof ArrayBuffer) return new Uint8Array(source.slice(0));
  if (ArrayBuffer.isView(source))
    return new Uint8Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength));
  if (typeof Blob !== 'undefined' && source instanceof Blob)
    return new Uint8Array(await source.arrayBuffer());
  if (typeof source === 'string' || source instanceof URL)
    return readBytes(await fetchOk(source, what), what);
  const response = source as Response;
  if (!response.ok) throw new FormatError(response.url || what, '', `HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** `url` fetched, or an error naming it and the HTTP status (or the network failure). */
async function fetchOk(url: string | URL, what: string): Promise<Response> {
  const href = String(url);
  const response = await fetch(url).catch((e: unknown) => {
    throw new FormatError(href, '', `cannot fetch ${what} (${(e as Error).message})`);
  });
  if (!response.ok) throw new FormatError(href, '', `cannot fetch ${what}: HTTP ${response.status}`);
  return response;
}

/** The UTF-8 text of `name`; a missing file is a FormatError naming it. */
export async function readTextFile(files: FileSet, name: string): Promise<string> {
  return new TextDecoder().decode(await files.read(name));
}

/** The UTF-8 text of `name`, or undefined when the set has no such file. */
export async function readOptionalText(files: FileSet, name: string): Promise<string | undefined> {
  return (await files.size(name)) === null ? undefined : readTextFile(files, name);
}

/** The JSON value of `text`, or a FormatError naming `file`. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, '', `not valid JSON (${(e as Error).message})`);
  }
}

/** One file's content in memory: bytes, or a Blob (a dropped File is read lazily, by range). */
export type FileContent = ArrayBuffer | ArrayBufferView | Blob;

/**
 * A FileSet over files in memory: `[name, content]` pairs or a record; errors name a file as `label/name`
 * (default label 'files'), or as `label(name)` when it is a function.
 */
export function memoryFiles(
  entries: Iterable<readonly [string, FileContent]> | Record<string, FileContent>,
  label: string | ((name: string) => string) = 'files',
): FileSet {
  const list =
    Symbol.iterator in entries ? [...(entries as Iterable<[string, FileContent]>)] : Object.entries(entries);
  const files = new Map<string, Blob | Uint8Array>(
    list.map(([name, content]) => [name, content instanceof Blob ? content : toView(content)]),
  );
  const path = typeof label === 'function' ? label : (name: string) => `${label}/${name}`;
  const setLabel = typeof label === 'function' ? label('') : label;
  const sizeOf = (c: Blob | Uint8Array) => (c instanceof Blob ? c.size : c.byteLength);
  return {
    label: setLabel,
    path,
    names: async () => [...files.keys()],
    size: async (name) => {
      const c = files.get(name);
      return c === undefined ? null : sizeOf(c);
    },
    read: async (name, offset = 0, length) => {
      const c = files.get(name);
      if (c === undefined) throw new FormatError(path(name), '', 'no such file');
      const end = length === undefined ? sizeOf(c) : offset + length;
      if (end > sizeOf(c))
        throw new FormatError(
          path(name),
          `byte ${sizeOf(c)}`,
          `file ends early (${end - sizeOf(c)} bytes missing)`,
        );
      if (c instanceof Blob) return new Uint8Array(await c.slice(offset, end).arrayBuffer());
      return c.slice(offset, end);
    },
  };
}

function toView(c: ArrayBuffer | ArrayBufferView): Uint8Array {
  return c instanceof ArrayBuffer ? new Uint8Array(c) : new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
}

/**
 * Fetches `names` relative to `base` (a directory URL ending in '/') into a FileSet; a name the server answers
 * 404 for is absent from the set, any other failure is an error naming the URL.
 */
export async function fetchFiles(base: string | URL, names: readonly string[]): Promise<FileSet> {
  const page = (globalThis as { location?: { href: string } }).location?.href;
  const root = new URL(String(base), page);
  const found: [string, Blob][] = [];
  for (const name of names) {
    const url = new URL(name, root);
    const response = await fetch(url).catch((e: unknown) => {
      throw new FormatError(url.href, '', `cannot fetch (${(e as Error).message})`);
    });
    if (response.status === 404) continue;
    if (!response.ok) throw new FormatError(url.href, '', `cannot fetch: HTTP ${response.status}`);
    found.push([name, await response.blob()]);
  }
  return memoryFiles(found, (name) => new URL(name, root).href);
}
