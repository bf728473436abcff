// `npm run bench`: every benchmark, one JSON line per result, each with its backend. The suites live in src/bench/.
// Usage: npm run bench [-- --backend wasm|cpu|tensorflow|auto] [-- --only decode,matmul,experts]
import { parseArgs } from 'node:util';
import { type BackendRequest, selectBackend } from '../src/backend/index.js';
import { runSuites } from '../src/bench/index.js';

const { values } = parseArgs({
  options: { backend: { type: 'string', default: 'wasm' }, only: { type: 'string' } },
});
const choice = await selectBackend({ backend: values.backend as BackendRequest });
await runSuites((r) => console.log(JSON.stringify(r)), {
  only: values.only?.split(','),
  backend: choice.name,
});
