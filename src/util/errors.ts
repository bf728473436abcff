// Errors that say what was wrong, where, and what was expected.

/** A configuration value is invalid. The message names the key, the value received and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`invalid config: ${key} = ${JSON.stringify(value)}; expected ${expected}`);
    this.name = 'ConfigError';
  }
}

/** A file (or one record of it) is malformed. The message names the file, the line or byte offset and the field. */
export class FormatError extends Error {
  constructor(
    readonly file: string,
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${file}${where ? `:${where}` : ''}: ${reason}`);
    this.name = 'FormatError';
  }
}

/** Throws a ConfigError unless `ok`. */
export function check(ok: boolean, key: string, value: unknown, expected: string): asserts ok {
  if (!ok) throw new ConfigError(key, value, expected);
}

/**
 * A file cannot be read (or written): the message names the file, what failed and the system error code, e.g.
 * `x.jsonl: cannot read (ENOENT: no such file or directory)`. `code` is the code (undefined when there is none).
 */
export class FileError extends Error {
  readonly code: string | undefined;

  constructor(
    readonly file: string,
    action: string,
    cause: unknown,
  ) {
    const e = cause as NodeJS.ErrnoException;
    // Node's message is "CODE: description, syscall 'path'"; keep the description, the path is already named.
    let detail = String(e?.message ?? cause).replace(/^[A-Z_]+: /, '');
    if (e?.syscall) detail = detail.replace(new RegExp(`, ${e.syscall}( '.*')?$`, 's'), '');
    super(`${file}: cannot ${action} (${e?.code ? `${e.code}: ` : ''}${detail})`, { cause });
    this.name = 'FileError';
    this.code = e?.code;
  }
}
