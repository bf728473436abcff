// What a user dropped or picked: files sorted into a model (a llama2.c checkpoint with its tokenizer, or a Hugging
// Face directory) and chains, or refused with a message naming the file and what the page reads.
import type { ChainsInput, ModelInput } from './protocol.js';

export interface Dropped {
  model?: ModelInput;
  chains?: ChainsInput;
}

const WHAT =
  'a llama2.c .bin with its tokenizer.bin (or tokenizer.json), a Hugging Face model directory (config.json, model.safetensors and its tokenizer files), or a chains .jsonl';

/** Files with their paths inside a dropped or picked directory ('' for loose files). */
export interface PathedFile {
  path: string;
  file: File;
}

/** Sorts files into a model and chains; throws a message for anything else. */
export function classify(files: readonly PathedFile[]): Dropped {
  if (files.length === 0) throw new Error(`nothing was dropped; drop ${WHAT}`);
  const out: Dropped = {};
  const jsonl = files.filter((f) => /\.jsonl$/i.test(f.file.name));
  if (jsonl.length > 1)
    throw new Error(`drop one chains file at a time (got ${jsonl.map((f) => f.file.name).join(', ')})`);
  if (jsonl.length === 1) out.chains = { kind: 'file', file: jsonl[0].file };
  const rest = files.filter((f) => !jsonl.includes(f));
  const config = rest.find((f) => f.file.name === 'config.json');
  if (config) {
    // a Hugging Face directory: names relative to the directory holding config.json
    const dir = config.path.slice(0, config.path.length - 'config.json'.length);
    const inside = rest.filter((f) => f.path.startsWith(dir) && !f.path.slice(dir.length).includes('/'));
    const label = dir.replace(/\/$/, '').split('/').pop() || 'dropped model';
    out.model = { kind: 'hf', files: inside.map((f) => [f.path.slice(dir.length), f.file]), label };
    return out;
  }
  const bins = rest.filter((f) => /\.bin$/i.test(f.file.name) || f.file.name === 'tokenizer.json');
  const other = rest.filter((f) => !bins.includes(f));
  if (other.length)
    throw new Error(`${other.map((f) => f.file.name).join(', ')}: not a file this page reads; drop ${WHAT}`);
  const isTokenizer = (f: PathedFile) => /^(tokenizer|tok\d*)\.(bin|json)$/i.test(f.file.name);
  const tokenizers = bins.filter(isTokenizer);
  const models = bins.filter((f) => !isTokenizer(f));
  if (models.length > 1)
    throw new Error(`drop one model at a time (got ${models.map((f) => f.file.name).join(', ')})`);
  if (models.length === 1) {
    if (tokenizers.length !== 1)
      throw new Error(
        `${models[0].file.name}: a llama2.c checkpoint needs its tokenizer: drop tokenizer.bin (or tokenizer.json) with it`,
      );
    out.model = { kind: 'llama2c', model: models[0].file, tokenizer: tokenizers[0].file };
  } else if (tokenizers.length) {
    throw new Error(
      `${tokenizers[0].file.name}: a tokenizer alone is not a model; drop the model .bin with it`,
    );
  }
  return out;
}

/** The files of a drop, directories walked (their entries' paths kept). */
export async function droppedFiles(data: DataTransfer): Promise<PathedFile[]> {
  const entries = [...data.items]
    .map((i) => i.webkitGetAsEntry())
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return [...data.files].map((file) => ({ path: file.name, file }));
  const out: PathedFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail));
      out.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

/** The files of a file input (a directory picker gives webkitRelativePath). */
export function pickedFiles(list: FileList): PathedFile[] {
  return [...list].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}
