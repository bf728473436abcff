import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { afterEach, describe, expect, it } from 'vitest';
import { AdamW, type AdamWOptions, isNoDecay } from '../../../src/train/optimizer.js';
import { expectClose, expectNoLeak, onBackend } from '../../helpers/index.js';

/** PyTorch torch.optim.AdamW written out in float64 for one parameter tensor (flat), step counter per tensor. */
class TorchAdamWReference {
  m: number[];
  v: number[];
  t = 0;
  constructor(
    public p: number[],
    readonly o: { b1: number; b2: number; eps: number; wd: number },
  ) {
    this.m = p.map(() => 0);
    this.v = p.map(() => 0);
  }
  step(g: readonly number[], lr: number): void {
    const { b1, b2, eps, wd } = this.o;
    this.t++;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    for (let i = 0; i < this.p.length; i++) {
      this.p[i] *= 1 - lr * wd; // p.mul_(1 - lr * weight_decay)
      this.m[i] = b1 * this.m[i] + (1 - b1) * g[i]; // exp_avg.lerp_(grad, 1 - beta1)
      this.v[i] = b2 * this.v[i] + (1 - b2) * g[i] * g[i]; // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
      const denom = Math.sqrt(this.v[i]) / Math.sqrt(bc2) + eps;
      this.p[i] -= (lr / bc1) * (this.m[i] / denom); // p.addcdiv_(exp_avg, denom, value=-step_size)
    }
  }
}

