// Decode speed, paired in one run (paired.ts: the variants interleaved round by round; figures as range, median and
// quietest round). Greedy KV-cached decoding from BOS on the host decoder and the tfjs (tensor) decoder, for the
// base model and with MoTE rank 16 attached (per-step merged weights on both decoders, unmerged per-token mixing on
// the tensor one), on stories260K (real weights) and the d=256 benchmark preset (random weights). With `runC` (the
// path of llama2.c's `run` built from run.c, e.g. `gcc -O3 -o run run.c -lm`), stories260K is also decoded by run.c
// in the same rounds: run.c stops at BOS and times every forward after the first, so the host decoder's paired
// variant does the same (`host-as-run.c`), and run.c's own "achieved tok/s" is its figure.
import * as tf from '@tensorflow/tfjs';
import { attachExperts } from '../experts/attach.js';
import { decodeRoute, withRoute } from '../experts/routing.js';
import { HostDecoder, TensorDecoder } from '../generate/decoder.js';
import { argmax } from '../generate/sampler.js';
import type { Decoder } from '../generate/types.js';
import { loadLlama2c } from '../io/llama2c-node.js';
import { resolveModelConfig } from '../model/config.js';
import type { LinearContext } from '../model/linear.js';
import { Transformer } from '../model/transformer.js';
import { pairedRounds, rateSpread, ratioSpread, type Variant } from './paired.js';

const STEPS = ['analysis', 'guidance', 'answer'] as const;
const BOS = 1;
/** Rounds of the host-only pairs per round of the set with the tfjs decoders. */
const HOST_ROUNDS = 4;

/**
 * Greedy-decodes from BOS for `n` forwards (or until BOS with `stopAtBos`, as run.c) and returns tokens/s over every
 * forward after the first (run.c's timing).
 */
export async function greedyRate(make: () => Decoder, n: number, stopAtBos = false): Promise<number> {
  const d = make();
  try {
    let logits = (await d.next([[BOS]]))[0];
    const t0 = performance.now();
    let forwards = 0;
    for (let i = 1; i < n; i++) {
      const id = argmax(logits);
      if (stopAtBos && id === BOS) break;
      logits = (await d.next([[id]]))[0];
      forwards++;
    }
    return forwards / ((performance.now() - t0) / 1000);
  } finally {
    d.dispose();
  }
}

/** llama2.c's run.c greedy from BOS for `steps` positions: its reported "achieved tok/s". */
export async function runCRate(
  binary: string,
  model: string,
  tokenizer: string,
  steps: number,
): Promise<number> {
  const { execFile } = await import('node:child_process');
  const stderr = await new Promise<string>((resolve, reject) =>
    execFile(
      binary,
      [model, '-z', tokenizer, '-t', '0', '-n', String(steps), '-i', ''],
      (err, _out, errText) => (err ? reject(new Error(`${binary}: ${err.message}`)) : resolve(errText)),
    ),
  );
  const m = /achieved tok\/s: ([\d.]+)/.exec(stderr);
  if (!m) throw new Error(`${binary}: no "achieved tok/s" in its output: ${stderr.slice(-200)}`);
  return Number(m[1]);
}

/** Options of benchDecode. */
export interface DecodeBenchOptions {
  /** Forwards per decode (default 256 for stories260K, 64 for bench-256). */
  tokens?: number;
  /** Timed rounds of the set with the tfjs decoders (default 5); the host-only pairs get 4× as many. */
  rounds?: number;
  /** llama2.c's `run` binary, to pair stories260K against (absent: not measured). */
  runC?: string;
  /** stories260K's tokenizer, for run.c. */
  tokenizerPath?: string;
}

