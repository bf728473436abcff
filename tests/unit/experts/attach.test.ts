// Attaching experts to a Transformer: the Table 4 variants from configuration alone, trainable parameters,
// B = 0 keeps the model's outputs, training moves only the adapters, merging bakes a step, stories260K parity.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  attachExperts,
  balanceLoss,
  buildStepRoute,
  decodeRoute,
  detachExperts,
  EXPERT_PRESETS,
  type ExpertPreset,
  expertParameterCount,
  getExperts,
  learnedRoute,
  MIX_KERNELS,
  MoteLinear,
  mergeAll,
  mergeExperts,
  resolveExpertConfig,
  setMixKernel,
  type TokenStage,
  unmergeExperts,
  withRoute,
} from '../../../src/experts/index.js';
import { generate } from '../../../src/generate/generate.js';
import { loadLlama2c } from '../../../src/io/llama2c-node.js';
import { resolveModelConfig } from '../../../src/model/config.js';
import { Transformer } from '../../../src/model/transformer.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { expectClose, expectNoLeak, STORIES_BIN, TOK512_BIN } from '../../helpers/index.js';

const tiny = resolveModelConfig({}, 'tiny-test');
const ids = [
  [1, 5, 9, 3, 7, 2, 11, 4],
  [1, 8, 8, 6, 0, 13, 12, 10],
];
const labels: TokenStage[][] = [
  ['question', 'question', 'analysis', 'analysis', 'guidance', 'answer', 'answer', 'answer'],
  ['question', 'question', 'question', 'answer', 'answer', 'answer', 'answer', null],
];
const STEPS = ['analysis', 'guidance', 'answer'] as const;

/** The route of `ids` for a config (learned routing for moe-topk). */
function routeFor(kind: string, training = false) {
  return kind === 'moe-topk'
    ? learnedRoute({ training })
    : buildStepRoute(labels, [2, 8], { experts: STEPS, question: 'random', seed: 1, training });
}

