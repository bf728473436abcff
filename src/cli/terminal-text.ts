// Text from a model, a data file or an endpoint, made safe to print on a terminal. Such text can hold control
// characters a terminal acts on: ESC starts colour, cursor and title sequences (a model at high temperature writes
// them as readily as letters), CR and backspace overwrite what was shown, C1 controls act like ESC sequences, and
// bidirectional overrides reorder what is displayed. They are shown escaped instead (ESC as the four characters
// `\x1b`, U+202E as `\u202e`); newlines and tabs stay where they are content. Files keep the raw text: this is for
// printing only. A backslash is left as it is, so `\x1b` typed as text looks the same as an escaped ESC.

/** C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embedding/override/isolate marks. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this file's purpose
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
/** The same, with tab and newline (for text that must stay on one line). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this file's purpose
const UNSAFE_ONE_LINE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

const escapeChar = (c: string): string => {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * `text` with every control character a terminal would act on shown escaped (file header). With `oneLine`, newlines
 * and tabs are escaped too (an id or a message that must not start a line of its own).
 */
export function terminalSafe(text: string, options: { oneLine?: boolean } = {}): string {
  return text.replace(options.oneLine ? UNSAFE_ONE_LINE : UNSAFE, escapeChar);
}

/**
 * JSON for stdout: `JSON.stringify` escapes C0 controls already; DEL, C1 controls and bidirectional marks are
 * written as \u escapes as well, so the printed JSON is safe on a terminal and still parses to the same value.
 */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
