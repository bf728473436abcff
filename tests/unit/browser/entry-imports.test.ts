// The browser entry (src/browser.ts) and every module it reaches, statically or through import(), import nothing
// of Node: no `node:` module or bare built-in, no *-node.ts half, no Node-only package. A bundler would otherwise
// fail on them (or ship a stub that throws when a page calls it).
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../../src');
const NODE_ONLY_PACKAGES = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'yargs', 'cli-progress'];
const BUILTINS = new Set(builtinModules);

/**
 * Every module specifier of a source file that stays in the JavaScript: import/export … from (not `import type`,
 * which TypeScript erases), side-effect imports, import('…').
 */
function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\s+(type\s+)?[^;'"]*?\bfrom\s+'([^']+)'/g)) {
    if (!m[1]) found.push(m[2] as string);
  }
  for (const re of [/^\s*import\s+'([^']+)'/gm, /\bimport\(\s*'([^']+)'\s*\)/g]) {
    for (const m of code.matchAll(re)) found.push(m[1] as string);
  }
  return found;
}

/** What a specifier names, if it names something Node-only; else null. */
function nodeOnly(spec: string): string | null {
  if (spec.startsWith('node:')) return 'a node: module';
  if (BUILTINS.has(spec.split('/')[0] as string)) return 'a Node built-in';
  if (NODE_ONLY_PACKAGES.some((p) => spec === p || spec.startsWith(`${p}/`))) return 'a Node-only package';
  return null;
}

/** Walks the import graph of `entry`; returns every Node-only import as "file → specifier (why)". */
function nodeImports(entry: string): { reached: number; bad: string[] } {
  const seen = new Set<string>();
  const bad: string[] = [];
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const at = relative(SRC, file);
    if (/-node\.ts$/.test(file)) bad.push(`${at} (a Node half)`);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const why = nodeOnly(spec);
      if (why) bad.push(`${at} → ${spec} (${why})`);
      else if (spec.startsWith('.')) todo.push(join(dirname(file), spec.replace(/\.js$/, '.ts')));
    }
  }
  return { reached: seen.size, bad };
}

describe('the browser entry', () => {
  it('reaches no Node module, built-in, package or *-node.ts half', () => {
    const { reached, bad } = nodeImports(join(SRC, 'browser.ts'));
    expect(reached).toBeGreaterThan(100); // the walk follows imports (a broken walk would pass vacuously)
    expect(bad).toEqual([]);
  });

  it('the check itself finds a node: import (the Node entry has many)', () => {
    const { bad } = nodeImports(join(SRC, 'index.ts'));
    expect(bad.some((b) => b.includes('node:fs'))).toBe(true);
    expect(bad.some((b) => b.includes('-node.ts'))).toBe(true);
  });
});
