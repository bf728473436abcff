// Non-finite numbers (NaN, ±Inf) in weights: found before they are saved or used, and named by file and tensor.
// A NaN in one weight turns every logit into NaN a layer later, so a checkpoint or model holding one is refused
// when it is loaded (unless the caller asks to go on, with a warning) and never written by a checkpoint save.
import * as tf from '@tensorflow/tfjs';

/** Values of `data` that are NaN or ±Inf. */
export function countNonFinite(data: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) n++;
  return n;
}

/** A tensor of a file (or of a model in memory) holds NaN or ±Inf. */
export class NonFiniteTensorError extends Error {
  constructor(
    /** The file the tensor comes from, or a description of where it lives (e.g. "the model's weights"). */
    readonly file: string,
    /** The tensor's name (the first non-finite one). */
    readonly tensor: string,
    /** Its non-finite values, and its size. */
    readonly count: number,
    readonly size: number,
    /** Further tensors holding non-finite values. */
    readonly others: readonly string[] = [],
  ) {
    const more = others.length
      ? `; also ${others.slice(0, 3).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''}`
      : '';
    super(`${file}: tensor ${tensor} holds ${count} non-finite values (NaN or ±Inf) of ${size}${more}`);
    this.name = 'NonFiniteTensorError';
  }
}

/** What to do with non-finite weights at load time. */
export interface NonFiniteOptions {
  /** Load them anyway (outputs will be NaN); `onWarning` is told. Default false: an error naming the tensor. */
  allowNonFinite?: boolean;
  /** Receives the warning when `allowNonFinite` lets non-finite weights through. */
  onWarning?: (message: string) => void;
}

/** The message a caller adds when it lets non-finite weights through. */
const LOADED_ANYWAY = 'loaded anyway (allowNonFinite): outputs computed from them will not be finite';

/**
 * Throws NonFiniteTensorError naming `file` and the first tensor of `tensors` holding NaN or ±Inf, or (with
 * `allowNonFinite`) reports it to `onWarning` and returns. Integer tensors are skipped.
 */
export function checkFiniteHost(
  tensors: Iterable<[string, { data: ArrayLike<number> }]>,
  file: string,
  options: NonFiniteOptions = {},
): void {
  const bad: { name: string; count: number; size: number }[] = [];
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) continue;
    const count = countNonFinite(t.data);
    if (count > 0) bad.push({ name, count, size: t.data.length });
  }
  report(bad, file, options);
}

/** Elements checked at a time: the check's temporaries stay small next to a large embedding table. */
const CHUNK = 1 << 22;

/**
 * The same check on tensors in backend memory (a reduction per chunk of at most CHUNK values, one read per
 * tensor): for model weights that were never on the host as a whole (a loaded base model).
 */
export async function checkFiniteTensors(
  tensors: ReadonlyMap<string, tf.Tensor>,
  file: string,
  options: NonFiniteOptions = {},
): Promise<void> {
  const bad: { name: string; count: number; size: number }[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32') continue;
    const count = await nonFiniteCount(t);
    if (count > 0) bad.push({ name, count, size: t.size });
  }
  report(bad, file, options);
}

/** NaN and ±Inf values of `t`: Σ isNaN(t·0), exact (Inf·0 = NaN) and without overflow, chunk by chunk. */
async function nonFiniteCount(t: tf.Tensor): Promise<number> {
  if (t.size === 0) return 0;
  const sums: tf.Scalar[] = [];
  for (let begin = 0; begin < t.size; begin += CHUNK) {
    const size = Math.min(CHUNK, t.size - begin);
    sums.push(
      tf.tidy('checkFinite', () =>
        tf.sum(tf.cast(tf.isNaN(tf.mul(tf.slice(t.reshape([-1]), [begin], [size]), 0)), 'float32')),
      ),
    );
  }
  const total = tf.tidy(() => (sums.length === 1 ? sums[0].clone() : tf.addN(sums)));
  tf.dispose(sums);
  const [count] = await total.data();
  total.dispose();
  return count;
}

function report(
  bad: { name: string; count: number; size: number }[],
  file: string,
  options: NonFiniteOptions,
): void {
  if (bad.length === 0) return;
  const e = new NonFiniteTensorError(
    file,
    bad[0].name,
    bad[0].count,
    bad[0].size,
    bad.slice(1).map((b) => b.name),
  );
  if (!options.allowNonFinite) throw e;
  options.onWarning?.(`${e.message}; ${LOADED_ANYWAY}`);
}
