import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  balanceLoss,
  learnedRoute,
  switchBalanceLoss,
  TopKRouter,
  topKMask,
} from '../../../src/experts/index.js';
import { onBackend, seededNormal } from '../../helpers/index.js';

describe.each(['wasm', 'cpu'])('TopKRouter on %s', (backend) => {
  it('keeps each token’s k most probable experts, renormalised to sum to 1', async () => {
    await onBackend(backend, () => {
      const router = new TopKRouter(8, 4, 2, 'gate');
      const x = seededNormal([6, 8], 'x') as tf.Tensor2D;
      const route = learnedRoute();
      const [weights, probs] = tf.tidy(() => {
        const r = router.route(x, route);
        if (r.kind !== 'topk') throw new Error('expected top-k routing');
        return [r.weights, tf.softmax(tf.matMul(x, router.weight as tf.Tensor2D))];
      });
      const w = weights.arraySync() as number[][];
      const p = probs.arraySync() as number[][];
      w.forEach((row, t) => {
        expect(row.filter((v) => v > 0)).toHaveLength(2);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
        const top = [...p[t].keys()].sort((a, b) => p[t][b] - p[t][a]).slice(0, 2);
        for (const e of top) expect(row[e]).toBeCloseTo(p[t][e] / (p[t][top[0]] + p[t][top[1]]), 6);
      });
      expect(route.auxLosses).toHaveLength(0); // the route's losses belonged to the tidy above
      tf.dispose([x, weights, probs]);
      router.dispose();
      route.dispose();
    });
  });

  it('gives the gate a gradient through the kept softmax values, with no gradient-less op on the tape', async () => {
    await onBackend(backend, () => {
      const router = new TopKRouter(8, 4, 2, 'gate');
      const x = seededNormal([6, 8], 'x') as tf.Tensor2D;
      const target = seededNormal([6, 4], 'target');
      const { value, grads } = tf.variableGrads(() => {
        const r = router.route(x, undefined);
        if (r.kind !== 'topk') throw new Error('expected top-k routing');
        return tf.sum(tf.mul(r.weights, target)) as tf.Scalar;
      }, [router.weight]);
      const g = grads[router.weight.name];
      expect(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0])).toBeGreaterThan(1e-4);
      tf.dispose([x, target, value, g]);
      router.dispose();
    });
  });
});

describe('Switch load-balance loss', () => {
  it('is 1 for a perfectly balanced gate and larger when one expert takes everything', () => {
    const uniform = tf.fill([4, 4], 0.25) as tf.Tensor2D;
    const mask = tf.tensor2d([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], [4, 4]);
    expect(switchBalanceLoss(uniform, mask, 1).dataSync()[0]).toBeCloseTo(1, 6);
    const skewed = tf.tensor2d([0.97, 0.01, 0.01, 0.01], [1, 4]).tile([4, 1]) as tf.Tensor2D;
    const all0 = tf.tensor2d([1, 0, 0, 0], [1, 4]).tile([4, 1]) as tf.Tensor2D;
    expect(switchBalanceLoss(skewed, all0, 1).dataSync()[0]).toBeCloseTo(4 * 0.97, 5);
    tf.dispose([uniform, mask, skewed, all0]);
  });

  it('is collected per layer on the route, averaged and cleared by balanceLoss, and trains the gate', () => {
    const routers = [new TopKRouter(8, 3, 2, 'a'), new TopKRouter(8, 3, 2, 'b')];
    const x = seededNormal([10, 8], 'x') as tf.Tensor2D;
    const route = learnedRoute({ training: true });
    const { value, grads } = tf.variableGrads(
      () => {
        for (const r of routers) r.route(x, route);
        expect(route.auxLosses).toHaveLength(2);
        const l = balanceLoss(route);
        expect(route.auxLosses).toHaveLength(0);
        return l;
      },
      routers.map((r) => r.weight),
    );
    expect(value.dataSync()[0]).toBeGreaterThanOrEqual(0.99);
    for (const g of Object.values(grads))
      expect(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0])).toBeGreaterThan(0);
    expect(tf.tidy(() => balanceLoss(route).dataSync()[0])).toBe(0);
    tf.dispose([x, value, ...Object.values(grads)]);
    for (const r of routers) r.dispose();
  });

  it('topKMask has a zero gradient', () => {
    const p = tf.tensor2d([0.1, 0.6, 0.3], [1, 3]);
    const g = tf.grad((q: tf.Tensor) => tf.sum(tf.mul(topKMask(q as tf.Tensor2D, 1), q)))(p);
    expect(Array.from(g.dataSync())).toEqual([0, 1, 0]); // only through the explicit product
    tf.dispose([p, g]);
  });
});
