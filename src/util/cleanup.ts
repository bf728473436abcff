// Clean-up that never hides why something failed. After a failure the clean-up may fail too, for the same reason:
// once the wasm backend aborts (its heap exhausted), disposing a tensor throws "memory access out of bounds". A
// plain `finally { model.dispose() }` (or `using`, which throws a SuppressedError) would then report that second
// error and lose the first, the one that says what happened and what to change.

/**
 * Runs `body`, then `cleanup`. When `body` throws, its error is the one thrown; a failing `cleanup` is recorded on
 * it as `cleanupError` (not thrown). When `body` succeeds, a failing `cleanup` throws.
 */
export async function withCleanup<T>(
  body: () => Promise<T> | T,
  cleanup: () => Promise<void> | void,
): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (e) {
    await cleanupAfterFailure(e, cleanup);
    throw e;
  }
  await cleanup();
  return result;
}

/** Runs `cleanup` after `error`: its own failure is recorded on the error as `cleanupError`, never thrown. */
export async function cleanupAfterFailure(
  error: unknown,
  cleanup: () => Promise<void> | void,
): Promise<void> {
  try {
    await cleanup();
  } catch (c) {
    if (error instanceof Error && !('cleanupError' in error))
      Object.defineProperty(error, 'cleanupError', { value: c, enumerable: false });
  }
}
