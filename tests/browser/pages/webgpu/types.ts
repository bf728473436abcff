// What the webgpu page's checks return, shared with the Node test (no DOM types here).
import type { AdapterInfo } from '../../adapter.js';

/** One tensor computed on webgpu against its reference: max |a − b| / max |b| and that scale. */
export interface Comparison {
  name: string;
  error: number;
  scale: number;
}

/** A check that compares webgpu with the cpu backend in the page. */
export interface BackendComparison {
  comparisons: Comparison[];
  /** Tensors alive after the check minus before it, per backend (0: nothing leaked). */
  leaked: Record<string, number>;
  ms: Record<string, number>;
}

/** The mixing kernels over the case table. */
export interface MixReport {
  /** `case / kernel / tensor` against the reference kernel on cpu, and (`… vs webgpu reference`) on webgpu. */
  comparisons: Comparison[];
  /** Per case: whether the WGSL programs ran when asked for (they do for step routing and a single LoRA). */
  wgslRan: Record<string, boolean>;
  leaked: number;
  ms: number;
}

/** The model check: comparisons plus what the unpatched tfjs Reverse gave. */
export interface ModelReport extends BackendComparison {
  /** What tfjs 4.22's own webgpu Reverse gives for a rank-5 tensor: an error, or its max difference from cpu. */
  originalReverse: { threw?: string; error?: number };
}

/** Two training steps on each backend. */
export interface TrainReport extends BackendComparison {
  losses: Record<string, number[]>;
  /** Whether the segmented kernel ran its WGSL programs during the webgpu steps. */
  wgslRan: boolean;
}

/** Staged generation on webgpu, checked against a cpu forward of the generated sequence. */
export interface StagedReport {
  order: string[];
  /** Generated tokens: stage, the expert the event names, and the id. */
  tokens: { stage: string; expert: string | null; id: number }[];
  /** Per generated token: max allowed cpu logit − cpu logit of the chosen token (0: argmax; ≥ 0 always). */
  gaps: number[];
  /** max |logit change| at the guidance tokens when the cpu forward routes them to the analysis expert instead. */
  wrongExpertDiff: number;
  /** Largest max − min of the cpu logits at a generated token (the argmax check means little on flat logits). */
  spread: number;
  leaked: number;
  ms: number;
}

/** The benchmark: `mote bench`-style records, and the calibration 'auto' uses on this device. */
export interface BenchReport {
  records: object[];
  calibration: object;
  adapter: AdapterInfo;
}
