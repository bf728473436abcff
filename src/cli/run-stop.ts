// How `mote train` and `mote pretrain` stop on Ctrl-C: the first press asks the loop to save a checkpoint and stop
// after the current step, a second one quits at once (exit 130).

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
