// Streaming for tokenizers whose decoder works on whole id sequences (HF decoders strip, fuse and join): decode a
// short window of ids, emit what the newest id added, and hold text back while it ends in an incomplete UTF-8
// sequence (decoded as U+FFFD). The window restarts at the last id emitted, so each push decodes a few ids only.

import type { StreamDecoder } from './tokenizer.js';

const REPLACEMENT = '\uFFFD';

/**
 * A StreamDecoder over `decode`. `context` are ids already shown before the first push (e.g. the prompt's last
 * id): they are decoded with the new ids, so context-dependent rules (a leading space stripped only at the start
 * of the text) apply as they would to the whole sequence, but their text is not emitted again.
 */
export function windowStreamDecoder(
  decode: (ids: readonly number[]) => string,
  context: readonly number[] = [],
): StreamDecoder {
  let window = [...context];
  let shown = decode(window);
  const newText = (): string => {
    const text = decode(window);
    let same = 0;
    while (same < shown.length && same < text.length && text[same] === shown[same]) same++;
    return text.slice(same);
  };
  return {
    push(id) {
      window.push(id);
      const text = newText();
      if (text.endsWith(REPLACEMENT)) return ''; // maybe the first bytes of a character: wait for the rest
      window = [id];
      shown = decode(window);
      return text;
    },
    flush() {
      const text = newText();
      window = [];
      shown = '';
      return text;
    },
  };
}