describe('attachExperts', () => {
  it.each(Object.keys(EXPERT_PRESETS) as ExpertPreset[])(
    '%s: wraps every projection, freezes the base, counts its trainable parameters',
    (preset) => {
      const model = Transformer.init(tiny, 'attach');
      const all = model.parameterCount();
      const experts = attachExperts(model, {}, preset);
      const c = experts.config;
      expect(experts.layers.size).toBe(tiny.numLayers * 7);
      const expected = model
        .linearSlots()
        .reduce((n, s) => n + expertParameterCount(c, s.get().inFeatures, s.get().outFeatures), 0);
      expect(experts.parameterCount).toBe(expected);
      expect(model.parameterCount(true)).toBe(expected);
      expect(model.parameterCount()).toBe(all + expected);
      const adapters = [...experts.layers.values()].flatMap((l) =>
        [...l.namedVariables()].filter(([k]) => k !== 'weight').map(([, v]) => v),
      );
      expect(new Set(model.trainableVariables())).toEqual(new Set(adapters));
      detachExperts(model);
      model.dispose();
    },
  );

  it('trainable parameters per variant follow rank × (in + out) per expert (stories260K shapes)', () => {
    // one projection 64 → 64 and one 64 → 172, rank 16
    const count = (preset: ExpertPreset) => {
      const c = resolveExpertConfig({}, preset);
      return expertParameterCount(c, 64, 64) + expertParameterCount(c, 64, 172);
    };
    const perExpert = 16 * (64 + 64) + 16 * (64 + 172);
    expect(count('single-lora')).toBe(perExpert);
    expect(count('lora-rank2x')).toBe(2 * perExpert);
    expect(count('mote')).toBe(4 * perExpert);
    expect(count('mote-no-shared')).toBe(3 * perExpert);
    expect(count('moe-topk')).toBe(3 * perExpert + 2 * 64 * 3);
  });

  it('targets choose the projections; detach restores the model exactly', () => {
    const model = Transformer.init(tiny, 'targets');
    const before = [...model.namedVariables()].map(([k, v]) => [k, v.trainable]);
    const experts = attachExperts(model, { targets: ['q', 'v', 'down'] });
    expect([...experts.layers.keys()]).toEqual([
      'blocks.0.attn.q',
      'blocks.0.attn.v',
      'blocks.0.mlp.down',
      'blocks.1.attn.q',
      'blocks.1.attn.v',
      'blocks.1.mlp.down',
    ]);
    expect(model.namedVariables().has('blocks.0.attn.q.stepA')).toBe(true);
    expect(model.namedVariables().has('blocks.0.attn.k.stepA')).toBe(false);
    expect(getExperts(model)).toBe(experts);
    detachExperts(model);
    expect(getExperts(model)).toBeNull();
    expect([...model.namedVariables()].map(([k, v]) => [k, v.trainable])).toEqual(before);
    model.dispose();
  });

  it('rejects attaching twice and bad configurations with the key, the value and what is allowed', () => {
    const model = Transformer.init(tiny, 'twice');
    attachExperts(model);
    expect(() => attachExperts(model, { kind: 'lora' })).toThrow(/already attached \(kind 'mote'\)/);
    detachExperts(model);
    expect(() => detachExperts(model)).toThrow(/no experts are attached/);
    expect(() => attachExperts(model, { targets: ['wq' as never] })).toThrow(
      /targets = "wq"; expected one of q, k, v, o, gate, up, down/,
    );
    expect(() => attachExperts(model, { stepExperts: ['analysis', 'critique' as never] })).toThrow(
      /stepExperts = "critique"; expected one of analysis, guidance, answer, check/,
    );
    expect(() => attachExperts(model, { rank: 0 })).toThrow(/rank = 0; expected a positive integer/);
    expect(() => attachExperts(model, { alpha: 1.5 })).toThrow(/alpha = 1.5; expected a number in \[0, 1\]/);
    expect(getExperts(model)).toBeNull(); // failed attaches leave the model untouched
    expect(model.parameterCount(true)).toBe(model.parameterCount());
    model.dispose();
  });

  it.each(Object.keys(EXPERT_PRESETS) as ExpertPreset[])(
    '%s with B = 0 gives the logits of the model without experts, with every kernel',
    (preset) => {
      const model = Transformer.init(tiny, 'zero-b');
      const plain = model.logits(ids);
      const experts = attachExperts(model, {}, preset);
      const route = routeFor(experts.config.kind);
      for (const kernel of MIX_KERNELS) {
        setMixKernel(model, kernel);
        const out = model.logits(ids, { ctx: withRoute(route) });
        expectClose(out, plain, 1e-6, 1e-6);
        out.dispose();
      }
      route.dispose();
      plain.dispose();
      detachExperts(model);
      model.dispose();
    },
  );

  it.each(['mote', 'moe-topk', 'single-lora'] as ExpertPreset[])(
    '%s: Adam steps move only the adapters; the frozen base stays bit-identical; the loss falls',
    async (preset) => {
      const model = Transformer.init(tiny, 'train');
      const experts = attachExperts(model, { seed: 3 }, preset);
      const base = [...model.namedVariables()].filter(([, v]) => !v.trainable);
      const snapshot = base.map(([, v]) => v.dataSync().slice());
      const vars = model.trainableVariables();
      expect(vars.length).toBeGreaterThan(0);
      const opt = tf.train.adam(0.01);
      const input = model.idsTensor(ids);
      const targets = tf.tensor1d(
        ids.flatMap((r) => [...r.slice(1), r[0]]),
        'int32',
      );
      const losses: number[] = [];
      for (let step = 0; step < 8; step++) {
        const route = routeFor(experts.config.kind, true);
        const loss = tf.tidy(
          () =>
            opt.minimize(
              () => {
                const logits = model.forward(input, { ctx: withRoute(route) });
                const nll = tf.losses.softmaxCrossEntropy(tf.oneHot(targets, tiny.vocabSize), logits);
                return tf.add(nll, tf.mul(balanceLoss(route), experts.config.balanceLossWeight)) as tf.Scalar;
              },
              true,
              vars,
            ) as tf.Scalar,
        );
        losses.push((await loss.data())[0]);
        loss.dispose();
        route.dispose();
      }
      expect(losses[7]).toBeLessThan(losses[0]);
      base.forEach(([name, v], i) => {
        expect(Array.from(v.dataSync()), name).toEqual(Array.from(snapshot[i]));
      });
      tf.dispose([input, targets]);
      opt.dispose();
      detachExperts(model);
      model.dispose();
    },
  );

  it('does not leak: numTensors is flat across forward + gradient steps of the whole model', async () => {
    const model = Transformer.init(tiny, 'leak');
    attachExperts(model, { initLoraWeights: false });
    const input = model.idsTensor(ids);
    const vars = model.trainableVariables();
    for (const kernel of MIX_KERNELS) {
      setMixKernel(model, kernel);
      await expectNoLeak(() => {
        const route = routeFor('mote', true);
        const { value, grads } = tf.variableGrads(
          () => tf.mean(model.forward(input, { ctx: withRoute(route) })) as tf.Scalar,
          vars,
        );
        tf.dispose([value, ...Object.values(grads)]);
        route.dispose();
      });
    }
    input.dispose();
    detachExperts(model);
    model.dispose();
  });

  it('mergeExperts and mergeAll: a merged step gives the logits of routing every token to it', () => {
    const model = Transformer.init(tiny, 'merge', { trainable: false });
    attachExperts(model, { initLoraWeights: false });
    const routed = model.logits(ids, { ctx: withRoute(decodeRoute(STEPS, 'guidance', { merged: false })) });
    mergeExperts(model, 'guidance');
    const pinned = model.logits(ids);
    unmergeExperts(model);
    mergeAll(model, 'guidance');
    expect(getExperts(model)).toBeNull();
    expect(model.linearSlots().some((s) => s.get() instanceof MoteLinear)).toBe(false);
    expect(model.parameterCount(true)).toBe(0);
    const baked = model.logits(ids);
    expectClose(pinned, routed, 1e-5, 1e-5);
    expectClose(baked, routed, 1e-5, 1e-5);
    tf.dispose([routed, pinned, baked]);
    model.dispose();
  });
});

