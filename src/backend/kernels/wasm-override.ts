// Replacing a kernel that tfjs-backend-wasm registered on import (its package registers kernels once, so a
// replacement can only be installed afterwards, and must keep the original for the cases it does not handle).
import * as tf from '@tensorflow/tfjs';
import type { WasmOverride } from './types.js';

/**
 * Puts `o.kernelFunc` in place of the wasm kernel `o.kernelName` (keeping its setupFunc) and hands the replaced
 * kernel to `o.keep`, the replacement's fallback. Idempotent: 'present' when it is already in place; 'absent' when
 * wasm has no such kernel (the wasm package is not loaded yet).
 */
export function overrideWasmKernel(o: WasmOverride): 'installed' | 'present' | 'absent' {
  const current = tf.getKernel(o.kernelName, 'wasm');
  if (!current) return 'absent';
  if (current.kernelFunc === o.kernelFunc) return 'present';
  o.keep(current);
  tf.unregisterKernel(o.kernelName, 'wasm');
  tf.registerKernel({
    kernelName: o.kernelName,
    backendName: 'wasm',
    kernelFunc: o.kernelFunc,
    setupFunc: current.setupFunc,
  });
  return 'installed';
}
