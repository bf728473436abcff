#!/usr/bin/env node
// Import cycles among the TypeScript files of a folder (default src/): the strongly connected components of the
// graph of relative imports, with one cycle through each. `--runtime` leaves out `import type` / `export type`
// (erased by the compiler, so they cannot change evaluation order); without it every import counts.
//
//   node scripts/import-cycles.mjs [--runtime] [--json] [dir]
//
// Exit code 1 when there is a cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const args = process.argv.slice(2);
const runtimeOnly = args.includes('--runtime');
const asJson = args.includes('--json');
const root = resolve(args.find((a) => !a.startsWith('--')) ?? 'src');

/** Every .ts file under `dir`. */
function tsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

// `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`; a statement may span lines.
const STATIC = /^\s*(import|export)\s+(type\s+)?([^;'"]*?\bfrom\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The files `file` imports (relative specifiers only), as absolute .ts paths. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const specs = [];
  for (const m of text.matchAll(STATIC)) {
    const typeOnly =
      Boolean(m[2]) || /^\{\s*(type\s+[\w$]+\s*(as\s+[\w$]+\s*)?,?\s*)+\}\s*from\s+$/.test(m[3] ?? '');
    if (!(runtimeOnly && typeOnly)) specs.push(m[4]);
  }
  for (const m of text.matchAll(DYNAMIC)) specs.push(m[1]);
  return specs
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')))
    .filter((p, i, all) => all.indexOf(p) === i);
}

const files = tsFiles(root);
const known = new Set(files);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => known.has(t))]));

/** Tarjan's strongly connected components. */
function components() {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v).includes(v)) out.push(scc.sort());
    }
  };
  for (const f of files) if (!idx.has(f)) visit(f);
  return out;
}

/** One shortest cycle through the first file of a component (breadth-first back to it). */
function cycleThrough(scc) {
  const inside = new Set(scc);
  const [start] = scc;
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v)) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [];
        for (let u = v; u !== null; u = prev.get(u)) path.unshift(u);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [];
}

const rel = (f) => relative(process.cwd(), f);
const found = components().map((scc) => ({ files: scc.map(rel), cycle: cycleThrough(scc).map(rel) }));
if (asJson) process.stdout.write(`${JSON.stringify({ root: rel(root), runtimeOnly, components: found })}\n`);
else {
  const what = runtimeOnly ? 'runtime imports' : 'imports (type-only included)';
  process.stdout.write(`${found.length} import cycle component(s) in ${rel(root)} (${what})\n`);
  for (const c of found) process.stdout.write(`- ${c.files.length} files: ${c.cycle.join(' → ')}\n`);
}
process.exitCode = found.length > 0 ? 1 : 0;
