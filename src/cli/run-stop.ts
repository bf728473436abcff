// How `mote train` and `mote pretrain` stop: Ctrl-C (the first press asks the loop to save a checkpoint and stop
// after the current step, a second one quits at once, exit 130), and a failed run (what was written is flushed, and
// a non-finite loss says which checkpoint is kept).
import { latestCheckpoint } from '../train/checkpoint.js';
import { NonFiniteError } from '../train/clip.js';

/**
 * Runs `run` with a signal that the first SIGINT aborts. `run` hands `setLog` the function its notices go to (a
 * progress bar's log line), so the interruption notice does not tear the bar; stderr until then.
 */
export async function withCheckpointingInterrupt(
  run: (signal: AbortSignal, setLog: (log: (line: string) => void) => void) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  let note: (line: string) => void = (line) => process.stderr.write(`${line}\n`);
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(130);
    note('interrupted: saving a checkpoint after the current step (Ctrl-C again to quit at once)');
    stop.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  try {
    await run(stop.signal, (log) => {
      note = log;
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * After a run threw `e`: stops the progress bar, flushes the metrics written so far, adds to a non-finite loss's
 * message which checkpoint in `out` is kept, and returns `e` for the caller to rethrow.
 */
export async function failedRunError(
  e: unknown,
  out: string,
  progress: { stop(): void },
  metrics: { flush(): Promise<void> },
): Promise<unknown> {
  progress.stop();
  await metrics.flush().catch(() => {});
  if (e instanceof NonFiniteError) {
    const kept = await latestCheckpoint(out);
    e.message += `; training stopped, ${kept ? `the last good checkpoint is kept: ${kept}` : 'no checkpoint was saved yet'}`;
  }
  return e;
}
