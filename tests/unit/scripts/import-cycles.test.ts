// scripts/import-cycles.mjs finds import cycles (type-only ones too, unless --runtime), and src/ has none.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/index.js';

const exec = promisify(execFile);
const SCRIPT = join(ROOT, 'scripts/import-cycles.mjs');

/** The script's JSON report on `dir` (it exits 1 when there is a cycle). */
async function cycles(dir: string, ...flags: string[]): Promise<{ files: string[]; cycle: string[] }[]> {
  const run = exec(process.execPath, [SCRIPT, '--json', ...flags, dir], { cwd: dir });
  const { stdout } = await run.catch((e: { stdout: string }) => e);
  return JSON.parse(stdout).components;
}

describe('import-cycles', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mote-cycles-'));
    await mkdir(join(dir, 'sub'));
    // a.ts → sub/b.ts → a.ts at run time; c.ts ⇄ d.ts through types only; e.ts imports a.ts (no cycle)
    await writeFile(join(dir, 'a.ts'), "import { b } from './sub/b.js';\nexport const a = () => b;\n");
    await writeFile(
      join(dir, 'sub/b.ts'),
      "export const b = 1;\nexport async function f() {\n  return import('../a.js');\n}\n",
    );
    await writeFile(join(dir, 'c.ts'), "import type { D } from './d.js';\nexport type C = D[];\n");
    await writeFile(join(dir, 'd.ts'), "import {\n  type C,\n} from './c.js';\nexport type D = { c?: C };\n");
    await writeFile(join(dir, 'e.ts'), "export { a } from './a.js';\n");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds runtime and type-only cycles, and only runtime ones with --runtime', async () => {
    expect((await cycles(dir)).map((c) => c.files)).toEqual([
      ['a.ts', 'sub/b.ts'],
      ['c.ts', 'd.ts'],
    ]);
    expect((await cycles(dir, '--runtime')).map((c) => c.cycle)).toEqual([['a.ts', 'sub/b.ts', 'a.ts']]);
  });

  it('src/ has no import cycle, type-only imports included', async () => {
    expect(await cycles(join(ROOT, 'src'))).toEqual([]);
  });
});
