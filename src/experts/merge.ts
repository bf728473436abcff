// Model-level merging. For decoding, `mergeExperts(model, step)` pins every layer to its cached merged weight
// W_s = W0 + scale·(α·B_s·A_s + (1−α)·B_sh·A_sh), so a decode step costs what the base model costs; per-forward
// merging is also available without state through `decodeRoute(…, { merged: true })` (routing.ts).
// `mergeAll(model, step)` bakes one step into plain Linears for export (PEFT merge_and_unload).
import * as tf from '@tensorflow/tfjs';
import { Linear } from '../model/linear.js';
import type { ExpertName } from '../steps.js';
import { type AttachedExperts, detachExperts, type ExpertHost, requireExperts } from './attach.js';

/** Pins every attached layer to `step`'s merged weight (null for a single LoRA). Inference only. */
export function mergeExperts(model: ExpertHost, step: ExpertName | null = null): void {
  for (const l of requireExperts(model, 'mergeExperts').layers.values()) l.merge(step);
}

/** Returns every attached layer to per-token routing. */
export function unmergeExperts(model: ExpertHost): void {
  for (const l of requireExperts(model, 'unmergeExperts').layers.values()) l.unmerge();
}

/**
 * Replaces every attached layer by a plain frozen Linear holding `step`'s merged weight and removes the experts:
 * the model becomes a base-only model that computes what the experts computed for `step` (each baked weight
 * keeps the trainability its base had before the experts were attached).
 */
export function mergeAll(model: ExpertHost, step: ExpertName | null = null): void {
  const experts: AttachedExperts = requireExperts(model, 'mergeAll');
  const merged = new Map<string, tf.Tensor2D>();
  for (const [path, l] of experts.layers)
    merged.set(
      path,
      tf.tidy(() => tf.clone(l.mergedWeight(step))),
    );
  detachExperts(model); // original Linears back, adapters freed
  for (const s of model.linearSlots()) {
    const w = merged.get(s.path);
    if (!w) continue;
    const old = s.get() as Linear;
    s.set(new Linear(tf.variable(w, old.weight.trainable), old.name, old.bias)); // the bias moves over as it is
    old.weight.dispose();
    w.dispose();
  }
}
