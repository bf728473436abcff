// Runs before every test file. selectBackend registers the library's kernels and gradients (registerKernels) for
// every backend; tests run on wasm (the fast CPU backend) and use the cpu backend as the numeric reference where
// they say so.
import { selectBackend } from '../src/backend/select-node.js';

await selectBackend({ backend: 'wasm' });
