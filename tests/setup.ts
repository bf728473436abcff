// Runs before every test file. Importing the backend layer installs the tfjs shims (wasm UnsortedSegmentSum,
// BatchMatMul gradient); tests run on wasm (the fast CPU backend) and use the cpu backend as the numeric
// reference where they say so.
import { selectBackend } from '../src/backend/index.js';

await selectBackend({ backend: 'wasm' });
