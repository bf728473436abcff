// Reading a whole text file: UTF-8, gunzipped first when it is gzip (its name ends in `.gz`, or its bytes start
// with the gzip magic number 1f 8b). Every error names the file. Node's fs and zlib are imported when a file is
// read, not when this module is loaded, so a browser bundle of the library can include it.

import { FileError, FormatError } from './errors.js';

/** Reads `path` as text (see the file header). Throws a FileError when it cannot be read, a FormatError on bad gzip. */
export async function readTextFile(path: string): Promise<string> {
  let bytes = await readFileBytes(path);
  if (isGzip(bytes, path)) bytes = await gunzip(bytes, path);
  return decodeText(bytes);
}

/** The bytes of `path`. Throws a FileError naming the file and the system error code. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path);
  } catch (e) {
    throw new FileError(path, 'read', e);
  }
}

/** Whether `bytes` are to be gunzipped: a `.gz` name, or the gzip magic number. */
export function isGzip(bytes: Uint8Array, path: string): boolean {
  return /\.gz$/i.test(path) || (bytes[0] === 0x1f && bytes[1] === 0x8b);
}

/** Decompresses gzip data; a truncated or corrupt stream is a FormatError naming `file` and zlib's reason. */
export async function gunzip(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  const { gunzipSync } = await import('node:zlib');
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new FormatError(file, '', `truncated or corrupt gzip data (${(e as Error).message})`);
  }
}

/** UTF-8 bytes → text; a leading byte-order mark is dropped, invalid sequences become U+FFFD. */
export function decodeText(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
