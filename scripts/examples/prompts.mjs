// Helper for examples/data: extracts real prompts from data/ with their row indices, fills the question
// text of hand-written chains from their ids, and checks the chains / eval split.
//
//   node scripts/examples/prompts.mjs list <hh-rlhf|advbench|alpaca> [from] [to]   print "id<TAB>prompt"
//   node scripts/examples/prompts.mjs fill <in.jsonl> <out.jsonl>   add question + meta.source from the id
//   node scripts/examples/prompts.mjs eval <ids.json> <out.jsonl>   {"harmful": [ids], "benign": [ids]} -> eval lines
//   node scripts/examples/prompts.mjs check [chains.jsonl] [eval-prompts.jsonl]   validate, count, split check
//
// The analysis / guidance / answer texts are written by hand; this script never generates them.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dataDir = join(root, 'data');

/** First human turn of the `chosen` dialogue: text between "\n\nHuman: " and the next "\n\nAssistant:". */
function hhFirstTurn(chosen) {
  const start = chosen.indexOf('\n\nHuman: ');
  if (start < 0) return '';
  const from = start + '\n\nHuman: '.length;
  const end = chosen.indexOf('\n\nAssistant:', from);
  return (end < 0 ? chosen.slice(from) : chosen.slice(from, end)).trim();
}

/** Minimal RFC 4180 CSV parser (quoted fields, doubled quotes, newlines inside quotes). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** All prompts of one source, indexed by their 0-based row index in the source file. */
export function loadPrompts(source) {
  if (source === 'hh-rlhf') {
    const lines = gunzipSync(readFileSync(join(dataDir, 'hh_rlhf_harmless_base_test.jsonl.gz')))
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    return lines.map((l) => hhFirstTurn(JSON.parse(l).chosen));
  }
  if (source === 'advbench') {
    const rows = parseCsv(readFileSync(join(dataDir, 'advbench_harmful_behaviors.csv'), 'utf8'));
    const header = rows.shift();
    const col = header.indexOf('goal');
    // Row index = 0-based data row (header excluded).
    return rows.filter((r) => r.length > 1).map((r) => r[col].trim());
  }
  if (source === 'alpaca') {
    const lines = readFileSync(join(dataDir, 'alpaca_seed_tasks.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    return lines.map((l) => {
      const t = JSON.parse(l);
      const input = t.instances?.[0]?.input?.trim() ?? '';
      return input ? `${t.instruction.trim()}\n\n${input}` : t.instruction.trim();
    });
  }
  throw new Error(`unknown source ${source}`);
}

/** Split "<source>-<index>" into its parts. */
export function parseId(id) {
  const m = /^(hh-rlhf|advbench|alpaca)-(\d+)$/.exec(id);
  if (!m) throw new Error(`bad id ${id}`);
  return { source: m[1], index: Number(m[2]) };
}

function readJsonl(path) {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l);
      } catch (e) {
        throw new Error(`${path}:${i + 1}: ${e.message}`);
      }
    });
}

const cache = new Map();
function promptOf(id) {
  const { source, index } = parseId(id);
  if (!cache.has(source)) cache.set(source, loadPrompts(source));
  const q = cache.get(source)[index];
  if (!q) throw new Error(`no prompt for ${id}`);
  return { source, question: q };
}

function list(source, from = 0, to = Number.POSITIVE_INFINITY) {
  const prompts = loadPrompts(source);
  for (let i = from; i < Math.min(to, prompts.length); i++) {
    console.log(`${source}-${i}\t${prompts[i].replace(/\s+/g, ' ')}`);
  }
}

/** Hand-written lines {id, harmful, analysis?, guidance?, answer} -> full chains with the exact question. */
function fill(inPath, outPath) {
  const out = readJsonl(inPath).map((c) => {
    const { source, question } = promptOf(c.id);
    const chain = { id: c.id, question };
    if (c.analysis) chain.analysis = c.analysis;
    if (c.guidance) chain.guidance = c.guidance;
    chain.answer = c.answer;
    chain.meta = { source, harmful: c.harmful };
    return chain;
  });
  writeFileSync(outPath, `${out.map((c) => JSON.stringify(c)).join('\n')}\n`);
  console.log(`wrote ${out.length} chains to ${outPath}`);
}

