// Corpus files on disk, read into documents (the formats are text-data.ts).
import { FormatError } from '../util/errors.js';
import { readTextFile } from '../util/text-file.js';
import { parseJsonlTexts, type ReadCorpusOptions, splitParagraphs } from './text-data.js';

/**
 * Reads a corpus file into documents. `.gz` is decompressed first. JSONL (`.jsonl`, `.json`, or a first
 * non-blank character `{`): one document per non-blank line, the string in `textField`. Anything else is plain
 * UTF-8 text, one document per paragraph (paragraphs are separated by blank lines; single newlines stay).
 * Errors name the file, the line and the field.
 */
export async function readCorpus(path: string, options: ReadCorpusOptions = {}): Promise<string[]> {
  const text = await readTextFile(path);
  const name = path.replace(/\.gz$/i, '');
  const jsonl = /\.jsonl?$/.test(name) || text.trimStart().startsWith('{');
  const docs = jsonl
    ? parseJsonlTexts(text, path, options.textField ?? 'text', options.maxLineBytes)
    : splitParagraphs(text);
  if (docs.length === 0) throw new FormatError(path, '', 'no text in the corpus (the file is empty)');
  return docs;
}
