// `npm run bench:peer [-- --backend wasm|cpu|tensorflow|tensorflow-gpu|auto] [--threads 1] [--steps 3]
// [--warmup 1] [--mix auto|gather|dense] [--allow-cpu-fallback] [--one-core]`: see peer.ts. One JSON line per record.
// `npm run bench:peer -- --scale [--cases smollm2-135m:256,…] [--steps 2] [--workers 1,2]`: the real-size cases
// beside PyTorch.
import { parseArgs } from 'node:util';
import { BENCH_BACKENDS, type BenchBackend } from '../../src/bench/backend.js';
import { SCALE_SHAPES, type ScaleShape } from '../../src/bench/scale-shapes.js';
import { runPeerBench, runScalePeerBench } from './peer.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
    steps: { type: 'string', default: '3' },
    mix: { type: 'string', default: 'auto' },
    'allow-cpu-fallback': { type: 'boolean', default: false },
    'one-core': { type: 'boolean', default: false },
    // real model sizes (src/bench/scale.ts) beside PyTorch: e.g. --scale --cases smollm2-135m:256,qwen2.5-0.5b:256
    scale: { type: 'boolean', default: false },
    cases: { type: 'string' },
    workers: { type: 'string', default: '1' },
  },
});
if (values.scale) {
  const known = Object.keys(SCALE_SHAPES);
  const cases = values.cases?.split(',').map((c) => {
    const [shape, seq] = c.split(':');
    if (!known.includes(shape) || !(Number(seq) > 0)) {
      process.stderr.write(
        `bench:peer: --cases wants shape:seq pairs, shape one of ${known.join(', ')}; got ${c}\n`,
      );
      process.exit(1);
    }
    return { shape: shape as ScaleShape, seq: Number(seq) };
  });
  const workers = values.workers.split(',').map(Number);
  if (!workers.every((w) => Number.isInteger(w) && w > 0)) {
    process.stderr.write(`bench:peer: --workers wants positive integers, e.g. 1,2; got ${values.workers}\n`);
    process.exit(1);
  }
  await runScalePeerBench({
    cases,
    threads: Number(values.threads),
    workers,
    warmup: Number(values.warmup),
    steps: Number(values.steps),
  });
  process.exit(0);
}
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
