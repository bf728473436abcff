// Points tfjs-backend-wasm at its three .wasm binaries as Vite emits them (hashed files beside the bundle),
// so a built page is a self-contained static site. The threaded-SIMD binary is used only when the page is
// cross-origin isolated (SharedArrayBuffer needs it); its worker script is inlined by tfjs.
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import plain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

/** Call once before the wasm backend initialises (tf.setBackend('wasm')). */
export function useBundledWasm(): void {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': plain,
    'tfjs-backend-wasm-simd.wasm': simd,
    'tfjs-backend-wasm-threaded-simd.wasm': threadedSimd,
  });
}
