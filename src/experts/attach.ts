// Attach experts to a Transformer by replacing target Linears with MoteLinears (peft tuners/*/model.py
// `_create_and_replace`): the base is frozen, so `model.trainableVariables()` returns only the adapters, the
// routers and any added token rows. `detachExperts` restores the model exactly as it was.
import type * as tf from '@tensorflow/tfjs';
import { Linear, type LinearLike } from '../model/linear.js';
import type { MixKernelName } from './config.js';
import { type ExpertConfig, type ExpertPreset, resolveExpertConfig } from './config.js';
import { expertParameterCount } from './kinds.js';
import { MoteLinear } from './mote-linear.js';

/** Anything with the Transformer's slot API (the model, or a test double). */
export interface ExpertHost {
  linearSlots(): {
    readonly path: string;
    readonly module: string;
    get(): LinearLike;
    set(l: LinearLike): void;
  }[];
  namedVariables(): Map<string, tf.Variable>;
  setBaseTrainable(trainable: boolean): void;
}

export interface AttachedExperts {
  readonly config: Readonly<ExpertConfig>;
  /** The wrapped projections by dotted path, in model order. */
  readonly layers: ReadonlyMap<string, MoteLinear>;
  /** Trainable adapter and router parameters added by the attachment. */
  readonly parameterCount: number;
}

interface Attachment {
  experts: AttachedExperts;
  originals: Map<string, LinearLike>;
  trainable: Map<tf.Variable, boolean>;
}

const attachments = new WeakMap<ExpertHost, Attachment>();

/**
 * Wraps every target projection of `model` with a MoteLinear built from `config` (resolved and validated here)
 * and freezes the base. Throws if experts are already attached.
 */
export function attachExperts(
  model: ExpertHost,
  config: Partial<ExpertConfig> = {},
  preset?: ExpertPreset,
): AttachedExperts {
  const present = attachments.get(model);
  if (present || model.linearSlots().some((s) => s.get() instanceof MoteLinear))
    throw new Error(
      `attachExperts: experts are already attached (kind '${present?.experts.config.kind ?? 'unknown'}'); call detachExperts(model) first`,
    );
  const c = resolveExpertConfig(config, preset);
  const trainable = new Map([...model.namedVariables().values()].map((v) => [v, v.trainable]));
  const slots = model.linearSlots().filter((s) => (c.targets as string[]).includes(s.module));
  for (const s of slots) {
    const l = s.get();
    if (!(l instanceof Linear))
      throw new Error(`attachExperts: ${s.path} holds a ${l.constructor.name}, expected a plain Linear`);
  }
  model.setBaseTrainable(false);
  const originals = new Map<string, LinearLike>();
  const layers = new Map<string, MoteLinear>();
  let parameterCount = 0;
  for (const s of slots) {
    const base = s.get() as Linear;
    const layer = new MoteLinear(base, c, s.path);
    originals.set(s.path, base);
    layers.set(s.path, layer);
    parameterCount += expertParameterCount(c, layer.inFeatures, layer.outFeatures);
    s.set(layer);
  }
  const experts: AttachedExperts = { config: c, layers, parameterCount };
  attachments.set(model, { experts, originals, trainable });
  return experts;
}

/** Removes the experts (freeing their variables) and restores the original projections and trainability. */
export function detachExperts(model: ExpertHost): void {
  const a = attachments.get(model);
  if (!a) throw new Error('detachExperts: no experts are attached to this model');
  for (const s of model.linearSlots()) {
    const original = a.originals.get(s.path);
    const layer = a.experts.layers.get(s.path);
    if (!original || !layer) continue;
    s.set(original);
    layer.disposeAdapters();
  }
  for (const [v, t] of a.trainable) if (!v.isDisposed) v.trainable = t;
  attachments.delete(model);
}

/** The experts attached to `model`, or null. */
export function getExperts(model: ExpertHost): AttachedExperts | null {
  return attachments.get(model)?.experts ?? null;
}

/** Sets the mixing kernel of every attached layer (benchmarks, or a backend switch). */
export function setMixKernel(model: ExpertHost, kernel: MixKernelName | 'auto'): void {
  for (const l of requireExperts(model, 'setMixKernel').layers.values()) l.kernel = kernel;
}

export function requireExperts(model: ExpertHost, caller: string): AttachedExperts {
  const e = getExperts(model);
  if (!e) throw new Error(`${caller}: no experts are attached to this model (call attachExperts first)`);
  return e;
}
