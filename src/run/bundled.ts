// The files shipped in the npm package: the pretrained stories260K with its llama2.c tokenizer, the sample AlignCoT
// chains and the held-out eval prompts. Resolved from the package root, so they are found from any working
// directory, whether the library runs from its sources or from an installed package (Node only).
import { fileURLToPath } from 'node:url';

/** The package root (the directory of package.json), with a trailing separator. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The absolute path of a file shipped in the package, e.g. `bundledFile('examples/data/chains.jsonl')`. */
export function bundledFile(relative: string): string {
  return `${PACKAGE_ROOT}${relative}`;
}

/** The bundled files by name. */
export const BUNDLED = Object.freeze({
  /** Karpathy's stories260K, llama2.c format (260K parameters, 512-token vocabulary, context 512). */
  model: bundledFile('models/stories260K/stories260K.bin'),
  /** Its llama2.c tokenizer. */
  tokenizer: bundledFile('models/stories260K/tok512.bin'),
  /** 332 illustrative AlignCoT chains (JSONL). */
  chains: bundledFile('examples/data/chains.jsonl'),
  /** Held-out eval prompts, harmful and benign (JSONL). */
  evalPrompts: bundledFile('examples/data/eval-prompts.jsonl'),
});

/** The bundled base model and its tokenizer, as `loadModel` / `loadBase` take them. */
export function bundledModel(): { model: string; tokenizer: string } {
  return { model: BUNDLED.model, tokenizer: BUNDLED.tokenizer };
}
