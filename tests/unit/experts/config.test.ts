import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EXPERT_CONFIG,
  EXPERT_PRESETS,
  type ExpertConfig,
  resolveExpertConfig,
  routedExpertNames,
} from '../../../src/experts/index.js';
import { ConfigError } from '../../../src/util/errors.js';

describe('resolveExpertConfig', () => {
  it('defaults to the paper: MoTE, rank 16, α 0.5, three step experts and a shared one, all projections', () => {
    const c = resolveExpertConfig();
    expect(c).toMatchObject({
      kind: 'mote',
      rank: 16,
      loraAlpha: 16,
      alpha: 0.5,
      shared: true,
      stepExperts: ['analysis', 'guidance', 'answer'],
      targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
      kernel: 'auto',
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(resolveExpertConfig(c)).toEqual(c); // resolving a resolved config is the identity
  });

  it('fills defaults that depend on other fields', () => {
    expect(resolveExpertConfig({ rank: 32 }).loraAlpha).toBe(32);
    expect(resolveExpertConfig({ rank: 32, loraAlpha: 8 }).loraAlpha).toBe(8);
    expect(resolveExpertConfig({ shared: false }).alpha).toBe(1);
    expect(resolveExpertConfig({ kind: 'moe-topk' }).shared).toBe(false);
    expect(resolveExpertConfig({ kind: 'moe-topk', shared: true }).alpha).toBe(0.5);
  });

  it('presets give the Table 4 architectures; overrides apply on top', () => {
    expect(resolveExpertConfig({}, 'single-lora')).toMatchObject({ kind: 'lora', rank: 16 });
    expect(resolveExpertConfig({}, 'lora-rank2x')).toMatchObject({ kind: 'lora', rank: 32, loraAlpha: 32 });
    expect(resolveExpertConfig({}, 'moe-topk')).toMatchObject({ kind: 'moe-topk', numExperts: 3, topK: 2 });
    expect(resolveExpertConfig({}, 'mote-no-shared')).toMatchObject({
      kind: 'mote',
      shared: false,
      alpha: 1,
    });
    expect(resolveExpertConfig({ rank: 8 }, 'mote').rank).toBe(8);
    expect(Object.keys(EXPERT_PRESETS)).toHaveLength(5);
    expect(routedExpertNames(resolveExpertConfig({}, 'moe-topk'))).toEqual(['expert0', 'expert1', 'expert2']);
    expect(routedExpertNames(resolveExpertConfig({ stepExperts: ['analysis', 'answer', 'check'] }))).toEqual([
      'analysis',
      'answer',
      'check',
    ]);
  });

  it.each<[Partial<ExpertConfig> | Record<string, unknown>, RegExp]>([
    [{ rnak: 8 }, /rnak = 8; expected a known key/],
    [{ kind: 'mixlora' }, /kind = "mixlora"; expected one of lora, mote, moe-topk/],
    [{ rank: 0 }, /rank = 0; expected a positive integer/],
    [{ rank: -4 }, /rank = -4; expected a positive integer/],
    [{ rank: 2.5 }, /rank = 2.5; expected a positive integer/],
    [{ loraAlpha: 0 }, /loraAlpha = 0; expected a number > 0/],
    [{ alpha: -0.1 }, /alpha = -0.1; expected a number in \[0, 1\]/],
    [{ alpha: 1.01 }, /alpha = 1.01; expected a number in \[0, 1\]/],
    [{ dropout: 1 }, /dropout = 1; expected a number in \[0, 1\)/],
    [{ stepExperts: [] }, /stepExperts = \[\]; expected a non-empty list/],
    [
      { stepExperts: ['analysis', 'critique'] },
      /stepExperts = "critique"; expected one of analysis, guidance/,
    ],
    [{ stepExperts: ['answer', 'answer'] }, /stepExperts = \["answer","answer"\]; expected no repeats/],
    [{ targets: ['q', 'wq'] }, /targets = "wq"; expected one of q, k, v, o, gate, up, down/],
    [{ targets: [] }, /targets = \[\]; expected a non-empty list/],
    [{ kind: 'moe-topk', numExperts: 2, topK: 3 }, /topK = 3; expected an integer in \[1, numExperts = 2\]/],
    [{ kernel: 'fused' }, /kernel = "fused"; expected one of auto, reference, dense, segmented/],
    [{ seed: '' }, /seed = ""; expected a number or a non-empty string/],
  ])('rejects %j', (partial, message) => {
    expect(() => resolveExpertConfig(partial as Partial<ExpertConfig>)).toThrow(ConfigError);
    expect(() => resolveExpertConfig(partial as Partial<ExpertConfig>)).toThrow(message);
  });

  it('rejects an unknown preset', () => {
    expect(() => resolveExpertConfig({}, 'mixlora' as never)).toThrow(/preset = "mixlora"; expected one of/);
  });

  it('the defaults object is frozen', () => {
    expect(Object.isFrozen(DEFAULT_EXPERT_CONFIG)).toBe(true);
  });
});
