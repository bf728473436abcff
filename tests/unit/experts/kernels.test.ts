// Every mixing kernel equals the reference loop, forward and gradients (x, adapter input, A, B, gate), on random
// non-zero factors, on wasm and cpu, over a table of routing cases (mix-cases.ts; the browser page runs the same
// table on webgpu).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { AUTO_KERNEL, MIX_KERNELS, mixKernel } from '../../../src/experts/index.js';
import { onBackend } from '../../helpers/index.js';
import { gateHasNoGradient, MIX_CASES, relativeError, setupMixCase } from './mix-cases.js';

/** max |a − b| ≤ tol · max |b| (relative to the reference's scale), element-wise over the whole tensor. */
function expectRelClose(a: tf.Tensor, b: tf.Tensor, what: string, tol = 1e-5): void {
  expect(a.shape, what).toEqual(b.shape);
  const { error, scale } = relativeError(a.dataSync(), b.dataSync());
  expect(scale, `${what}: reference is all zero`).toBeGreaterThan(0);
  expect(error, `${what}: max diff ${error * scale} vs scale ${scale}`).toBeLessThanOrEqual(tol);
}

describe('kernel choice', () => {
  it("'auto' picks the measured kernel for step routing and dense for a learned gate", () => {
    expect(mixKernel('auto').name).toBe(AUTO_KERNEL[tf.getBackend()]);
    expect(mixKernel('auto', 'topk').name).toBe('dense');
    expect(mixKernel('reference', 'topk').name).toBe('reference');
  });
});

describe.each(['wasm', 'cpu'])('mixing kernels on %s', (backend) => {
  describe.each(MIX_CASES)('$name', (c) => {
    it.each(MIX_KERNELS.filter((k) => k !== 'reference'))(
      '%s equals reference (forward and gradients)',
      async (kernel) => {
        await onBackend(backend, () => {
          const s = setupMixCase(c);
          try {
            const yRef = s.forward('reference');
            const y = s.forward(kernel);
            expectRelClose(y, yRef, 'forward');
            tf.dispose([y, yRef]);
            const ref = s.run('reference');
            const got = s.run(kernel);
            for (const [name, g] of Object.entries(ref.grads)) {
              const what = `d${s.names.get(name)}`;
              if (what === 'dgate' && gateHasNoGradient(c)) {
                // one expert per token: its renormalised weight is exactly 1, so the gate gets no task gradient
                for (const t of [g, got.grads[name]])
                  expect(tf.max(tf.abs(t)).dataSync()[0]).toBeLessThan(1e-5);
              } else expectRelClose(got.grads[name], g, what);
            }
            tf.dispose([ref.value, got.value, ...Object.values(ref.grads), ...Object.values(got.grads)]);
          } finally {
            s.dispose();
          }
        });
      },
    );
  });
});
