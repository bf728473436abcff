// Files bundled with the package (models/, examples/), resolved from the package root so the CLI works from
// any directory, whether run from src/ (tsx) or dist/ (installed).
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const bundled = (relative: string): string => `${PACKAGE_ROOT}${relative}`;
export const STORIES260K = bundled('models/stories260K/stories260K.bin');
export const TOK512 = bundled('models/stories260K/tok512.bin');
