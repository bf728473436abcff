// The one held-out split of the library: round(fraction·n) items (at least 1 when fraction > 0, and never all of
// them) chosen by a seeded shuffle, both parts in their original order. Chains of a run, documents of a
// pretraining corpus and the demo's chains are all split this way, so a seed always holds out the same items.
import seedrandom from 'seedrandom';
import { check } from '../util/errors.js';
import { shuffledIndices } from '../util/shuffle.js';

/** Indices of the training and held-out items of n (see the file header). */
export function heldOutSplit(
  n: number,
  fraction: number,
  seed: string,
): { train: number[]; heldOut: number[] } {
  check(Number.isInteger(n) && n >= 0, 'n', n, 'a count ≥ 0');
  check(
    typeof fraction === 'number' && fraction >= 0 && fraction < 1,
    'evalFraction',
    fraction,
    'a number in [0, 1)',
  );
  const held = fraction > 0 ? Math.min(n - 1, Math.max(1, Math.round(fraction * n))) : 0;
  const isHeld = new Set(shuffledIndices(n, seedrandom(seed)).slice(0, Math.max(0, held)));
  const all = Array.from({ length: n }, (_, i) => i);
  return { train: all.filter((i) => !isHeld.has(i)), heldOut: all.filter((i) => isHeld.has(i)) };
}

/** The items themselves, split by `heldOutSplit`. */
export function splitHeldOut<T>(
  items: readonly T[],
  fraction: number,
  seed: string,
): { train: T[]; heldOut: T[] } {
  const { train, heldOut } = heldOutSplit(items.length, fraction, seed);
  return { train: train.map((i) => items[i]), heldOut: heldOut.map((i) => items[i]) };
}
