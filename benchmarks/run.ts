// `npm run bench`: every benchmark, one JSON line per result, each with its backend.
// Usage: npm run bench [-- --backend wasm|cpu|tensorflow|auto] [-- --only decode,matmul,experts]
import { parseArgs } from 'node:util';
import { type BackendRequest, selectBackend } from '../src/backend/index.js';

const { values } = parseArgs({
  options: { backend: { type: 'string', default: 'wasm' }, only: { type: 'string' } },
});
const only = values.only?.split(',');
const suites: [string, () => Promise<object[]>][] = [
  ['matmul', async () => (await import('./matmul.js')).benchMatmul()],
  ['decode', async () => (await import('./decode.js')).benchDecode()],
  ['experts', async () => (await import('./experts.js')).benchExperts()],
  ['train', async () => (await import('./train.js')).benchTrain()],
  ['efficiency', async () => (await import('./efficiency.js')).benchEfficiency()],
  ['parallel', async () => (await import('./parallel.js')).benchParallel()],
];

const choice = await selectBackend({ backend: values.backend as BackendRequest });
for (const [name, run] of suites) {
  if (only && !only.includes(name)) continue;
  try {
    for (const r of await run()) console.log(JSON.stringify(r));
  } catch (e) {
    console.log(JSON.stringify({ bench: name, backend: choice.name, error: (e as Error).message }));
  }
}
