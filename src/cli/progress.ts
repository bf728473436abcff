// Training progress on stderr: a cli-progress bar on a terminal, or one plain line per step when stderr is not a
// TTY or CI is set (logs stay readable). Evaluations and checkpoints are logged as lines either way.
import cliProgress from 'cli-progress';
import type { LossByStage } from '../train/stats.js';
import type { TrainEvent } from '../train/trainer.js';

export interface TrainProgress {
  onEvent(e: TrainEvent): void;
  /** A line above the bar (or a plain line). */
  log(line: string): void;
  /** Removes the bar (idempotent). */
  stop(): void;
}

/** Whether to draw a bar: stderr is a terminal and CI is not set. */
export function shouldDrawBar(stream: NodeJS.WriteStream = process.stderr): boolean {
  const ci = process.env.CI;
  return stream.isTTY === true && (ci === undefined || ci === '' || ci === 'false' || ci === '0');
}

/** Progress display for `train` events; `maxSteps` caps the total shown (the schedule may be longer). */
export function trainProgress(
  draw: boolean,
  maxSteps: number | null,
  stream: NodeJS.WriteStream = process.stderr,
): TrainProgress {
  const write = (line: string) => stream.write(`${line}\n`);
  if (!draw) {
    return {
      onEvent: (e) => {
        const line = eventLine(e);
        if (line) write(line);
      },
      log: write,
      stop: () => {},
    };
  }
  const multi = new cliProgress.MultiBar(
    {
      format:
        'train |{bar}| {value}/{total} | loss {loss} {stages} | lr {lr} | {tps} tok/s | eta {eta_formatted}',
      hideCursor: true,
      stream,
      clearOnComplete: false,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | null = null;
  let stopped = false;
  return {
    onEvent: (e) => {
      if (e.type === 'start') {
        const total = maxSteps === null ? e.totalSteps : Math.min(e.totalSteps, maxSteps);
        multi.log(`${eventLine(e)}\n`);
        bar = multi.create(total, e.resumedFrom ?? 0, { loss: '-', stages: '', lr: '-', tps: '-' });
      } else if (e.type === 'step') {
        bar?.update(e.step, {
          loss: e.loss.toFixed(4),
          stages: withStages(e.byStage),
          lr: e.lr.toExponential(2),
          tps: e.tokensPerSec.toFixed(0),
        });
      } else if (e.type !== 'done') {
        const line = eventLine(e);
        if (line) multi.log(`${line}\n`);
      }
    },
    log: (line) => (stopped ? write(line) : multi.log(`${line}\n`)),
    stop: () => {
      if (stopped) return;
      multi.update(); // flushes lines logged since the last redraw
      multi.stop();
      stopped = true;
    },
  };
}

/** One line per event (the plain display, and eval/checkpoint lines above a bar). */
export function eventLine(e: TrainEvent): string | null {
  switch (e.type) {
    case 'start':
      return `training: ${e.totalSteps} steps (${e.stepsPerEpoch} per epoch), ${e.trainableParameters.toLocaleString('en-US')} trainable parameters, seq ${e.seqLen}, ${workersText(e)}${e.resumedFrom !== undefined ? `, resumed from step ${e.resumedFrom}` : ''}`;
    case 'step':
      return `step ${e.step}/${e.totalSteps} | loss ${e.loss.toFixed(4)}${withStages(e.byStage)} | lr ${e.lr.toExponential(2)} | grad ${e.gradNorm.toFixed(3)} | ${e.tokensPerSec.toFixed(0)} tok/s | ${(e.ms / 1000).toFixed(2)} s`;
    case 'eval':
      return `eval @ step ${e.step}: loss ${e.result.loss.toFixed(4)}${withStages(e.result.byStage)}, ${e.result.tokens} tokens`;
    case 'checkpoint':
      return `checkpoint @ step ${e.step}: ${e.path}`;
    case 'stopped':
      return `stopped at step ${e.step} (${e.reason})`;
    case 'done':
      return null;
  }
}

/** "in-process" or "2 workers", with the reason of an 'auto' choice. */
function workersText(e: { workers: number; workersReason: string }): string {
  const n = e.workers > 1 ? `${e.workers} workers` : 'in-process';
  return e.workersReason === 'set' ? n : `${n} (${e.workersReason})`;
}

/** "analysis 3.210 guidance 2.980 answer 3.100" (step types without tokens left out). */
export function stagesText(byStage: LossByStage): string {
  return Object.entries(byStage)
    .map(([stage, v]) => `${stage} ${(v as number).toFixed(3)}`)
    .join(' ');
}

/** " (analysis 1.23 …)" after a loss, or nothing when no step type has a loss (e.g. pretraining). */
function withStages(byStage: LossByStage): string {
  const text = stagesText(byStage);
  return text ? ` (${text})` : '';
}
