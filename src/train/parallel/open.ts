// The Node entry's gradient path (train's `options.gradients`, trainer-node.ts): with workers > 1, each step's
// micro-batch gradients are computed by replicas in worker threads (pool.ts); 'auto' weighs the run (auto.ts).
import { check } from '../../util/errors.js';
import {
  type GradientPathRequest,
  localGradients,
  type OpenedGradientPath,
  poolGradients,
} from '../gradients.js';
import { resolveWorkers } from './auto.js';
import { GradientPool } from './pool.js';

/**
 * A pool of `workers` threads (or the one given in `parallel.pool`, left running when the run ends), or this
 * process when the run resolves to one worker. A pool started here is stopped when the path is disposed.
 */
export async function openWorkerGradients(request: GradientPathRequest): Promise<OpenedGradientPath> {
  const { model, settings, parallel } = request;
  const given = parallel?.pool;
  if (given) {
    check(
      request.workers === 'auto' || request.workers === given.size,
      'workers',
      request.workers,
      `'auto' or ${given.size}, the size of the pool given in options.parallel.pool`,
    );
    await given.checkModel(model, settings.auxWeight);
  }
  const workers = given
    ? { workers: given.size, reason: 'the pool given in options.parallel.pool' }
    : resolveWorkers(request.workers, request.workload);
  const owned =
    !given && workers.workers > 1
      ? await GradientPool.forModel(model, {
          workers: workers.workers,
          balanceWeight: settings.auxWeight,
          timeoutMs: parallel?.timeoutMs,
        })
      : null;
  const pool = given ?? owned;
  if (pool) parallel?.onStart?.(pool);
  return {
    path: pool ? poolGradients(pool, settings) : localGradients(model, settings),
    ...workers,
    [Symbol.asyncDispose]: async () => {
      await owned?.[Symbol.asyncDispose]();
    },
  };
}
