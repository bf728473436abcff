// Runs before every test file: the library's backend shims are installed on import; tests run on wasm
// (the fast CPU backend) and use the cpu backend as the numeric reference where they say so.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

await tf.setBackend('wasm');
await tf.ready();
