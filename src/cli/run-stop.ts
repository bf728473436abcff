// How `mote train` and `mote pretrain` stop on Ctrl-C (SIGINT) or SIGTERM (what a job scheduler, `docker stop` or
// `kill` sends): the first signal asks the loop to save a checkpoint and stop after the current step, a second one
// quits at once (exit 130 for SIGINT, 143 for SIGTERM, as a shell reports a process ended by them).

/** The exit code of a run stopped by `signal`. */
export const exitCodeOf = (signal: NodeJS.Signals): number => (signal === 'SIGTERM' ? 143 : 130);

/**
 * Runs `run` with a signal that the first SIGINT or SIGTERM aborts (its reason names the signal: `stoppedBy`).
 * `run` hands `setLog` the function its notices go to (a progress bar's log line), so the interruption notice does
 * not tear the bar; stderr until then.
 */
export async function withCheckpointingInterrupt(
  run: (signal: AbortSignal, setLog: (log: (line: string) => void) => void) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  let note: (line: string) => void = (line) => process.stderr.write(`${line}\n`);
  const on = (signal: NodeJS.Signals) => () => {
    if (stop.signal.aborted) process.exit(exitCodeOf(signal));
    const again = signal === 'SIGINT' ? 'Ctrl-C again' : 'send it again';
    note(
      `${signal === 'SIGINT' ? 'interrupted' : 'terminated (SIGTERM)'}: saving a checkpoint after the current step (${again} to quit at once)`,
    );
    stop.abort(new StopSignal(signal));
  };
  const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') };
  for (const [s, h] of Object.entries(handlers)) process.on(s, h);
  try {
    await run(stop.signal, (log) => {
      note = log;
    });
  } finally {
    for (const [s, h] of Object.entries(handlers)) process.off(s, h);
  }
}

/** The abort reason of a run stopped by a signal. */
export class StopSignal extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
    this.name = 'StopSignal';
  }
}

/** The exit code for a run that `signal` stopped: 143 after SIGTERM, else 130. */
export function stoppedExitCode(signal: AbortSignal): number {
  const reason = signal.reason;
  return reason instanceof StopSignal ? exitCodeOf(reason.signal) : 130;
}
