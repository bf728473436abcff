// The playground page: plain DOM, no framework. The model lives in a Web Worker (worker.ts, through client.ts); the
// page shows what the browser can do, loads the bundled model or dropped files, trains with a live plot, streams
// staged answers with the active expert, and downloads the adapters. Every failure ends in a message on the page,
// and the controls come back.
import { exposePlaygroundChecks } from './automation.js';
import { WorkerClient } from './client.js';
import { classify, droppedFiles, pickedFiles } from './drop.js';
import { type Line, lineChart } from './plot.js';
import type { AskParams, BenchParams, ChainsInput, ModelInput, Results, WorkerEvent } from './protocol.js';

// ---------------------------------------------------------------- elements

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  backend: $('backend'),
  notes: $('notes'),
  errors: $('errors'),
  summary: $('model-summary'),
  drop: $('drop'),
  pickFiles: $<HTMLInputElement>('pick-files'),
  pickDir: $<HTMLInputElement>('pick-dir'),
  bundled: $<HTMLButtonElement>('bundled'),
  steps: $<HTMLInputElement>('steps'),
  lr: $<HTMLInputElement>('lr'),
  batch: $<HTMLInputElement>('batch'),
  train: $<HTMLButtonElement>('train'),
  stop: $<HTMLButtonElement>('stop'),
  resume: $<HTMLButtonElement>('resume'),
  trainStatus: $('train-status'),
  lossPlot: $('loss-plot'),
  speedPlot: $('speed-plot'),
  askForm: $<HTMLFormElement>('ask-form'),
  question: $<HTMLInputElement>('question'),
  mode: $<HTMLSelectElement>('mode'),
  compare: $<HTMLInputElement>('compare'),
  ask: $<HTMLButtonElement>('ask'),
  answers: $('answers'),
  export: $<HTMLButtonElement>('export'),
  exportFiles: $('export-files'),
  bench: $<HTMLButtonElement>('bench'),
  benchResult: $('bench-result'),
};

// ---------------------------------------------------------------- state

/** One plotted optimizer step. */
export interface PlottedStep {
  step: number;
  loss: number;
  byStage: Partial<Record<string, number>>;
  tokensPerSec: number;
}

export const state = {
  /** What the page is doing; null when idle. */
  busy: null as null | 'starting' | 'loading' | 'training' | 'asking' | 'exporting' | 'benchmarking',
  backend: null as Results['init'] | null,
  model: null as Results['load'] | null,
  /** The model to load again after a worker crash. */
  lastInput: { model: { kind: 'bundled' } as ModelInput, chains: { kind: 'bundled' } as ChainsInput },
  steps: [] as PlottedStep[],
  /** Held-out loss by step (step 0: before training). */
  evals: [] as { step: number; loss: number }[],
  /** A run exists that Resume continues. */
  resumable: false,
  errors: [] as string[],
  notes: [] as string[],
};

const client = new WorkerClient((reason) => {
  showError(reason);
  state.backend = null;
  state.model = null;
  void start(); // a fresh worker, the last model loaded again
});

// ---------------------------------------------------------------- messages

function showError(message: string): void {
  state.errors.push(message);
  const box = document.createElement('div');
  box.className = 'error';
  const text = document.createElement('span');
  text.textContent = message;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '×';
  close.title = 'dismiss';
  close.onclick = () => box.remove();
  box.append(text, close);
  el.errors.append(box);
}

function note(message: string): void {
  state.notes.push(message);
  const li = document.createElement('li');
  li.textContent = message;
  el.notes.append(li);
}

/** Runs `task` as the page's one activity: controls disabled meanwhile, any error shown, controls back after. */
async function activity<T>(
  kind: NonNullable<typeof state.busy>,
  task: () => Promise<T>,
): Promise<T | undefined> {
  if (state.busy) {
    showError(
      `the page is ${state.busy}; wait for it to finish${state.busy === 'training' ? ' or stop it' : ''}`,
    );
    return undefined;
  }
  state.busy = kind;
  render();
  try {
    return await task();
  } catch (e) {
    showError(e instanceof Error ? e.message : String(e));
    return undefined;
  } finally {
    state.busy = null;
    render();
  }
}