/** Records {bench:'decode', …}. */
export async function benchDecode(
  modelPath = 'models/stories260K/stories260K.bin',
  opts: DecodeBenchOptions = {},
): Promise<object[]> {
  const backend = tf.getBackend();
  const { rounds = 5, runC, tokenizerPath = 'models/stories260K/tok512.bin' } = opts;
  const out: object[] = [];
  const cases: [string, () => Promise<Transformer>, number][] = [
    ['stories260K', () => loadLlama2c(modelPath), opts.tokens ?? 256],
    [
      'bench-256',
      async () => Transformer.init(resolveModelConfig({}, 'bench-256'), 0, { trainable: false }),
      opts.tokens ?? 64,
    ],
  ];
  for (const [name, load, n] of cases) {
    const base = await load();
    const mote = await load();
    attachExperts(mote, { kind: 'mote', rank: 16, initLoraWeights: false, seed: 1 });
    const merged: LinearContext = withRoute(decodeRoute([...STEPS], 'answer'));
    const unmerged: LinearContext = withRoute(decodeRoute([...STEPS], 'answer', { merged: false }));
    const host =
      (model: Transformer, ctx?: LinearContext, stopAtBos = false) =>
      () =>
        greedyRate(() => new HostDecoder(model, ctx), n, stopAtBos);
    const tensor = (model: Transformer, ctx?: LinearContext) => () =>
      greedyRate(() => new TensorDecoder(model, 1, ctx), n);
    // what is compared is paired: a host decode is short (tens of ms at stories260K), so its pairs get more rounds
    const sets: { rounds: number; variants: Variant[] }[] = [
      {
        rounds,
        variants: [
          { name: 'host', run: host(base) },
          { name: 'tensor', run: tensor(base) },
          { name: 'tensor-mote-merged', run: tensor(mote, merged) },
          { name: 'tensor-mote-unmerged', run: tensor(mote, unmerged) },
        ],
      },
      {
        rounds: rounds * HOST_ROUNDS,
        variants: [
          { name: 'host', run: host(base) },
          { name: 'host-mote-merged', run: host(mote, merged) },
        ],
      },
    ];
    const withRunC = runC !== undefined && name === 'stories260K';
    if (withRunC)
      sets.push({
        rounds: rounds * HOST_ROUNDS,
        variants: [
          { name: 'host-as-run.c', run: host(base, undefined, true) },
          { name: 'run.c', run: () => runCRate(runC, modelPath, tokenizerPath, n) },
        ],
      });
    const measured = [];
    for (const set of sets) measured.push(await pairedRounds(set.variants, set.rounds));
    const [p, pHost, pRunC] = measured;
    for (const [i, set] of sets.entries())
      for (const v of set.variants)
        if (i === 0 || v.name !== 'host')
          out.push({
            bench: 'decode',
            backend,
            model: name,
            variant: v.name,
            tokens: n,
            rounds: set.rounds,
            tokensPerSec: rateSpread(measured[i], v.name),
          });
    out.push({
      bench: 'decode',
      backend,
      model: name,
      rounds: sets.map((s) => s.rounds),
      ratios: {
        hostOverTensor: ratioSpread(p, 'host', 'tensor', 2),
        // a step with merged weights costs what a base step costs: base rate / merged rate (target ≤ 1.05)
        moteMergedCostVsBase_host: ratioSpread(pHost, 'host', 'host-mote-merged'),
        moteMergedCostVsBase_tensor: ratioSpread(p, 'tensor', 'tensor-mote-merged'),
        moteUnmergedCostVsBase_tensor: ratioSpread(p, 'tensor', 'tensor-mote-unmerged'),
        ...(withRunC ? { hostOverRunC: ratioSpread(pRunC, 'host-as-run.c', 'run.c') } : {}),
      },
      ...(name === 'stories260K' && !withRunC ? { runC: 'not measured (mote bench --run-c PATH)' } : {}),
      expertSwitchMs: switchMs(mote),
    });
    base.dispose();
    mote.dispose();
  }
  return out;
}

/** Milliseconds for `setContext` to a step never used before (weights laid out) and to one already laid out. */
function switchMs(model: Transformer): { firstTime: number; cached: number } {
  const ctx = (s: (typeof STEPS)[number]) => withRoute(decodeRoute([...STEPS], s));
  const d = new HostDecoder(model, ctx('analysis'), 'analysis');
  let t = performance.now();
  d.setContext(ctx('guidance'), 'guidance');
  const first = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < 100; i++)
    d.setContext(ctx(i % 2 ? 'guidance' : 'analysis'), i % 2 ? 'guidance' : 'analysis');
  const cached = (performance.now() - t) / 100;
  d.dispose();
  return { firstTime: +first.toFixed(2), cached: +cached.toFixed(3) };
}
