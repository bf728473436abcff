// Synthetic AlignCoT-shaped examples for benchmarks: every row full and routed to all three step experts.
import seedrandom from 'seedrandom';
import type { EncodedChain } from '../aligncot/encode.js';
import { STEP_ID } from '../steps.js';

/**
 * Random chains of exactly T ids: question, analysis, guidance and answer a quarter each, loss on all but the
 * question (as encodeChain lays them out), so every row is full and routed to all three step experts.
 */
export function syntheticChains(n: number, T: number, vocab: number, seed: string): EncodedChain[] {
  const rng = seedrandom(seed);
  const stages = ['question', 'analysis', 'guidance', 'answer'] as const;
  const q = Math.floor(T / 4);
  return Array.from({ length: n }, (_, c) => {
    const tokens = Int32Array.from({ length: T + 1 }, () => Math.floor(rng() * vocab));
    const stepIds = Int32Array.from({ length: T }, (_, i) => STEP_ID[stages[Math.min(3, Math.floor(i / q))]]);
    const lossMask = Float32Array.from(stepIds, (_, i) =>
      (i + 1 < T ? stepIds[i + 1] : stepIds[i]) > 0 ? 1 : 0,
    );
    const stepSpans = stages.map((stage, k) => ({ stage, start: k * q, end: k === 3 ? T : (k + 1) * q }));
    return {
      id: `syn-${c}`,
      ids: tokens.slice(0, T),
      targets: tokens.slice(1),
      lossMask,
      stepIds,
      stepSpans,
    };
  });
}
