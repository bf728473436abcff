// Replacing a kernel that a backend package (tfjs-backend-wasm, tfjs-backend-webgpu) registered on import (it
// registers its kernels once, so a replacement can only be installed afterwards, and must keep the original for the
// cases it does not handle).
import * as tf from '@tensorflow/tfjs';
import type { KernelOverride } from './types.js';

/**
 * Puts `o.kernelFunc` in place of the kernel `o.kernelName` of `backendName` (keeping its setupFunc) and hands the
 * replaced kernel to `o.keep`, the replacement's fallback. Idempotent: 'present' when it is already in place;
 * 'absent' when the backend has no such kernel (its package is not loaded yet).
 */
export function overrideKernel(
  backendName: 'wasm' | 'webgpu',
  o: KernelOverride,
): 'installed' | 'present' | 'absent' {
  const current = tf.getKernel(o.kernelName, backendName);
  if (!current) return 'absent';
  if (current.kernelFunc === o.kernelFunc) return 'present';
  o.keep(current);
  tf.unregisterKernel(o.kernelName, backendName);
  tf.registerKernel({
    kernelName: o.kernelName,
    backendName,
    kernelFunc: o.kernelFunc,
    setupFunc: current.setupFunc,
  });
  return 'installed';
}