function render(): void {
  const idle = state.busy === null;
  const ready = idle && state.model !== null;
  for (const b of [el.bundled, el.pickFiles, el.pickDir]) b.disabled = !idle;
  el.train.disabled = !ready;
  el.resume.disabled = !(ready && state.resumable);
  el.stop.disabled = state.busy !== 'training';
  el.ask.disabled = !ready;
  el.export.disabled = !ready;
  el.bench.disabled = !idle || state.backend === null;
  el.drop.classList.toggle('busy', !idle);
}

window.addEventListener('error', (e) => showError(`unexpected error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showError(`unexpected error: ${String(e.reason)}`));

// ---------------------------------------------------------------- start: what this browser can do

/** WebAssembly SIMD, asked the way feature detection does: does a module using v128 validate? */
function hasWasmSimd(): boolean {
  try {
    const module = [
      0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253,
      98, 11,
    ];
    return WebAssembly.validate(new Uint8Array(module));
  } catch {
    return false;
  }
}

async function start(): Promise<void> {
  await activity('starting', async () => {
    el.backend.textContent = 'Choosing a backend…';
    const wasm = typeof WebAssembly === 'object';
    if (!wasm)
      note(
        "This browser has no WebAssembly: everything runs on tfjs's plain JavaScript backend, tens of times slower. Training even the bundled model takes minutes per step.",
      );
    else if (!hasWasmSimd())
      note(
        'This browser has no WebAssembly SIMD: the wasm backend runs several times slower than in a current browser.',
      );
    // tfjs's own rule (half the cores), from the page's navigator: a worker may not see what the page sees (a
    // browser's or a test's override of hardwareConcurrency)
    const cores = navigator.hardwareConcurrency;
    const wasmThreads = Math.max(1, Math.floor(cores / 2));
    const choice = await client.call({ type: 'init', backend: wasm ? 'auto' : 'cpu', wasmThreads, cores });
    state.backend = choice;
    el.backend.textContent = `Backend: ${choice.name} — ${choice.reason}`;
    for (const a of choice.attempts)
      if (!a.ok) note(`${a.name === 'webgpu-hardware' ? 'WebGPU' : a.name}: ${a.reason}`);
    for (const w of choice.warnings) note(w);
    for (const s of choice.kernels?.skipped ?? []) note(`kernel skipped: ${s}`);
    if (!state.model) await loadInto(state.lastInput.model, state.lastInput.chains);
  });
}

// ---------------------------------------------------------------- model and chains

async function loadInto(model: ModelInput, chains: ChainsInput): Promise<void> {
  el.summary.textContent = `Loading ${model.kind === 'bundled' ? 'the bundled stories260K' : describe(model)}…`;
  try {
    const summary = await client.call({ type: 'load', model, chains });
    state.model = summary;
    state.lastInput = { model, chains };
    state.steps = [];
    state.evals = [];
    state.resumable = false;
    drawPlots();
    el.trainStatus.textContent = 'Not trained yet.';
    const k = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(0)}K`);
    el.summary.textContent =
      `${summary.model}: ${k(summary.parameters)} parameters, ${k(summary.trainableParameters)} trainable (MoTE rank 16, ` +
      `3 step experts + shared), vocabulary ${summary.vocabSize}, context ${summary.maxSeqLen}; ${summary.encoded} of ` +
      `${summary.chains} chains to train on (${summary.heldOut} more held out)${summary.dropped ? `, ${summary.dropped} too long` : ''}; training memory ` +
      `about ${summary.memoryMB} MB of the page's ${summary.budgetMB} MB.`;
    for (const e of summary.chainErrors) note(`chain skipped: ${e}`);
  } catch (e) {
    el.summary.textContent = state.model
      ? `Still loaded: ${state.model.model}.`
      : 'No model loaded: drop one, or use the bundled model.';
    throw e;
  }
}

function describe(model: ModelInput): string {
  return model.kind === 'llama2c' ? model.model.name : model.kind === 'hf' ? model.label : 'stories260K';
}