/** Held-out prompts: {"harmful": [ids], "benign": [ids]} -> {id, question, harmful, source} lines. */
function evalSplit(idsPath, outPath) {
  const spec = JSON.parse(readFileSync(idsPath, 'utf8'));
  const out = [];
  for (const [key, harmful] of [
    ['harmful', true],
    ['benign', false],
  ]) {
    for (const id of spec[key]) {
      const { source, question } = promptOf(id);
      out.push({ id, question, harmful, source });
    }
  }
  writeFileSync(outPath, `${out.map((e) => JSON.stringify(e)).join('\n')}\n`);
  console.log(`wrote ${out.length} eval prompts to ${outPath}`);
}

function check(chainsPath, evalPath) {
  const chains = readJsonl(chainsPath);
  const evals = readJsonl(evalPath);
  const problems = [];
  const str = (v) => typeof v === 'string' && v.trim() !== '';
  const ids = new Set();
  for (const c of chains) {
    if (ids.has(c.id)) problems.push(`duplicate chain id ${c.id}`);
    ids.add(c.id);
    for (const k of ['id', 'question', 'answer']) if (!str(c[k])) problems.push(`${c.id}: empty ${k}`);
    for (const k of ['analysis', 'guidance']) if (k in c && !str(c[k])) problems.push(`${c.id}: empty ${k}`);
    if (c.guidance && !c.analysis) problems.push(`${c.id}: guidance without analysis`);
    if (promptOf(c.id).question !== c.question) problems.push(`${c.id}: question differs from source row`);
    if (c.meta?.source !== parseId(c.id).source) problems.push(`${c.id}: meta.source mismatch`);
    if (typeof c.meta?.harmful !== 'boolean') problems.push(`${c.id}: meta.harmful not boolean`);
  }
  const evalIds = new Set();
  for (const e of evals) {
    if (evalIds.has(e.id)) problems.push(`duplicate eval id ${e.id}`);
    evalIds.add(e.id);
    if (!str(e.question) || typeof e.harmful !== 'boolean') problems.push(`${e.id}: bad eval line`);
    if (promptOf(e.id).question !== e.question)
      problems.push(`${e.id}: eval question differs from source row`);
    if (e.source !== parseId(e.id).source) problems.push(`${e.id}: eval source mismatch`);
  }
  // Held-out split: no overlap by id nor by exact (whitespace-normalised) question text.
  const norm = (s) => s.replace(/\s+/g, ' ').trim().toLowerCase();
  const chainTexts = new Set(chains.map((c) => norm(c.question)));
  let idOverlap = 0;
  let textOverlap = 0;
  for (const e of evals) {
    if (ids.has(e.id)) idOverlap++;
    if (chainTexts.has(norm(e.question))) textOverlap++;
  }
  const count = (f) => chains.filter(f).length;
  const counts = {
    chains: chains.length,
    bySource: Object.fromEntries(
      ['hh-rlhf', 'advbench', 'alpaca'].map((s) => [s, count((c) => c.meta.source === s)]),
    ),
    withAnalysis: count((c) => c.analysis),
    withGuidance: count((c) => c.guidance),
    analysisOnly: count((c) => c.analysis && !c.guidance),
    answerOnly: count((c) => !c.analysis && !c.guidance),
    harmful: count((c) => c.meta.harmful),
    benign: count((c) => !c.meta.harmful),
    maxAnswerChars: Math.max(...chains.map((c) => c.answer.length)),
    nonAscii: count((c) =>
      [...`${c.analysis ?? ''}${c.guidance ?? ''}${c.answer}`].some((ch) => ch.charCodeAt(0) > 127),
    ),
    eval: {
      total: evals.length,
      harmful: evals.filter((e) => e.harmful).length,
      benign: evals.filter((e) => !e.harmful).length,
      bySourceHarm: Object.fromEntries(
        ['hh-rlhf', 'advbench', 'alpaca'].flatMap((s) =>
          [true, false].map((h) => [
            `${s}:${h ? 'harmful' : 'benign'}`,
            evals.filter((e) => e.source === s && e.harmful === h).length,
          ]),
        ),
      ),
      idOverlapWithChains: idOverlap,
      textOverlapWithChains: textOverlap,
    },
  };
  console.log(JSON.stringify(counts, null, 2));
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  if (idOverlap || textOverlap) process.exit(1);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'list') list(args[0], Number(args[1] ?? 0), args[2] ? Number(args[2]) : undefined);
else if (cmd === 'fill') fill(args[0], args[1]);
else if (cmd === 'eval') evalSplit(args[0], args[1]);
else if (cmd === 'check')
  check(
    args[0] ?? join(root, 'examples/data/chains.jsonl'),
    args[1] ?? join(root, 'examples/data/eval-prompts.jsonl'),
  );
else if (cmd) {
  console.error('usage: prompts.mjs list|fill|eval|check ...');
  process.exit(2);
}
