// Seeded weight initialisation, in one place (nanoGPT `_init_weights`): normal(0, 0.02) for matrices,
// the residual output projections (o, down) scaled by 1/√(2·layers) as GPT-2 does, ones for norms, zero biases.
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { headSize, type ModelConfig } from './config.js';

/** A seeded source of normal samples (Box–Muller over seedrandom's alea). */
export function normalSampler(seed: string | number): (std: number) => number {
  const rng = seedrandom.alea(String(seed));
  let spare: number | null = null;
  return (std: number) => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s * std;
    }
    const u = Math.max(rng(), 1e-300);
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * rng();
    spare = r * Math.sin(t);
    return r * Math.cos(t) * std;
  };
}

/** A (rows, cols) matrix of normal(0, std) samples. */
export function normalMatrix(
  rows: number,
  cols: number,
  std: number,
  sample: (std: number) => number,
): tf.Tensor2D {
  const v = new Float32Array(rows * cols);
  for (let i = 0; i < v.length; i++) v[i] = sample(std);
  return tf.tensor2d(v, [rows, cols]);
}

/** Named initial weights for a fresh model, in the layout `Transformer.fromWeights` takes. */
export function initWeights(config: ModelConfig, seed: string | number): Map<string, tf.Tensor> {
  const sample = normalSampler(seed);
  const { dim, hiddenDim, numLayers, numHeads, numKvHeads, vocabSize } = config;
  const qDim = headSize(config) * numHeads;
  const kvDim = headSize(config) * numKvHeads;
  const std = 0.02;
  const residualStd = std / Math.sqrt(2 * numLayers);
  const w = new Map<string, tf.Tensor>();
  w.set('embedding', normalMatrix(vocabSize, dim, std, sample));
  for (let l = 0; l < numLayers; l++) {
    const p = `blocks.${l}`;
    w.set(`${p}.attnNorm.weight`, tf.ones([dim]));
    w.set(`${p}.attn.q.weight`, normalMatrix(dim, qDim, std, sample));
    w.set(`${p}.attn.k.weight`, normalMatrix(dim, kvDim, std, sample));
    w.set(`${p}.attn.v.weight`, normalMatrix(dim, kvDim, std, sample));
    w.set(`${p}.attn.o.weight`, normalMatrix(qDim, dim, residualStd, sample));
    w.set(`${p}.mlpNorm.weight`, tf.ones([dim]));
    w.set(`${p}.mlp.gate.weight`, normalMatrix(dim, hiddenDim, std, sample));
    w.set(`${p}.mlp.up.weight`, normalMatrix(dim, hiddenDim, std, sample));
    w.set(`${p}.mlp.down.weight`, normalMatrix(hiddenDim, dim, residualStd, sample));
  }
  for (let l = 0; l < numLayers; l++)
    for (const m of config.biases) {
      const part = m === 'gate' || m === 'up' || m === 'down' ? 'mlp' : 'attn';
      const out =
        m === 'q' ? qDim : m === 'k' || m === 'v' ? kvDim : m === 'gate' || m === 'up' ? hiddenDim : dim;
      w.set(`blocks.${l}.${part}.${m}.bias`, tf.zeros([out])); // zeros, as transformers' _init_weights sets them
    }
  w.set('finalNorm.weight', tf.ones([dim]));
  if (!config.tiedEmbeddings) w.set('head.weight', normalMatrix(dim, vocabSize, std, sample));
  return w;
}