async function useFiles(files: Parameters<typeof classify>[0]): Promise<void> {
  await activity('loading', async () => {
    const dropped = classify(files);
    const model = dropped.model ?? state.lastInput.model;
    const chains = dropped.chains ?? state.lastInput.chains;
    await loadInto(model, chains);
  });
}

el.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  el.drop.classList.add('over');
});
el.drop.addEventListener('dragleave', () => el.drop.classList.remove('over'));
el.drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  el.drop.classList.remove('over');
  if (!e.dataTransfer) return;
  const files = await droppedFiles(e.dataTransfer).catch((err: Error) => {
    showError(`cannot read the dropped files: ${err.message}`);
    return null;
  });
  if (files) await useFiles(files);
});
for (const input of [el.pickFiles, el.pickDir])
  input.addEventListener('change', async () => {
    if (input.files?.length) await useFiles(pickedFiles(input.files));
    input.value = '';
  });
el.bundled.onclick = () => activity('loading', () => loadInto({ kind: 'bundled' }, { kind: 'bundled' }));

// ---------------------------------------------------------------- training

const STAGE_LINES = [
  ['total', 'var(--total)'],
  ['analysis', 'var(--analysis)'],
  ['guidance', 'var(--guidance)'],
  ['answer', 'var(--answer)'],
] as const;

function drawPlots(): void {
  const css = getComputedStyle(document.documentElement);
  const color = (v: string) => css.getPropertyValue(v.slice(4, -1)).trim() || '#555';
  el.lossPlot.innerHTML = lineChart(
    STAGE_LINES.map(
      ([name, c]): Line => ({
        name,
        color: color(c),
        points: state.steps
          .map((s): [number, number] => [s.step, name === 'total' ? s.loss : (s.byStage[name] ?? Number.NaN)])
          .filter(([, y]) => Number.isFinite(y)),
      }),
    ).concat({
      name: 'held-out',
      color: '#1d2330',
      dashed: true,
      points: state.evals.map((e): [number, number] => [e.step, e.loss]),
    }),
    'loss',
  );
  el.speedPlot.innerHTML = lineChart(
    [{ name: 'tokens/s', color: '#59a14f', points: state.steps.map((s) => [s.step, s.tokensPerSec]) }],
    'tokens/s',
  );
}

function onTrainEvent(e: WorkerEvent): void {
  if (e.type === 'eval') {
    state.evals.push({ step: e.step, loss: e.result.loss });
    drawPlots();
  }
  if (e.type !== 'step') return;
  state.steps.push({ step: e.step, loss: e.loss, byStage: e.byStage, tokensPerSec: e.tokensPerSec });
  drawPlots();
  el.trainStatus.textContent = `Step ${e.step}/${e.totalSteps}: loss ${e.loss.toFixed(3)}, ${Math.round(e.tokensPerSec)} tokens/s (${Math.round(e.ms)} ms)`;
}

async function runTraining(resume: boolean): Promise<void> {
  await activity('training', async () => {
    const steps = readNumber(el.steps, 'Steps', 1, 1000, true);
    const learningRate = readNumber(el.lr, 'Learning rate', 1e-6, 1, false);
    const batchSize = readNumber(el.batch, 'Batch', 1, 64, true);
    if (!resume) {
      state.steps = [];
      state.evals = [];
    }
    drawPlots();
    el.trainStatus.textContent = resume ? 'Resuming…' : 'Starting…';
    const r = await client.call(
      { type: 'train', params: { steps, learningRate, batchSize, resume } },
      onTrainEvent,
    );
    state.resumable = true;
    el.trainStatus.textContent = `${r.stopped ? 'Stopped' : 'Done'} at step ${r.step}: loss ${r.loss.toFixed(3)}. Resume continues the run.`;
  });
}

