// `npm run bench:peer [-- --backend wasm|cpu|tensorflow|tensorflow-gpu|auto] [--threads 1] [--steps 3]
// [--warmup 1] [--mix auto|gather|dense] [--allow-cpu-fallback] [--one-core]`: see peer.ts. One JSON line per record.
import { parseArgs } from 'node:util';
import { BENCH_BACKENDS, type BenchBackend } from '../../src/bench/backend.js';
import { runPeerBench } from './peer.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
    steps: { type: 'string', default: '3' },
    mix: { type: 'string', default: 'auto' },
    'allow-cpu-fallback': { type: 'boolean', default: false },
    'one-core': { type: 'boolean', default: false },
  },
});
if (!(BENCH_BACKENDS as readonly string[]).includes(values.backend)) {
  process.stderr.write(`bench:peer: --backend must be one of ${BENCH_BACKENDS.join(', ')}\n`);
  process.exit(1);
}
await runPeerBench({
  backend: values.backend as BenchBackend,
  allowCpuFallback: values['allow-cpu-fallback'],
  threads: Number(values.threads),
  warmup: Number(values.warmup),
  steps: Number(values.steps),
  peerArgs: { mix: values.mix },
  wide: !values['one-core'],
});
