// The end-of-run summary of `mote train`: final train and held-out loss per step type, trainable parameters,
// time and throughput, and where the files are; as text (stderr) and as one JSON object (stdout).
import { join } from 'node:path';
import { describeExperts } from '../experts/kinds.js';
import type { RunConfig } from '../run/config.js';
import type { EvalResult } from '../train/evaluate.js';
import type { TrainEvent, TrainResult } from '../train/trainer.js';
import { stagesText } from './progress.js';

export interface SummaryInput {
  out: string;
  run: RunConfig;
  result: TrainResult;
  /** Every event of this invocation, in order. */
  events: readonly TrainEvent[];
  seconds: number;
  plot: string;
}

/** The summary of one `mote train` invocation. */
export function runSummary({ out, run, result, events, seconds, plot }: SummaryInput): {
  text: string;
  json: Record<string, unknown>;
} {
  const start = events.find((e) => e.type === 'start');
  const steps = events.filter((e) => e.type === 'step');
  const evals = events.filter((e) => e.type === 'eval');
  const checkpoint = events.filter((e) => e.type === 'checkpoint').at(-1);
  const last = steps.at(-1);
  const tokens = steps.reduce((n, e) => n + (e.tokensPerSec * e.ms) / 1000, 0);
  const stepSeconds = steps.reduce((n, e) => n + e.ms, 0) / 1000;
  const firstEval = evals[0]?.result;
  const lastEval = evals.at(-1)?.result;

  const loss = (r?: { loss: number; byStage: EvalResult['byStage'] }) =>
    r ? `${r.loss.toFixed(4)} (${stagesText(r.byStage)})` : 'none';
  const lines = [
    `${result.stopped ? 'stopped' : 'done'}: step ${result.position.step} (${steps.length} this run, ${run.experts ? describeExperts(run.experts) : 'full fine-tuning'}) in ${seconds.toFixed(1)} s, ${(tokens / Math.max(stepSeconds, 1e-9)).toFixed(0)} tokens/s`,
    `  trainable parameters: ${start?.type === 'start' ? start.trainableParameters.toLocaleString('en-US') : '?'}`,
    `  final train loss: ${loss(last)}`,
  ];
  if (firstEval && lastEval && evals.length > 1 && evals[0].type === 'eval' && evals[0].step === 0)
    lines.push(`  held-out loss: ${loss(firstEval)} before → ${loss(lastEval)} after`);
  else
    lines.push(`  held-out loss: ${lastEval ? loss(lastEval) : 'none (use --eval-fraction or --eval-data)'}`);
  lines.push(
    `  checkpoint: ${checkpoint?.type === 'checkpoint' ? checkpoint.path : 'none'}`,
    `  files: ${join(out, 'config.json')}, ${join(out, 'metrics.jsonl')}, ${plot}`,
  );
  const json = {
    out,
    step: result.position.step,
    stepsThisRun: steps.length,
    stopped: result.stopped,
    experts: run.experts ? run.experts.kind : 'none',
    trainableParameters: start?.type === 'start' ? start.trainableParameters : null,
    seconds,
    tokensPerSec: tokens / Math.max(stepSeconds, 1e-9),
    train: last ? { loss: last.loss, byStage: last.byStage } : null,
    evalBefore: evals[0]?.step === 0 && evals.length > 1 ? firstEval : null,
    eval: lastEval ?? null,
    checkpoint: checkpoint?.type === 'checkpoint' ? checkpoint.path : null,
    plot,
  };
  return { text: lines.join('\n'), json };
}