function readNumber(
  input: HTMLInputElement,
  name: string,
  min: number,
  max: number,
  integer: boolean,
): number {
  const x = Number(input.value);
  if (!Number.isFinite(x) || x < min || x > max || (integer && !Number.isInteger(x)))
    throw new Error(
      `${name}: ${JSON.stringify(input.value)} is not ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
    );
  return x;
}

el.train.onclick = () => runTraining(false);
el.resume.onclick = () => runTraining(true);
el.stop.onclick = async () => {
  el.stop.disabled = true;
  el.trainStatus.textContent = 'Stopping after this step…';
  await client.call({ type: 'stop' }).catch((e: Error) => showError(e.message));
};

// ---------------------------------------------------------------- asking

/** One answer column: its stage blocks, filled token by token. */
function answerColumn(title: string): { root: HTMLElement; onEvent: (e: WorkerEvent) => void } {
  const root = document.createElement('article');
  root.className = 'answer';
  const h = document.createElement('h3');
  h.textContent = title;
  root.append(h);
  let block: HTMLElement | null = null;
  let body: HTMLElement | null = null;
  const onEvent = (e: WorkerEvent) => {
    if (e.type !== 'staged') return;
    const ev = e.event;
    if (ev.type === 'stage-start') {
      block = document.createElement('div');
      block.className = 'stage writing';
      block.dataset.stage = ev.stage;
      const head = document.createElement('header');
      head.textContent = ev.stage;
      body = document.createElement('div');
      block.append(head, body);
      root.append(block);
    } else if (ev.type === 'token' && block && body) {
      if (ev.expert && !block.dataset.expert) {
        block.dataset.expert = ev.expert;
        block.querySelector('header')!.textContent = `${ev.stage} · expert: ${ev.expert} + shared`;
      }
      body.textContent += ev.text;
    } else if (ev.type === 'stage-end' && block) {
      block.classList.remove('writing');
      block.dataset.closedBy = ev.closedBy;
      if (body) body.textContent = ev.text;
      block = null;
    }
  };
  return { root, onEvent };
}

el.askForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void activity('asking', async () => {
    const base: Omit<AskParams, 'untrained'> = {
      question: el.question.value,
      mode: el.mode.value as AskParams['mode'],
      maxTokensPerStage: 48,
    };
    el.answers.replaceChildren();
    const columns = el.compare.checked
      ? [
          ['trained', false],
          ['untrained (the experts before training)', true],
        ]
      : [[state.steps.length ? 'trained' : 'untrained', false]];
    for (const [title, untrained] of columns as [string, boolean][]) {
      const col = answerColumn(title);
      col.root.dataset.model = untrained ? 'untrained' : 'trained';
      el.answers.append(col.root);
      const r = await client.call({ type: 'ask', params: { ...base, untrained } }, col.onEvent);
      const foot = document.createElement('p');
      foot.className = 'status';
      foot.textContent = `${r.order.join(' → ')}: ${r.totalTokens} tokens in ${Math.round(r.ms)} ms`;
      col.root.append(foot);
    }
  });
});

// ---------------------------------------------------------------- export and benchmark

el.export.onclick = () =>
  activity('exporting', async () => {
    const r = await client.call({ type: 'export' });
    const url = URL.createObjectURL(
      new Blob([r.zip as Uint8Array<ArrayBuffer>], { type: 'application/zip' }),
    );
    const a = document.createElement('a');
    a.href = url;
    a.download = `mote-adapters-${state.model?.model ?? 'model'}.zip`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    el.exportFiles.replaceChildren(
      ...r.files.map((f) => {
        const li = document.createElement('li');
        li.textContent = f;
        return li;
      }),
    );
  });

async function runBench(
  params: BenchParams = { steps: 3, tokens: 64, batch: 8, seqLen: 256 },
): Promise<Results['bench'] | undefined> {
  return activity('benchmarking', async () => {
    el.benchResult.textContent = 'Running…';
    const r = await client.call({ type: 'bench', params });
    el.benchResult.textContent = `${r.backend}${r.backend === 'wasm' ? `, ${r.threads} thread${r.threads === 1 ? '' : 's'}` : ''}: training ${Math.round(r.trainTokensPerSec)} tokens/s (${Math.round(r.trainMsPerStep)} ms per step of ${params.batch} × ${params.seqLen} tokens), decoding ${Math.round(r.decodeTokensPerSec)} tokens/s`;
    return r;
  });
}
el.bench.onclick = () => runBench();

// ---------------------------------------------------------------- go

render();
exposePlaygroundChecks({ state, client, runBench });
void start();
