import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  buildStepRoute,
  decodeRoute,
  planFromStepIds,
  Route,
  routeOf,
  type TokenStage,
  withRoute,
} from '../../../src/experts/index.js';
import { expertIndex, STEP_ID } from '../../../src/steps.js';

const STEPS = ['analysis', 'guidance', 'answer'] as const;
const Q = 'question';

describe('buildStepRoute', () => {
  const labels: TokenStage[][] = [
    [Q, Q, 'analysis', 'analysis', 'guidance', 'answer'],
    [Q, Q, Q, 'answer', 'answer', null],
  ];

  it('maps stages to expert indices, in the order of the configured experts', () => {
    const r = buildStepRoute(labels, [2, 6], { experts: STEPS, question: 'guidance' });
    expect(Array.from(r.stepIds!)).toEqual([1, 1, 0, 0, 1, 2, 1, 1, 1, 2, 2, -1]);
    const reordered = buildStepRoute(labels, [2, 6], {
      experts: ['answer', 'analysis', 'guidance'],
      question: 'shared',
    });
    expect(Array.from(reordered.stepIds!)).toEqual([-1, -1, 1, 1, 2, 0, -1, -1, -1, 0, 0, -1]);
    expect(buildStepRoute(labels.flat(), [2, 6], { experts: STEPS, question: 'guidance' }).stepIds).toEqual(
      r.stepIds,
    );
  });

  it('accepts the numeric step ids of the AlignCoT encoder', () => {
    const numeric = labels.flat().map((l) => (l === null ? STEP_ID.question : STEP_ID[l]));
    const r = buildStepRoute(numeric, [2, 6], { experts: STEPS, question: 'answer' });
    expect(Array.from(r.stepIds!)).toEqual([2, 2, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2]);
  });

  it('training draws one seeded step expert per sample for its question tokens', () => {
    const draw = (seed: number) =>
      Array.from(buildStepRoute(labels, [2, 6], { experts: STEPS, training: true, seed }).stepIds!);
    const a = draw(7);
    expect(draw(7)).toEqual(a); // deterministic
    expect(a[0]).toBe(a[1]); // one expert per sample
    expect(a[6]).toBe(a[7]);
    expect(a[7]).toBe(a[8]);
    for (const e of [a[0], a[6]]) expect([0, 1, 2]).toContain(e);
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) seen.add(`${draw(seed)[0]}`);
    expect(seen.size).toBe(3); // every step expert gets question tokens
    expect(a.slice(2, 6)).toEqual([0, 0, 1, 2]); // step tokens untouched
  });

  it('with docIds, packed chains draw separately and padding goes to the shared expert only', () => {
    const flat: TokenStage[] = [Q, 'answer', Q, 'answer', Q, 'answer', Q, Q];
    const docIds = [0, 0, 1, 1, 2, 2, -1, -1];
    const draws = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const ids = buildStepRoute(flat, [1, 8], { experts: STEPS, training: true, seed, docIds }).stepIds!;
      expect(Array.from(ids.slice(6))).toEqual([-1, -1]);
      draws.add(`${ids[0]},${ids[2]},${ids[4]}`);
    }
    expect(draws.size).toBeGreaterThan(3); // chains of a row draw independently
  });

  it('says what is wrong', () => {
    expect(() => buildStepRoute(labels, [2, 5], { experts: STEPS })).toThrow(
      /12 labels for batch shape \[2, 5\]/,
    );
    expect(() => buildStepRoute(labels, [0, 6], { experts: STEPS })).toThrow(/two positive integers/);
    expect(() => buildStepRoute([['check' as TokenStage]], [1, 1], { experts: STEPS })).toThrow(
      /label 'check' at \[0\]\[0\] has no expert; step experts are analysis, guidance, answer/,
    );
    expect(() => buildStepRoute([9], [1, 1], { experts: STEPS })).toThrow(/step id 9 at \[0\]\[0\]/);
    expect(() => buildStepRoute([Q], [1, 1], { experts: STEPS, question: 'critique' as never })).toThrow(
      /unknown expert 'critique'; expected one of analysis, guidance, answer, shared/,
    );
  });
});

describe('Route', () => {
  it('rejects step ids out of range, with the position', () => {
    expect(() => new Route(STEPS, Int32Array.from([0, 2, 3]))).toThrow(
      /step id out of range at token 2: 3; expected -1 \(shared only\) or 0..2/,
    );
    expect(() => new Route(STEPS, Int32Array.from([-2]))).toThrow(/at token 0: -2/);
    expect(() => new Route(STEPS, 5)).toThrow(/out of range/);
    expect(() => new Route(STEPS, Int32Array.from([0]), { training: true, merged: true })).toThrow(
      /merged weights are for inference/,
    );
  });

  it('builds its device tensors once per tidy and reuses them across layers', () => {
    const r = new Route(STEPS, Int32Array.from([0, 1, 2, -1]));
    let first: tf.Tensor | undefined;
    tf.tidy(() => {
      first = r.oneHot(4);
      expect(r.oneHot(4)).toBe(first); // second layer, same forward
      expect(Array.from(first.dataSync())).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    });
    expect(first!.isDisposed).toBe(true); // owned by the forward's tidy
    const next = tf.tidy(() => tf.clone(r.oneHot(4)));
    expect(next.shape).toEqual([4, 3]); // rebuilt
    next.dispose();
    expect(r.plan(true, 4)).toBe(r.plan(true, 4));
    r.dispose();
  });

  it('a uniform (decode) route serves any number of tokens; the context carries it', () => {
    const r = decodeRoute(STEPS, 'answer');
    expect(r.uniformStep()).toBe(2);
    expect(Array.from(r.stepIdsFor(3))).toEqual([2, 2, 2]);
    expect(r.merged).toBe(true);
    expect(decodeRoute(STEPS, 'shared').uniformStep()).toBe(-1);
    expect(routeOf(withRoute(r))).toBe(r);
    expect(routeOf(undefined)).toBeUndefined();
    expect(JSON.stringify(withRoute(r))).not.toBe(JSON.stringify(withRoute(decodeRoute(STEPS, 'analysis'))));
    expect(expertIndex(STEPS, 'guidance')).toBe(1);
  });
});

describe('segment plans', () => {
  it('group tokens by expert, mark contiguous runs, and put shared-only tokens last', () => {
    const p = planFromStepIds(Int32Array.from([0, 0, 2, 1, 1, -1, 2, 0]), 4, true);
    expect(p.segments.map((s) => [s.expert, Array.from(s.rows), s.first])).toEqual([
      [0, [0, 1, 7], -1],
      [1, [3, 4], 3],
      [2, [2, 6], -1],
      [-1, [5], 5],
    ]);
    expect(planFromStepIds(Int32Array.from([0, 0, -1]), 1, false).segments).toHaveLength(1);
    const inv = p.inverseTensor();
    expect(Array.from(inv.dataSync())).toEqual([0, 1, 5, 3, 4, 7, 6, 2]);
    p.dispose();
  });
});
