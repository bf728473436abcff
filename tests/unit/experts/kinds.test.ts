// The adapter-kind table: what each kind answers to the trainer, the decoders and the exporters, checked against
// the behaviour it stands for (routing built by hand, merging and sharding rules, parameter counts by hand).
import { describe, expect, it } from 'vitest';
import { resolveExpertConfig } from '../../../src/experts/config.js';
import {
  adapterKind,
  auxLossWeight,
  batchRoute,
  checkStageExperts,
  describeExperts,
  expertParameterCount,
  mergeable,
  shardable,
  stageExpert,
  stageRoute,
} from '../../../src/experts/kinds.js';
import { SHARED_ONLY, STEP_ID } from '../../../src/steps.js';

const mote = resolveExpertConfig({ kind: 'mote' });
const lora = resolveExpertConfig({}, 'single-lora');
const topk = resolveExpertConfig({}, 'moe-topk');

describe('batchRoute', () => {
  const { question: q, analysis: a, guidance: g, answer: r } = STEP_ID;
  const batch = {
    B: 1,
    T: 5,
    stepIds: Int32Array.from([q, q, a, g, r]),
    docIds: Int32Array.from([0, 0, 0, 0, -1]),
  };

  it('routes step tokens to their expert, question tokens to the shared expert at evaluation, padding to shared', () => {
    const route = batchRoute(mote, batch, { seed: 's', training: false })!;
    expect(Array.from(route.stepIds!)).toEqual([SHARED_ONLY, SHARED_ONLY, 0, 1, SHARED_ONLY]);
    route.dispose();
  });

  it('draws one step expert for the question tokens of a chain when training, from the seed', () => {
    const ids = (seed: string) => Array.from(batchRoute(mote, batch, { seed, training: true })!.stepIds!);
    const first = ids('x');
    expect(first[0]).toBe(first[1]);
    expect(first[0]).toBeGreaterThanOrEqual(0);
    expect(first.slice(2)).toEqual([0, 1, SHARED_ONLY]);
    expect(ids('x')).toEqual(first);
  });

  it('takes expert ids already drawn (a shard of a larger route)', () => {
    const route = batchRoute(mote, batch, {
      seed: 's',
      training: true,
      expertIds: Int32Array.from([2, 2, 0, 1, -1]),
    })!;
    expect(Array.from(route.stepIds!)).toEqual([2, 2, 0, 1, -1]);
  });

  it('needs step ids for step routing; a single LoRA needs no route; a learned gate gets an empty one', () => {
    expect(() => batchRoute(mote, { B: 1, T: 5 }, { seed: 's', training: true })).toThrow(
      /mote experts route tokens by their step, but the examples carry no stepIds/,
    );
    expect(batchRoute(lora, { B: 1, T: 5 }, { seed: 's', training: true })).toBeUndefined();
    const learned = batchRoute(topk, { B: 1, T: 5 }, { seed: 's', training: true })!;
    expect([learned.hasSteps, learned.training]).toEqual([false, true]);
    expect(batchRoute(null, batch, { seed: 's', training: true })).toBeUndefined();
  });
});

describe('stageRoute and stageExpert', () => {
  it('puts every token on one stage, or one stage per row; a stage without its own expert uses the shared one', () => {
    const one = stageRoute(mote, ['guidance'], true)!;
    expect([one.uniform, one.merged]).toEqual([1, true]);
    const rows = stageRoute(mote, ['answer', 'check', 'shared'], false)!;
    expect(Array.from(rows.stepIds!)).toEqual([2, SHARED_ONLY, SHARED_ONLY]);
    expect(stageExpert(mote, 'check')).toBe('shared');
    expect(stageExpert(mote, 'analysis')).toBe('analysis');
    expect(stageExpert(lora, 'analysis')).toBeNull();
    expect(stageRoute(lora, ['analysis'], true)).toBeUndefined();
    expect(stageRoute(topk, ['analysis'], true)!.hasSteps).toBe(false);
  });

  it('refuses a forced chain whose stage has no step expert', () => {
    expect(() => checkStageExperts(mote, ['analysis', 'check', 'answer'], 'f')).toThrow(
      "f: stage 'check' has no expert (step experts: analysis, guidance, answer)",
    );
    expect(() => checkStageExperts(lora, ['analysis', 'check', 'answer'], 'f')).not.toThrow();
  });
});

describe('kind rules', () => {
  it('merging, sharding and the auxiliary loss follow the kind', () => {
    expect([mergeable(mote), mergeable(lora), mergeable(topk), mergeable(null)]).toEqual([
      true,
      true,
      false,
      true,
    ]);
    expect([shardable(mote), shardable(lora), shardable(topk), shardable(null)]).toEqual([
      true,
      true,
      false,
      true,
    ]);
    expect([auxLossWeight(mote), auxLossWeight(lora), auxLossWeight(topk)]).toEqual([
      0,
      0,
      topk.balanceLossWeight,
    ]);
    expect([adapterKind(mote).peft, adapterKind(lora).peft, adapterKind(topk).peft]).toEqual([
      'per-expert',
      'single',
      null,
    ]);
    expect(describeExperts(mote)).toBe('mote: analysis, guidance, answer + shared, rank 16');
    expect(describeExperts(null)).toBe('no experts');
  });

  it('counts adapter and gate parameters by hand', () => {
    const perExpert = 16 * (64 + 172);
    expect(expertParameterCount(mote, 64, 172)).toBe(4 * perExpert); // 3 step experts + shared
    expect(expertParameterCount(lora, 64, 172)).toBe(perExpert);
    expect(expertParameterCount(topk, 64, 172)).toBe(3 * perExpert + 64 * 3); // no shared, gate (64, 3)
  });
});
