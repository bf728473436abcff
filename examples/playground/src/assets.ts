// The files the playground ships with, as URLs of the built site (Vite emits each beside the bundle): the bundled
// stories260K model and its tokenizer, the sample chains, and tfjs's three .wasm binaries.
import plainWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedWasm from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import model from '../../../models/stories260K/stories260K.bin?url';
import tokenizer from '../../../models/stories260K/tok512.bin?url';
import chains from '../../data/chains.jsonl?url';

/** URLs resolved against the importing script (a worker's URL differs from the page's). */
const absolute = (url: string) => new URL(url, import.meta.url).href;

export const BUNDLED = {
  model: absolute(model),
  tokenizer: absolute(tokenizer),
  chains: absolute(chains),
  name: 'stories260K',
};

export const WASM_PATHS = {
  'tfjs-backend-wasm.wasm': absolute(plainWasm),
  'tfjs-backend-wasm-simd.wasm': absolute(simdWasm),
  'tfjs-backend-wasm-threaded-simd.wasm': absolute(threadedWasm),
};
