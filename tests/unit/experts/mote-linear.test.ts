// The MoTE linear's behaviour: zero-init B is the base, hand-computed LoRA, routing locality, merged ≡ unmerged,
// merged per token (a decoding batch's rows in different steps), the merged-weight cache follows variable updates,
// and clear errors.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  decodeRoute,
  type ExpertConfig,
  MIX_KERNELS,
  MoteLinear,
  Route,
  resolveExpertConfig,
  withRoute,
} from '../../../src/experts/index.js';
import { Linear } from '../../../src/model/linear.js';
import { expectClose, expectNoLeak, seededNormal } from '../../helpers/index.js';

const IN = 12;
const OUT = 10;
const STEPS = ['analysis', 'guidance', 'answer'] as const;

function layer(config: Partial<ExpertConfig>, seed = 'w0'): MoteLinear {
  const base = new Linear(tf.variable(seededNormal([IN, OUT], seed, 0.3), false), 'test.q');
  return new MoteLinear(base, resolveExpertConfig({ rank: 3, ...config }), 'blocks.0.attn.q');
}

const ids = Int32Array.from([0, 0, 1, 1, 1, 2, -1, 2, 0]);
const x = () => seededNormal([ids.length, IN], 'x') as tf.Tensor2D;

describe('MoteLinear', () => {
  it.each([
    ['mote', {}],
    ['mote-no-shared', { shared: false }],
    ['lora', { kind: 'lora' as const }],
    ['moe-topk', { kind: 'moe-topk' as const }],
  ])('zero-init B: %s equals the base projection', (_, cfg) => {
    const l = layer(cfg);
    const route = new Route(STEPS, ids);
    const input = x();
    for (const kernel of MIX_KERNELS) {
      l.kernel = kernel;
      const [y, base] = tf.tidy(() => [l.apply(input, withRoute(route)), l.base.apply(input)]);
      expectClose(y, base, 0, 0);
      tf.dispose([y, base]);
    }
    tf.dispose(input);
    route.dispose();
    l.dispose();
  });

  it('a single LoRA is x·W0 + (loraAlpha / r)·x·A·B, and rsLoRA scales by loraAlpha / √r', () => {
    for (const rsLora of [false, true]) {
      const l = layer({ kind: 'lora', rank: 4, loraAlpha: 8, rsLora, initLoraWeights: false });
      const input = x();
      const y = tf.tidy(() => l.apply(input));
      const scale = rsLora ? 8 / 2 : 8 / 4;
      const byHand = tf.tidy(() =>
        tf.add(
          tf.matMul(input, l.weight as tf.Tensor2D),
          tf.mul(tf.matMul(tf.matMul(input, l.sharedA as tf.Tensor2D), l.sharedB as tf.Tensor2D), scale),
        ),
      );
      expect(l.scaling).toBe(scale);
      expectClose(y, byHand, 1e-5, 1e-5);
      tf.dispose([input, y, byHand]);
      l.dispose();
    }
  });

  it('MoTE is W0 + α·scale·(step expert) + (1−α)·scale·(shared expert) per token', () => {
    const l = layer({ alpha: 0.3, initLoraWeights: false });
    const route = new Route(STEPS, ids);
    const input = x();
    const y = tf.tidy(() => l.apply(input, withRoute(route)));
    const rows = tf.tidy(() =>
      Array.from(ids).map((s, t) => {
        const xt = tf.slice(input, [t, 0], [1, IN]);
        let yt = tf.matMul(xt, l.weight as tf.Tensor2D);
        const shared = tf.matMul(tf.matMul(xt, l.sharedA as tf.Tensor2D), l.sharedB as tf.Tensor2D);
        yt = tf.add(yt, tf.mul(shared, 0.7 * l.scaling));
        if (s >= 0) {
          const A = tf.slice(l.stepA as tf.Tensor2D, [0, s * 3], [IN, 3]);
          const B = tf.slice(l.stepB as tf.Tensor2D, [s * 3, 0], [3, OUT]);
          yt = tf.add(yt, tf.mul(tf.matMul(tf.matMul(xt, A), B), 0.3 * l.scaling));
        }
        return yt;
      }),
    );
    const byHand = tf.concat(rows, 0);
    expectClose(y, byHand, 1e-5, 1e-5);
    tf.dispose([input, y, byHand, ...rows]);
    route.dispose();
    l.dispose();
  });

  it.each(MIX_KERNELS)('changing the step of some tokens changes only those rows (%s)', (kernel) => {
    const l = layer({ initLoraWeights: false, kernel });
    const input = x();
    const changed = Int32Array.from(ids);
    changed[2] = 0; // guidance → analysis
    changed[6] = 2; // shared only → answer
    const [a, b] = tf.tidy(() => [
      l.apply(input, withRoute(new Route(STEPS, ids))),
      l.apply(input, withRoute(new Route(STEPS, changed))),
    ]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b)), 1).dataSync());
    diff.forEach((d, t) => {
      if (t === 2 || t === 6) expect(d).toBeGreaterThan(1e-3);
      else expect(d).toBe(0);
    });
    tf.dispose([input, a, b]);
    l.dispose();
  });

  it.each<[string, Partial<ExpertConfig>]>([
    ['each step and the shared expert alone', { initLoraWeights: false }],
    ['no shared expert', { initLoraWeights: false, shared: false }],
    ['a single LoRA', { kind: 'lora', initLoraWeights: false }],
  ])('merged ≡ unmerged: %s', (_, cfg) => {
    const l = layer(cfg);
    const input = x();
    const steps = cfg.kind === 'lora' ? (['shared'] as const) : ([...STEPS, 'shared'] as const);
    for (const step of steps) {
      const unmerged = tf.tidy(() => l.apply(input, withRoute(decodeRoute(STEPS, step, { merged: false }))));
      const merged = tf.tidy(() => l.apply(input, withRoute(decodeRoute(STEPS, step))));
      const viaWeight = tf.tidy(() => tf.matMul(input, l.weightFor(withRoute(decodeRoute(STEPS, step)))));
      l.merge(cfg.kind === 'lora' ? null : step);
      const pinned = tf.tidy(() => l.apply(input, withRoute(new Route(STEPS, ids))));
      l.unmerge();
      for (const t of [merged, viaWeight, pinned]) expectClose(t, unmerged, 1e-5, 1e-5);
      tf.dispose([unmerged, merged, viaWeight, pinned]);
    }
    tf.dispose(input);
    l.dispose();
  });

  it.each<[string, Partial<ExpertConfig>]>([
    ['with the shared expert', { initLoraWeights: false }],
    ['no shared expert', { initLoraWeights: false, shared: false }],
  ])('merged, tokens in different steps: each row is its step merged, ≡ unmerged mixing (%s)', (_, cfg) => {
    const l = layer(cfg);
    const input = x();
    const route = new Route(STEPS, ids, { merged: true });
    const merged = tf.tidy(() => l.apply(input, withRoute(route)));
    const unmerged = tf.tidy(() => l.apply(input, withRoute(new Route(STEPS, ids))));
    expectClose(merged, unmerged, 1e-5, 1e-5);
    const rows = merged.arraySync() as number[][];
    for (const step of [...STEPS, 'shared'] as const) {
      const alone = tf.tidy(() => tf.matMul(input, l.mergedWeight(step)).arraySync() as number[][]);
      const s = step === 'shared' ? -1 : STEPS.indexOf(step);
      ids.forEach((id, t) => {
        if (id === s) expect(rows[t], `${step} row ${t}`).toEqual(alone[t]);
      });
    }
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      l.apply(input, withRoute(route));
    });
    expect(tf.memory().numTensors).toBe(before); // the row masks die with the forward's tidy
    tf.dispose([input, merged, unmerged]);
    route.dispose();
    l.dispose();
  });

  it('a base bias is added exactly once on every path (kernels, merged, per-token merged, pinned), never trained', () => {
    const cfg = resolveExpertConfig({ rank: 3, initLoraWeights: false });
    const plain = new MoteLinear(
      new Linear(tf.variable(seededNormal([IN, OUT], 'w0', 0.3), false), 'test.q'),
      cfg,
      'blocks.0.attn.q',
    );
    const b = seededNormal([OUT], 'bias', 0.5);
    const biased = new MoteLinear(
      new Linear(tf.variable(seededNormal([IN, OUT], 'w0', 0.3), false), 'test.q', tf.variable(b, false)),
      cfg,
      'blocks.0.attn.q', // same seed and path: the same adapters as `plain`
    );
    const input = x();
    const expectBiasOnce = (ctx: () => ReturnType<typeof withRoute> | undefined) => {
      const diff = tf.tidy(() => tf.sub(biased.apply(input, ctx()), plain.apply(input, ctx())));
      expectClose(
        diff,
        tf.tidy(() => tf.tile(tf.reshape(b, [1, OUT]), [ids.length, 1])),
        1e-5,
        1e-5,
      );
      diff.dispose();
    };
    for (const kernel of MIX_KERNELS) {
      plain.kernel = kernel;
      biased.kernel = kernel;
      expectBiasOnce(() => withRoute(new Route(STEPS, ids)));
    }
    expectBiasOnce(() => withRoute(new Route(STEPS, ids, { merged: true })));
    expectBiasOnce(() => withRoute(decodeRoute(STEPS, 'answer')));
    plain.merge('guidance');
    biased.merge('guidance');
    expectBiasOnce(() => undefined);
    plain.unmerge();
    biased.unmerge();
    // the merged weight stays the weight alone (decoders add the bias themselves), and the bias is the base's
    const route = withRoute(decodeRoute(STEPS, 'answer'));
    expectClose(biased.weightFor(route), plain.weightFor(route), 0, 0);
    expect([...biased.namedVariables().keys()]).toEqual([
      'weight',
      'bias',
      'stepA',
      'stepB',
      'sharedA',
      'sharedB',
    ]);
    expect(biased.bias?.trainable).toBe(false);
    tf.dispose([input, b]);
    plain.dispose();
    biased.dispose();
  });

  it('merged weights are cached per step and rebuilt after an optimizer step changes a factor', () => {
    const l = layer({ initLoraWeights: false });
    const route = withRoute(decodeRoute(STEPS, 'answer'));
    const w1 = l.weightFor(route);
    expect(l.weightFor(route)).toBe(w1); // cached
    const before = w1.dataSync().slice();
    const opt = tf.train.sgd(0.1);
    const input = x();
    const training = withRoute(new Route(STEPS, ids, { training: true }));
    tf.tidy(() => {
      opt.minimize(() => tf.sum(l.apply(input, training)) as tf.Scalar, false, [l.stepB!, l.sharedB!]);
    });
    const w2 = l.weightFor(route);
    expect(w2).not.toBe(w1);
    expect(w1.isDisposed).toBe(true);
    expect(Array.from(w2.dataSync())).not.toEqual(Array.from(before));
    const fresh = tf.tidy(() => tf.matMul(input, w2));
    const unmerged = tf.tidy(() =>
      l.apply(input, withRoute(decodeRoute(STEPS, 'answer', { merged: false }))),
    );
    expectClose(fresh, unmerged, 1e-5, 1e-5);
    tf.dispose([input, fresh, unmerged]);
    opt.dispose();
    l.dispose();
  });

  it('dropout applies to the adapters when training only, seeded and varying per call', () => {
    const l = layer({ initLoraWeights: false, dropout: 0.5 });
    const input = x();
    const infer = withRoute(new Route(STEPS, ids));
    const train = withRoute(new Route(STEPS, ids, { training: true }));
    const [a, b, c1, c2] = tf.tidy(() => [
      l.apply(input, infer),
      l.apply(input, infer),
      l.apply(input, train),
      l.apply(input, train),
    ]);
    expectClose(a, b, 0, 0);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, c1))).dataSync()[0])).toBeGreaterThan(1e-3);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(c1, c2))).dataSync()[0])).toBeGreaterThan(1e-3);
    const again = layer({ initLoraWeights: false, dropout: 0.5 });
    const c1again = tf.tidy(() => again.apply(input, train));
    expectClose(c1again, c1, 1e-6, 1e-6); // same seed, same first mask
    tf.dispose([input, a, b, c1, c2, c1again]);
    l.dispose();
    again.dispose();
  });

  it('does not leak: forward + gradients keep numTensors flat, for every kernel', async () => {
    const l = layer({ initLoraWeights: false });
    const input = x();
    const route = new Route(STEPS, ids, { training: true });
    const vars = [l.stepA!, l.stepB!, l.sharedA!, l.sharedB!];
    for (const kernel of MIX_KERNELS) {
      l.kernel = kernel;
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(l.apply(input, withRoute(route))) as tf.Scalar,
          vars,
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
    }
    tf.dispose(input);
    route.dispose();
    l.dispose();
  });

  it('says what is wrong: missing route, mismatched experts or token count, merging a gate, merged under a tape', () => {
    const l = layer({});
    const input = x();
    expect(() => tf.tidy(() => l.apply(input))).toThrow(/no routing in ctx/);
    expect(() =>
      tf.tidy(() => l.apply(input, withRoute(new Route(['analysis', 'answer'], new Int32Array(9))))),
    ).toThrow(/differ from the layer/);
    expect(() => tf.tidy(() => l.apply(input, withRoute(new Route(STEPS, Int32Array.from([0, 1])))))).toThrow(
      /route has 2 tokens, the input has 9 rows/,
    );
    expect(() => tf.tidy(() => l.apply(input, { route: 'analysis' }))).toThrow(/must be a Route/);
    expect(() => l.apply(tf.zeros([2, IN + 1]) as tf.Tensor2D)).toThrow(/expected input \(N, 12\)/);
    expect(() => l.merge('critique' as never)).toThrow(/unknown expert 'critique'/);
    expect(() =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.mul(l.apply(input, withRoute(decodeRoute(STEPS, 'answer'))), v)))(
        tf.ones([9, OUT]),
      ),
    ).toThrow(/merged weights are for inference/);
    expect(() => l.weightFor()).toThrow(/weightFor needs ctx.route/);
    expect(() => l.weightFor(withRoute(new Route(STEPS, ids)))).toThrow(
      /weightFor needs one step for every token/,
    );
    const gate = layer({ kind: 'moe-topk' });
    expect(() => gate.merge('analysis')).toThrow(/cannot be merged/);
    expect(() => gate.weightFor()).toThrow(/cannot be merged/);
    tf.dispose(input);
    l.dispose();
    gate.dispose();
  });

  it('names its variables after the paper and PEFT', () => {
    const mote = layer({});
    expect([...mote.namedVariables().keys()]).toEqual(['weight', 'stepA', 'stepB', 'sharedA', 'sharedB']);
    expect(mote.stepA!.shape).toEqual([IN, 9]);
    expect(mote.stepB!.shape).toEqual([9, OUT]);
    const lora = layer({ kind: 'lora' });
    expect([...lora.namedVariables().keys()]).toEqual(['weight', 'loraA', 'loraB']);
    const gate = layer({ kind: 'moe-topk', shared: true });
    expect([...gate.namedVariables().keys()]).toEqual([
      'weight',
      'stepA',
      'stepB',
      'sharedA',
      'sharedB',
      'router.weight',
    ]);
    for (const l of [mote, lora, gate]) {
      expect(l.weight.trainable).toBe(false);
      l.dispose();
    }
  });
});
