// RoPE frequencies with scaling against values worked out by hand from transformers' formulas
// (modeling_rope_utils.py), and the rotation tables built from them.
import { describe, expect, it } from 'vitest';
import { headSize, type RopeScaling, resolveModelConfig } from '../../../src/model/config.js';
import { Rope, ropeInverseFrequencies } from '../../../src/model/rope.js';

/** |a − e| ≤ rtol·|e| (float32 results against float64 hand values). */
function expectRel(a: number, e: number, rtol = 2e-6): void {
  expect(Math.abs(a - e), `${a} vs ${e}`).toBeLessThanOrEqual(rtol * Math.abs(e));
}

/** Llama-3.2-1B's config.json: head_dim 64, rope_theta 500000, llama3 factor 32, low 1, high 4, original 8192. */
const LLAMA32: RopeScaling = {
  type: 'llama3',
  factor: 32,
  lowFreqFactor: 1,
  highFreqFactor: 4,
  originalMaxPositions: 8192,
};

describe('ropeInverseFrequencies', () => {
  it('plain: ω_i = θ^(−2i/hs)', () => {
    // hs 8, θ 10000: 1, 10000^(−1/4) = 0.1, 0.01, 0.001
    const w = ropeInverseFrequencies(8, 10000);
    for (const [i, e] of [1, 0.1, 0.01, 0.001].entries()) expectRel(w[i], e);
  });

  it('linear: every ω_i divided by the factor', () => {
    const w = ropeInverseFrequencies(8, 10000, { type: 'linear', factor: 4 });
    for (const [i, e] of [0.25, 0.025, 0.0025, 0.00025].entries()) expectRel(w[i], e);
  });

  it('llama3 at the Llama-3.2 values: kept, blended, divided', () => {
    // By hand, with ω_i = 500000^(−i/32), λ_i = 2π/ω_i, L = 8192, L/high = 2048, L/low = 8192:
    //  i = 0:  ω 1, λ 6.28 < 2048: kept → 1
    //  i = 14: ω 500000^(−7/16) = 0.0032114460, λ 1956.5 < 2048: kept
    //  i = 16: ω 500000^(−1/2) = 1/√500000 = 0.0014142136, λ = 2π·√500000 = 4442.88 (between 2048 and 8192):
    //          s = (8192/4442.88 − 1)/(4 − 1) = 0.2812831, ω′ = (1 − s)·ω/32 + s·ω = 0.00042955680
    //  i = 15: ω 0.0021311195, λ 2948.30: s = (8192/2948.30 − 1)/3 = 0.5928489, ω′ = 0.0012905479
    //  i = 17: ω 0.00093847387, λ 6695.11: s = 0.0745269, ω′ = 0.000097082878
    //  i = 18: ω 0.00062277242, λ 10089.06 > 8192: ω/32 = 0.000019461638
    //  i = 31: ω 500000^(−31/32) = 3.0138582e−6, λ > 8192: ω/32 = 9.4183067e−8
    const w = ropeInverseFrequencies(64, 500000, LLAMA32);
    expect(w.length).toBe(32);
    const byHand: [number, number][] = [
      [0, 1],
      [14, 0.003211445994752591],
      [15, 0.001290547928209264],
      [16, 0.00042955679655936815],
      [17, 9.70828780262767e-5],
      [18, 1.9461638184831125e-5],
      [31, 9.41830672543491e-8],
    ];
    for (const [i, e] of byHand) expectRel(w[i], e);
    // the blended band lies between ω/32 and ω
    const plain = ropeInverseFrequencies(64, 500000);
    for (const i of [15, 16, 17]) {
      expect(w[i]).toBeGreaterThan(plain[i] / 32);
      expect(w[i]).toBeLessThan(plain[i]);
    }
  });

  it('Rope tables rotate by pos·ω′ of the scaled frequencies', () => {
    const rope = new Rope(64, 8, 500000, LLAMA32);
    const cos = rope.cos2.dataSync();
    const sin = rope.sin2.dataSync();
    // pos 7, pair 16 → dims 32, 33 of the row: cos/sin of 7·0.00042955679655936815
    const a = 7 * 0.00042955679655936815;
    expectRel(cos[7 * 64 + 32], Math.cos(a), 1e-7);
    expectRel(cos[7 * 64 + 33], Math.cos(a), 1e-7);
    expectRel(sin[7 * 64 + 33], Math.sin(a), 2e-6);
    expectRel(sin[7 * 64 + 32], -Math.sin(a), 2e-6);
    rope.dispose();
  });
});

describe('resolveModelConfig: the Hugging Face additions', () => {
  it('headDim: null means dim / numHeads, also in a config copied with another shape', () => {
    expect(headSize(resolveModelConfig({}))).toBe(8);
    const c = resolveModelConfig({ dim: 24, numHeads: 4, numKvHeads: 2, headDim: 8 });
    expect([c.headDim, headSize(c)]).toEqual([8, 8]);
    // a head size equal to dim / numHeads is stored as null, so a copy with other heads stays consistent
    const stated = resolveModelConfig({ dim: 64, numHeads: 8, headDim: 8 });
    expect(stated.headDim).toBeNull();
    expect(headSize(resolveModelConfig({ ...stated, numHeads: 4, numKvHeads: 2 }))).toBe(16);
    // with head_dim given, dim need not split into heads (Mistral-Nemo: 5120 / 32 heads of 128)
    expect(headSize(resolveModelConfig({ dim: 20, numHeads: 3, numKvHeads: 1, headDim: 4 }))).toBe(4);
  });

  it('biases come back in canonical order; special ids default to none', () => {
    const c = resolveModelConfig({ biases: ['v', 'q', 'k'] });
    expect(c.biases).toEqual(['q', 'k', 'v']);
    expect([c.bosTokenId, c.eosTokenIds, c.padTokenId, c.ropeScaling]).toEqual([null, [], null, null]);
  });

  it.each([
    [
      { headDim: 7 },
      /headDim = 7; expected a positive even integer \(RoPE rotates pairs\), or null for dim \/ numHeads/,
    ],
    [
      { biases: ['q', 'x'] },
      /biases = \["q","x"\]; expected a list of distinct projections among q, k, v, o/,
    ],
    [{ biases: ['q', 'q'] }, /biases = \["q","q"\]/],
    [
      { eosTokenIds: [2, 512] },
      /eosTokenIds = \[2,512\]; expected a list of integer ids in \[0, vocabSize = 512\)/,
    ],
    [{ bosTokenId: -1 }, /bosTokenId = -1; expected an integer id in \[0, vocabSize = 512\), or null/],
    [
      { ropeScaling: { type: 'yarn', factor: 2 } },
      /ropeScaling\.type = "yarn"; expected 'linear' or 'llama3'/,
    ],
    [{ ropeScaling: { type: 'linear', factor: 0.5 } }, /ropeScaling\.factor = 0\.5; expected a number ≥ 1/],
    [
      { ropeScaling: { ...LLAMA32, highFreqFactor: 1 } },
      /ropeScaling\.highFreqFactor = 1; expected a number > lowFreqFactor \(1\)/,
    ],
  ])('rejects %j', (partial, message) => {
    expect(() => resolveModelConfig(partial as never)).toThrow(message);
  });
});
