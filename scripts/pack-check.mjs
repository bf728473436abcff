// Packs the package, installs the tarball into an empty temporary project, and uses it there as a user
// would (ESM import, types present, the `mote` bin), so what users install is what we test.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'mote-pack-'));
try {
  run('npm', ['pack', '--pack-destination', dir, '--silent'], process.cwd());
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('npm pack produced no tarball');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'pack-check', private: true, type: 'module' }),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--silent', join(dir, tarball)], dir);
  writeFileSync(
    join(dir, 'check.mjs'),
    `import * as mote from 'mote-tfjs';
import { existsSync } from 'node:fs';
for (const name of ['selectBackend', 'loadModel', 'generate', 'Transformer', 'bundledModel']) {
  if (typeof mote[name] !== 'function') throw new Error('missing export ' + name);
}
if (!existsSync(new URL('./node_modules/mote-tfjs/dist/index.d.ts', import.meta.url))) throw new Error('no type declarations');
// the browser entry (what a bundler resolves under the 'browser' condition) is in the tarball with its types
const web = await import('mote-tfjs/browser');
for (const name of ['selectBackend', 'loadModel', 'memoryFiles', 'peftAdapterFiles', 'train'])
  if (typeof web[name] !== 'function') throw new Error('missing browser export ' + name);
if (!existsSync(new URL('./node_modules/mote-tfjs/dist/browser.d.ts', import.meta.url))) throw new Error('no browser type declarations');
const choice = await mote.selectBackend({ backend: 'wasm' });
// the bundled files, found by the package itself (what the README example and examples/quickstart.ts use)
const bundled = mote.bundledModel();
for (const path of [bundled.model, bundled.tokenizer, mote.BUNDLED.chains, mote.BUNDLED.evalPrompts])
  if (!existsSync(path) || !path.includes('node_modules/mote-tfjs/')) throw new Error('bundled file not in the package: ' + path);
const { model, tokenizer } = await mote.loadModel(bundled.model, { tokenizer: bundled.tokenizer });
const r = await mote.generate(model, tokenizer, '', { temperature: 0, maxTokens: 8 });
if (!r.text.startsWith('Once upon a time')) throw new Error('unexpected text: ' + r.text);
console.log('pack-check: imported mote-tfjs from the tarball on ' + choice.name + ': ' + JSON.stringify(r.text));
`,
  );
  process.stdout.write(run('node', ['check.mjs'], dir));
  const help = run(join(dir, 'node_modules/.bin/mote'), ['--help'], dir);
  if (!help.includes('generate')) throw new Error('mote --help does not list generate');
  console.log('pack-check: the mote bin runs');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