describe('experts on a model with biases (Qwen2: q, k, v)', () => {
  it('biases stay frozen base parameters; B = 0 keeps the logits; mergeAll and detach keep the biases', () => {
    const model = Transformer.init({ ...tiny, biases: ['q', 'k', 'v'] }, 'bias', { trainable: false });
    for (const s of model.linearSlots()) {
      const bias = s.get().bias;
      if (bias) bias.assign(tf.randomNormal(bias.shape, 0, 0.5, 'float32', s.layer + 1)); // non-zero biases
    }
    const base = model.logits(ids);
    const experts = attachExperts(model);
    const names = [...model.namedVariables().keys()];
    expect(names.filter((n) => n.endsWith('.bias'))).toEqual(
      [0, 1].flatMap((l) => ['q', 'k', 'v'].map((m) => `blocks.${l}.attn.${m}.bias`)),
    );
    expect(
      model.trainableVariables().some((v) => [...experts.layers.values()].some((l) => l.bias === v)),
    ).toBe(false);
    const routed = model.logits(ids, { ctx: withRoute(routeFor('mote', false)) });
    expectClose(routed, base, 1e-6, 1e-6); // B = 0: the bias counted once, as in the base
    mergeAll(model, 'analysis');
    const baked = model.logits(ids);
    expectClose(baked, base, 1e-6, 1e-6);
    expect(model.linearSlots().filter((s) => s.get().bias).length).toBe(6);
    tf.dispose([base, routed, baked]);
    model.dispose();
  });
});

describe('stories260K with experts attached and B = 0', () => {
  it('gives the logits of the plain model, and the same 30 greedy tokens (host and tensor decoders)', async () => {
    const model = await loadLlama2c(STORIES_BIN);
    const tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
    const prompt = tok.encode('Once upon a time', { bos: true });
    const plainLogits = model.logits([prompt]);
    const plain = await generate(model, tok, prompt, { temperature: 0, maxTokens: 30, decoder: 'tensor' });
    const experts = attachExperts(model, { kind: 'mote' });
    const route = buildStepRoute(
      prompt.map((_, i) => (i < 3 ? 'question' : 'answer')),
      [1, prompt.length],
      { experts: experts.config.stepExperts, question: 'analysis' },
    );
    const logits = model.logits([prompt], { ctx: withRoute(route) });
    expectClose(logits, plainLogits, 1e-6, 1e-6);
    const ctx = withRoute(decodeRoute(experts.config.stepExperts, 'answer'));
    for (const decoder of ['tensor', 'host'] as const) {
      const r = await generate(model, tok, prompt, { temperature: 0, maxTokens: 30, decoder }, ctx);
      expect(r.ids).toEqual(plain.ids);
      expect(r.text).toBe(plain.text);
    }
    expect(plain.ids.length).toBe(30);
    tf.dispose([plainLogits, logits]);
    route.dispose();
    detachExperts(model);
    model.dispose();
  });
});
