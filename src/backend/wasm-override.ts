// Replacing a kernel that tfjs-backend-wasm registered on import (its package registers kernels once, so a
// replacement can only be installed afterwards, and must keep the original for the cases it does not handle).
import * as tf from '@tensorflow/tfjs';

/**
 * Puts `kernelFunc` in place of the wasm kernel `kernelName` (keeping its setupFunc) and hands the replaced kernel
 * to `keep`, the replacement's fallback. Idempotent. Returns false when wasm has no such kernel (not loaded yet).
 */
export function overrideWasmKernel(
  kernelName: string,
  kernelFunc: tf.KernelFunc,
  keep: (original: tf.KernelConfig) => void,
): boolean {
  const current = tf.getKernel(kernelName, 'wasm');
  if (!current) return false;
  if (current.kernelFunc === kernelFunc) return true;
  keep(current);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: current.setupFunc });
  return true;
}