function randomArray(n: number, rng: () => number, scale = 1): number[] {
  return Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

const live: { dispose(): void }[] = [];
afterEach(() => {
  for (const x of live.splice(0)) x.dispose();
});

function makeVars(spec: Record<string, { shape: number[]; values: number[] }>): Map<string, tf.Variable> {
  const vars = new Map<string, tf.Variable>();
  for (const [name, { shape, values }] of Object.entries(spec)) {
    const v = tf.variable(tf.tensor(values, shape), true);
    live.push(v);
    vars.set(name, v);
  }
  return vars;
}

function makeOpt(vars: Map<string, tf.Variable>, options: AdamWOptions): AdamW {
  const opt = new AdamW(vars, options);
  live.push(opt);
  return opt;
}

/** Applies host gradients (by name) through tensors, scaled by `gradScale`, disposing them after. */
function applyHost(
  opt: AdamW,
  vars: Map<string, tf.Variable>,
  grads: Record<string, number[]>,
  lr: number,
  gradScale?: number,
) {
  const map = new Map(Object.entries(grads).map(([k, g]) => [k, tf.tensor(g, vars.get(k)!.shape)]));
  opt.applyGradients(map, lr, gradScale);
  tf.dispose([...map.values()]);
}

describe.each([
  ['fused kernel', true],
  ['tfjs ops', false],
] as const)('AdamW (%s)', (_label, fused) => {
  it('matches a hand-computed two-step update', () => {
    // p0 = 1, g = 0.5 then −0.25, lr 0.1, λ 0.1, β (0.9, 0.999), ε 1e-8:
    // t=1: p = 1·(1 − 0.01) = 0.99; m = 0.05, v = 0.00025; m̂ = 0.5, √v̂ = 0.5; p = 0.99 − 0.1·0.5/(0.5 + 1e-8) = 0.890000002
    // t=2: p = 0.890000002·0.99; m = 0.02, v = 0.00031225; m̂ = 0.02/0.19, v̂ = 0.00031225/0.001999;
    //      p = 0.88110000198 − 0.1·m̂/(√v̂ + 1e-8) = 0.8544662986878463
    const vars = makeVars({ 'layer.weight': { shape: [1, 1], values: [1] } });
    const opt = makeOpt(vars, { weightDecay: 0.1, fused });
    applyHost(opt, vars, { 'layer.weight': [0.5] }, 0.1);
    expectClose(vars.get('layer.weight')!, [0.890000002], 1e-7, 0);
    applyHost(opt, vars, { 'layer.weight': [-0.25] }, 0.1);
    expectClose(vars.get('layer.weight')!, [0.8544662986878463], 1e-7, 0);
    expect(opt.step).toBe(2);
  });

  it.each(['wasm', 'cpu'])(
    'follows PyTorch AdamW (float64 reference) over 6 steps on %s',
    async (backend) => {
      await onBackend(backend, () => {
        const rng = seedrandom('adamw-ref');
        const o = { b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.1 };
        const spec = {
          'blocks.0.attn.q.weight': { shape: [3, 4], values: randomArray(12, rng) },
          'blocks.0.attnNorm.weight': { shape: [4], values: randomArray(4, rng) },
        };
        const vars = makeVars(spec);
        const opt = makeOpt(vars, { betas: [o.b1, o.b2], eps: o.eps, weightDecay: o.wd, fused });
        const refs = {
          'blocks.0.attn.q.weight': new TorchAdamWReference([...spec['blocks.0.attn.q.weight'].values], o),
          'blocks.0.attnNorm.weight': new TorchAdamWReference([...spec['blocks.0.attnNorm.weight'].values], {
            ...o,
            wd: 0, // the norm is in the no-decay group
          }),
        };
        for (let step = 0; step < 6; step++) {
          const lr = 1e-2 * (1 - step / 10);
          const grads = {
            'blocks.0.attn.q.weight': randomArray(12, rng, 2),
            'blocks.0.attnNorm.weight': randomArray(4, rng, 1e-3),
          };
          applyHost(opt, vars, grads, lr);
          for (const [k, ref] of Object.entries(refs)) ref.step(grads[k as keyof typeof grads], lr);
        }
        for (const [k, ref] of Object.entries(refs)) expectClose(vars.get(k)!, ref.p, 1e-6, 1e-6);
      });
    },
  );

  it('gradScale (a clipping coefficient) scales the gradient inside the update: PyTorch on clipped gradients', () => {
    const rng = seedrandom('adamw-scale');
    const o = { b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1 };
    const start = randomArray(6, rng);
    const vars = makeVars({ 'blocks.0.mlp.up.weight': { shape: [2, 3], values: start } });
    const opt = makeOpt(vars, { weightDecay: o.wd, fused });
    const ref = new TorchAdamWReference([...start], o);
    for (const scale of [0.25, 1, 0.6]) {
      const g = randomArray(6, rng, 3);
      applyHost(opt, vars, { 'blocks.0.mlp.up.weight': g }, 1e-2, scale);
      ref.step(
        g.map((x) => x * scale),
        1e-2,
      );
    }
    expectClose(vars.get('blocks.0.mlp.up.weight')!, ref.p, 1e-6, 1e-6);
    expect(() => opt.applyGradients({}, 1e-2, -1)).toThrow(/gradScale must be a finite number ≥ 0, got -1/);
  });

  it('decays only the decay group', () => {
    // zero gradients keep m = v = 0, so the Adam term is 0 and only the decoupled decay moves p
    const vars = makeVars({
      'blocks.0.mlp.up.weight': { shape: [2, 2], values: [1, -2, 3, -4] },
      'blocks.0.mlpNorm.weight': { shape: [2], values: [1, 2] },
      'blocks.0.attn.q.bias': { shape: [1, 2], values: [5, 6] },
      addedEmbedding: { shape: [1, 2], values: [7, 8] },
    });
    const opt = makeOpt(vars, { weightDecay: 0.5, fused });
    const zeros = Object.fromEntries([...vars].map(([k, v]) => [k, new Array(v.size).fill(0)]));
    applyHost(opt, vars, zeros, 0.1); // decay factor 1 − 0.1·0.5 = 0.95
    expectClose(vars.get('blocks.0.mlp.up.weight')!, [0.95, -1.9, 2.85, -3.8], 1e-6);
    expectClose(vars.get('blocks.0.mlpNorm.weight')!, [1, 2], 0);
    expectClose(vars.get('blocks.0.attn.q.bias')!, [5, 6], 0);
    expectClose(vars.get('addedEmbedding')!, [7, 8], 0);
    expect(opt.weightDecayOf('blocks.0.mlp.up.weight')).toBe(0.5);
    expect(opt.weightDecayOf('addedEmbedding')).toBe(0);
  });

  it('takes an explicit no-decay list', () => {
    const vars = makeVars({ a: { shape: [1, 1], values: [1] }, b: { shape: [1], values: [1] } });
    const opt = makeOpt(vars, { weightDecay: 1, noDecay: ['a'], fused });
    applyHost(opt, vars, { a: [0], b: [0] }, 0.5);
    expectClose(vars.get('a')!, [1], 0);
    expectClose(vars.get('b')!, [0.5], 1e-7);
  });

  it('keeps moments by name when the trainable set changes', () => {
    const rng = seedrandom('by-name');
    const o = { b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01 };
    const spec = {
      'x.weight': { shape: [2, 3], values: randomArray(6, rng) },
      'y.weight': { shape: [3, 2], values: randomArray(6, rng) },
    };
    const vars = makeVars(spec);
    const opt = makeOpt(vars, { betas: [o.b1, o.b2], eps: o.eps, weightDecay: o.wd, fused });
    const refX = new TorchAdamWReference([...spec['x.weight'].values], o);
    const refY = new TorchAdamWReference([...spec['y.weight'].values], o);
    // steps 1–2 train x only, step 3 y only (given first), step 4 both: y's bias correction counts its own updates
    const plan: string[][] = [['x.weight'], ['x.weight'], ['y.weight'], ['y.weight', 'x.weight']];
    for (const names of plan) {
      const grads = Object.fromEntries(names.map((n) => [n, randomArray(6, rng)]));
      applyHost(opt, vars, grads, 0.01);
      if (grads['x.weight']) refX.step(grads['x.weight'], 0.01);
      if (grads['y.weight']) refY.step(grads['y.weight'], 0.01);
    }
    expectClose(vars.get('x.weight')!, refX.p, 1e-6, 1e-6);
    expectClose(vars.get('y.weight')!, refY.p, 1e-6, 1e-6);
  });

  it('continues identically after a state round trip', async () => {
    const rng = seedrandom('round-trip');
    const spec = { 'w.weight': { shape: [4, 3], values: randomArray(12, rng) } };
    const grads = Array.from({ length: 4 }, () => ({ 'w.weight': randomArray(12, rng) }));
    const a = makeVars(spec);
    const optA = makeOpt(a, { fused });
    for (const g of grads) applyHost(optA, a, g, 1e-2);

    const b = makeVars(spec);
    const optB = makeOpt(b, { fused });
    for (const g of grads.slice(0, 2)) applyHost(optB, b, g, 1e-2);
    const state = await optB.getState();
    const weights = await b.get('w.weight')!.data();
    const c = makeVars({ 'w.weight': { shape: [4, 3], values: [...weights] } });
    const optC = makeOpt(c, { fused });
    optC.setState(state);
    expect(optC.step).toBe(2);
    for (const g of grads.slice(2)) applyHost(optC, c, g, 1e-2);
    expect([...(await c.get('w.weight')!.data())]).toEqual([...(await a.get('w.weight')!.data())]);
    const [sa, sc] = [await optA.getState(), await optC.getState()];
    expect([...sc.slots.get('w.weight')!.m]).toEqual([...sa.slots.get('w.weight')!.m]);
    expect(sc.slots.get('w.weight')!.step).toBe(4);
  });

  it('leaks no tensors across steps', async () => {
    const vars = makeVars({ 'w.weight': { shape: [8, 8], values: new Array(64).fill(0.5) } });
    const opt = makeOpt(vars, { fused });
    const g = tf.ones([8, 8]);
    live.push(g);
    await expectNoLeak(() => opt.applyGradients({ 'w.weight': g }, 1e-3), 4);
  });
});

describe('AdamW checks', () => {
  it('rejects unknown names and wrong shapes before changing anything', async () => {
    const vars = makeVars({ 'a.weight': { shape: [2, 2], values: [1, 2, 3, 4] } });
    const opt = makeOpt(vars, {});
    const good = tf.ones([2, 2]);
    const bad = tf.ones([3]);
    live.push(good, bad);
    expect(() => opt.applyGradients(new Map([['b.weight', good]]), 0.1)).toThrow(
      /gradient for unknown variable b\.weight/,
    );
    expect(() =>
      opt.applyGradients(
        new Map([
          ['a.weight', good],
          ['a.weight2', bad],
        ]),
        0.1,
      ),
    ).toThrow(/unknown variable a\.weight2/);
    expect([...(await vars.get('a.weight')!.data())]).toEqual([1, 2, 3, 4]);
    opt.setParams(new Map([...vars, ['c.weight', vars.get('a.weight')!]]));
    expect(() => opt.applyGradients({ 'c.weight': bad }, 0.1)).toThrow(
      /gradient of c\.weight has shape \[3\], the variable \[2,2\]/,
    );
    expect(() => opt.applyGradients({ 'a.weight': good }, Number.NaN)).toThrow(/lr must be a finite number/);
    expect(() => new AdamW(vars, { betas: [1, 0.9] })).toThrow(/betas must be in \[0, 1\)/);
  });

  it('rejects a state of another shape, naming the variable', () => {
    const vars = makeVars({ 'a.weight': { shape: [2, 2], values: [1, 2, 3, 4] } });
    const opt = makeOpt(vars, {});
    const slot = { shape: [4, 1], m: new Float32Array(4), v: new Float32Array(4), step: 1 };
    expect(() => opt.setState({ step: 1, slots: new Map([['a.weight', slot]]) })).toThrow(
      /AdamW state for a\.weight: expected shape \[2,2\], got \[4,1\]/,
    );
    const short = { shape: [2, 2], m: new Float32Array(3), v: new Float32Array(4), step: 1 };
    expect(() => opt.setState({ step: 1, slots: new Map([['a.weight', short]]) })).toThrow(/needs 4 values/);
  });

  it('groups model parameter names as nanoGPT does', () => {
    const mat = { rank: 2 } as tf.Variable;
    const vec = { rank: 1 } as tf.Variable;
    expect(isNoDecay('embedding', mat)).toBe(false);
    expect(isNoDecay('blocks.0.attn.q.weight', mat)).toBe(false);
    expect(isNoDecay('blocks.0.attn.q.stepA', mat)).toBe(false);
    expect(isNoDecay('head.weight', mat)).toBe(false);
    expect(isNoDecay('blocks.0.attnNorm.weight', vec)).toBe(true);
    expect(isNoDecay('finalNorm.weight', vec)).toBe(true);
    expect(isNoDecay('addedEmbedding', mat)).toBe(true);
    expect(isNoDecay('addedHead', mat)).toBe(true);
    expect(isNoDecay('blocks.1.mlp.up.bias', mat)).toBe(true);
  });
});
