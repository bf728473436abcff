// LoRA factors (Hu et al. 2021; peft tuners/lora/layer.py `update_layer` / `reset_lora_parameters`):
// A (in, r) Kaiming-uniform, B (r, out) zeros, scaling loraAlpha / r (rsLoRA: loraAlpha / √r), and dropout on
// the adapter input. Several experts are stacked side by side: A (in, E·r), B (E·r, out).
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';

/** loraAlpha / r, or loraAlpha / √r for rank-stabilised LoRA. */
export function loraScaling(loraAlpha: number, rank: number, rsLora: boolean): number {
  return rsLora ? loraAlpha / Math.sqrt(rank) : loraAlpha / rank;
}

/**
 * A (rows, cols) matrix of U(−1/√fanIn, 1/√fanIn) samples: PyTorch `kaiming_uniform_(a=√5)`, the init PEFT gives
 * lora_A (gain √(2/(1+5)) times bound √(3/fanIn)).
 */
export function kaimingUniform(rows: number, cols: number, fanIn: number, seed: string): tf.Tensor2D {
  const rng = seedrandom.alea(seed);
  const bound = 1 / Math.sqrt(fanIn);
  const v = new Float32Array(rows * cols);
  for (let i = 0; i < v.length; i++) v[i] = (2 * rng() - 1) * bound;
  return tf.tensor2d(v, [rows, cols]);
}

/** Stacked factors of `count` experts of rank r: A (in, count·r), B (count·r, out). */
export interface LoraFactors {
  A: tf.Variable;
  B: tf.Variable;
}

/**
 * Fresh trainable factors for `count` experts. A is Kaiming-uniform (fan-in = in); B is zero when `zeroB`
 * (the adapter starts as the identity change), else Kaiming-uniform with fan-in r (PEFT `init_lora_weights=False`).
 */
export function initLoraFactors(
  inFeatures: number,
  outFeatures: number,
  rank: number,
  count: number,
  seed: string,
  zeroB = true,
): LoraFactors {
  const A = kaimingUniform(inFeatures, count * rank, inFeatures, `${seed}:A`); // (in, count·r)
  const B = zeroB
    ? tf.zeros([count * rank, outFeatures])
    : kaimingUniform(count * rank, outFeatures, rank, `${seed}:B`); // (count·r, out)
  const factors = { A: tf.variable(A, true), B: tf.variable(B, true) };
  A.dispose();
  B.dispose();
  return factors;
}

/** Inverted dropout of the adapter input (PEFT applies it to x before lora_A). Identity when rate is 0. */
export function loraDropout(x: tf.Tensor2D, rate: number, seed: number): tf.Tensor2D {
  return rate > 0 ? (tf.dropout(x, rate, undefined, seed) as tf.Tensor2D) : x;
}
