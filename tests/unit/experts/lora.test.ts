// LoRA initialisation (src/experts/lora.ts): Kaiming-uniform A, zero B, the scaling.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initLoraFactors, kaimingUniform, loraScaling } from '../../../src/experts/lora.js';

describe('LoRA factors', () => {
  it('A is Kaiming-uniform within ±1/√in and seeded; B is zero unless asked; scaling α/r or α/√r', () => {
    const f = initLoraFactors(64, 10, 4, 3, 's');
    expect(f.A.shape).toEqual([64, 12]);
    expect(f.B.shape).toEqual([12, 10]);
    expect(f.A.trainable && f.B.trainable).toBe(true);
    const a = f.A.dataSync();
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.1);
    expect(f.B.dataSync().every((v) => v === 0)).toBe(true);
    const again = kaimingUniform(64, 12, 64, 's:A');
    expect(Array.from(again.dataSync())).toEqual(Array.from(a));
    const random = initLoraFactors(64, 10, 4, 1, 's', false);
    expect(random.B.dataSync().some((v) => v !== 0)).toBe(true);
    expect(loraScaling(16, 16, false)).toBe(1);
    expect(loraScaling(16, 4, true)).toBe(8);
    tf.dispose([f.A, f.B, again, random.A, random.B]);
  });
});
