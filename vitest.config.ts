import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
    // forks, not threads: native addons (tfjs-node) segfault under worker threads.
    pool: 'forks',
    // one file per core: vitest's default (cores − 1) runs the files one at a time on a 2-core CI machine, where
    // a third of the wall time is per-file start-up (fork, tfjs import, setup) that a second fork overlaps.
    maxWorkers: Math.max(2, availableParallelism()),
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
