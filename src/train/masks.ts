// Attention masks for training batches (method.md §2 "Step skipping"): document isolation for packed rows,
// and step skipping, where later steps of a chain do not see some of its earlier reasoning steps.
// The causal mask is applied by the model; these masks are added to it (0 keeps a key, MASKED hides it).
//
// Step skipping, exactly. Documents (chains) are visited in row order, then position order. For each:
//   1. u = rng(); the document skips when u < stepSkipProb (so p = 0 never skips, p = 1 always does).
//   2. The candidates are the skippable stages (default analysis, guidance) present in the document and
//      followed by a later stage in it (always true here: the answer comes after them).
//   3. If it skips and there are n ≥ 1 candidates, k = 1 + ⌊rng() · (2ⁿ − 1)⌋ picks one non-empty subset,
//      uniformly: bit b of k set ⇔ candidate b (in chain order) is skipped. With analysis and guidance
//      present: {analysis}, {guidance}, {analysis, guidance}, 1/3 each; with one of them: that one.
//      No candidate ⇒ nothing skipped (and no second draw).
//   4. Query i does not see key j when both are in the document, j's stage is skipped, and i's step comes
//      after j's (stepIds[i] > stepIds[j]). The question, a step's own tokens (its start token included)
//      and every non-skipped step stay visible. E.g. {analysis, guidance}: the answer sees only the question
//      and itself, as in a direct Q → A chain.

import seedrandom from 'seedrandom';
import { MASKED } from '../model/attention.js';
import type { Stage } from '../steps.js';
import { STEP_ID, STEP_LABELS } from '../steps.js';
import { check } from '../util/errors.js';

/** The stages step skipping may hide by default: the intermediate reasoning steps. */
export const SKIPPABLE_STAGES: readonly Stage[] = Object.freeze(['analysis', 'guidance']);

/**
 * Token layout of a batch, row-major (B·T): the document index of each token in its row (−1: padding), and the
 * step ids when the documents are chains (without them there is nothing to skip).
 */
export interface MaskLayout {
  B: number;
  T: number;
  stepIds?: Int32Array;
  docIds: Int32Array;
}

export interface StepSkipOptions {
  /** Probability that a document skips steps. Default 0. */
  stepSkipProb?: number;
  /** Random source in [0, 1); default seedrandom(String(seed)). */
  rng?: () => number;
  /** Seed when no rng is given. Default 0. */
  seed?: string | number;
  /** Stages that may be hidden. Default SKIPPABLE_STAGES. */
  skippable?: readonly Stage[];
}

/** The stages one document skipped (empty when none). */
export interface SkipRecord {
  row: number;
  doc: number;
  skipped: Stage[];
}

/**
 * The additive attention mask (B, T, T), row-major, for a batch: a token sees only tokens of its own
 * document (padding sees padding), minus the steps hidden by step skipping (file header). Pass it to the
 * model as `tf.tensor3d(attnMask, [B, T, T])`. Also returns what each document skipped.
 */
export function buildAttnMask(
  layout: MaskLayout,
  options: StepSkipOptions = {},
): { attnMask: Float32Array; skips: SkipRecord[] } {
  const { B, T, stepIds, docIds } = layout;
  const p = options.stepSkipProb ?? 0;
  check(p >= 0 && p <= 1, 'stepSkipProb', p, 'a probability in [0, 1]');
  check(
    docIds.length === B * T && (!stepIds || stepIds.length === B * T),
    'layout',
    { B, T, docIds: docIds.length, stepIds: stepIds?.length },
    'docIds (and stepIds, when given) of length B·T',
  );
  check(!(p > 0 && !stepIds), 'stepSkipProb', p, '0 for examples without step ids (plain text)');
  const rng = options.rng ?? seedrandom(String(options.seed ?? 0));
  const skippable = options.skippable ?? SKIPPABLE_STAGES;
  const attnMask = new Float32Array(B * T * T);
  const skips: SkipRecord[] = [];
  for (let b = 0; b < B; b++) {
    const row = b * T;
    const hidden = new Map<number, Set<number>>(); // doc → skipped step ids
    if (stepIds)
      for (const doc of docsOf(docIds, row, T)) {
        const present = presentSteps(stepIds, docIds, row, T, doc);
        const skipped = drawSkip(candidates(present, skippable), p, rng);
        skips.push({ row: b, doc, skipped });
        hidden.set(doc, new Set(skipped.map((s) => STEP_ID[s])));
      }
    for (let i = 0; i < T; i++) {
      const di = docIds[row + i];
      const si = stepIds ? stepIds[row + i] : 0;
      const hide = hidden.get(di);
      const out = (b * T + i) * T;
      for (let j = 0; j < T; j++) {
        const dj = docIds[row + j];
        const sj = stepIds ? stepIds[row + j] : 0;
        if (di !== dj || (hide?.has(sj) && si > sj)) attnMask[out + j] = MASKED;
      }
    }
  }
  return { attnMask, skips };
}

/**
 * Draws the stages one document skips (steps 1 and 3 of the file header): [] with probability 1 − p,
 * otherwise a uniformly chosen non-empty subset of `candidates` (kept in the given order).
 */
export function drawSkip(candidates: readonly Stage[], p: number, rng: () => number): Stage[] {
  if (!(rng() < p) || candidates.length === 0) return [];
  const k = 1 + Math.floor(rng() * (2 ** candidates.length - 1));
  return candidates.filter((_, bit) => (k >> bit) & 1);
}

// ---------------------------------------------------------------------------------------------------
// helpers

/** Document indices of a row in order of first appearance (padding, −1, excluded). */
function docsOf(docIds: Int32Array, row: number, T: number): number[] {
  const docs: number[] = [];
  for (let i = 0; i < T; i++) {
    const d = docIds[row + i];
    if (d >= 0 && !docs.includes(d)) docs.push(d);
  }
  return docs;
}

function presentSteps(
  stepIds: Int32Array,
  docIds: Int32Array,
  row: number,
  T: number,
  doc: number,
): Set<number> {
  const present = new Set<number>();
  for (let i = 0; i < T; i++) if (docIds[row + i] === doc) present.add(stepIds[row + i]);
  return present;
}

/** Skippable stages present in the document and followed by a later step, in chain order. */
function candidates(present: Set<number>, skippable: readonly Stage[]): Stage[] {
  const lastStep = Math.max(...present);
  return STEP_LABELS.filter(
    (label): label is Stage =>
      label !== 'question' &&
      skippable.includes(label) &&
      present.has(STEP_ID[label]) &&
      STEP_ID[label] < lastStep,
  );
}
