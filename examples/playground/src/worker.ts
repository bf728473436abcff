// The model side of the playground, in a Web Worker so the page stays responsive while tfjs computes: backend
// choice, loading (bundled or dropped files, the memory estimated first), MoTE training with stop and resume,
// staged answers (trained, or with the experts as they were before training), the PEFT export, a logits probe for
// the test, and the in-page benchmark. Requests and replies: protocol.ts.
import '@tensorflow/tfjs-backend-webgpu'; // registers 'webgpu' where navigator.gpu exists (selectBackend decides)
import * as tf from '@tensorflow/tfjs';
import {
  type AdamW,
  attachExperts,
  type Base,
  benchThroughput,
  type Checkpointer,
  type EncodedChain,
  encodeChains,
  estimateMemory,
  evaluate,
  type FileSet,
  formatQuestion,
  generateStaged,
  getExperts,
  loadModel as loadBaseModel,
  type ModelConfig,
  type ModelSource,
  memoryFiles,
  parseChains,
  peftAdapterFiles,
  readBytes,
  readModelConfig,
  STEP_TOKENS,
  type StagedConfig,
  selectBackend,
  splitHeldOut,
  stageRoute,
  type TrainPosition,
  train,
  WASM_HEAP_LIMIT_BYTES,
  withRoute,
  withStepTokens,
} from 'mote-tfjs';
import { BUNDLED, WASM_PATHS } from './assets.js';
import type {
  AskParams,
  BenchParams,
  ChainsInput,
  ModelInput,
  Reply,
  Request,
  Results,
  TrainParams,
  WorkerEvent,
} from './protocol.js';
import { zipStored } from './zip.js';

/** Tokens per training row (chains longer than this are dropped), the MoTE rank, held-out chains, and how often
 * (in optimizer steps) they are evaluated. */
const MAX_LEN = 512;
const RANK = 16;
const HELD_OUT = 12;
const EVAL_EVERY = 3;

/** What is loaded: the base with step tokens and MoTE attached, its training data, and the run so far. */
interface Session {
  base: Base;
  name: string;
  /** The tokenizer.bin bytes of a llama2.c model (the PEFT export writes tokenizer.json from them). */
  tokenizerBin?: Uint8Array;
  chains: EncodedChain[];
  /** Held-out chains, evaluated as training goes (their loss is the plot's smooth line). */
  heldOut: EncodedChain[];
  /** The trainable variables as attached, before any training (the untrained comparison). */
  initial: Map<string, Float32Array>;
  /** The run's position and optimizer moments, kept by a stop or the end of a call, for a resume. */
  saved: { position: TrainPosition; optimizer: Awaited<ReturnType<AdamW['getState']>> } | null;
}

let session: Session | null = null;
let training: AbortController | null = null;

// ---------------------------------------------------------------- requests

type Emit = (event: WorkerEvent) => void;
type Handler<T extends Request['type']> = (
  request: Extract<Request, { type: T }>,
  emit: Emit,
) => Promise<Results[T]>;

const handlers: { [T in Request['type']]: Handler<T> } = {
  init: async ({ backend, wasmThreads, cores }, emit) => {
    // tfjs's threaded wasm build caps its threads by the cores this worker's navigator reports. A worker reports
    // what its page does, except under an override that reaches the page only (DevTools' emulation, the browser
    // test's): then the worker is told the page's figure before the backend starts.
    if (cores !== self.navigator.hardwareConcurrency)
      Object.defineProperty(self.navigator, 'hardwareConcurrency', { value: cores, configurable: true });
    const warnings: string[] = [];
    const choice = await selectBackend({
      backend,
      wasmPaths: WASM_PATHS,
      wasmThreads,
      onEvent: (e) => {
        if (e.type === 'warning') {
          warnings.push(e.message);
          emit({ type: 'warning', message: e.message });
        }
      },
    });
    return { ...choice, warnings };
  },
  load: async ({ model, chains }) => load(model, chains),
  train: async ({ params }, emit) => trainSteps(params, emit),
  stop: async () => {
    training?.abort();
    return { stopping: training !== null };
  },
  ask: async ({ params }, emit) => ask(params, emit),
  export: async () => exportAdapters(),
  probe: async ({ question }) => probe(question),
  bench: async ({ params }) => bench(params),
};

self.onmessage = async (message: MessageEvent<{ id: number; request: Request }>) => {
  const { id, request } = message.data;
  const post = (reply: Reply, transfer: Transferable[] = []) => self.postMessage(reply, { transfer });
  try {
    const handler = handlers[request.type] as Handler<typeof request.type>;
    const result = await handler(request as never, (event) => post({ id, kind: 'event', event }));
    const zip = (result as Partial<Results['export']>).zip;
    post({ id, kind: 'result', result }, zip ? [zip.buffer] : []);
  } catch (e) {
    post({ id, kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};

/** Throws unless a model is loaded and nothing trains (one model, one task at a time). */
function idle(what: string): Session {
  if (!session) throw new Error(`${what}: no model is loaded yet`);
  if (training) throw new Error(`${what}: training is running; stop it first`);
  return session;
}

// ---------------------------------------------------------------- loading

/** Loads the model (after checking its memory estimate), adds the step tokens, attaches MoTE, encodes the chains. */
async function load(input: ModelInput, chainsInput: ChainsInput): Promise<Results['load']> {
  if (training) throw new Error('load: training is running; stop it first');
  const { source, tokenizer, name } = modelSource(input);
  const config = await readModelConfig(source, name).catch((e: Error) => {
    throw new Error(`${name} is not a model this page can read: ${e.message}`);
  });
  const memory = checkMemory(config, name);
  const chainsText = await chainsSource(chainsInput);
  const parsed = parseChains(chainsText.text, chainsText.name, { onError: 'skip' });
  if (parsed.chains.length === 0)
    throw new Error(
      `${chainsText.name} has no valid chain (${parsed.errors.length} errors; first: ${describeChainError(parsed.errors[0])})`,
    );
  // what can be checked without the weights is checked; the old model goes before the new one is allocated
  session?.base.model.dispose();
  session = null;
  const loaded = await loadBaseModel(source, { tokenizer, maxSeqLen: MAX_LEN });
  const base = withStepTokens(loaded);
  try {
    attachExperts(base.model, { kind: 'mote', rank: RANK, seed: 0 });
    const maxLen = Math.min(MAX_LEN, base.model.config.maxSeqLen);
    const { encoded, report } = encodeChains(parsed.chains, base.tokenizer, { maxLen, onOverflow: 'drop' });
    if (encoded.length === 0)
      throw new Error(
        `every chain of ${chainsText.name} is longer than ${maxLen} tokens with this tokenizer`,
      );
    // a quarter at most: a small dropped file keeps most of its chains for training
    const held = Math.min(HELD_OUT, Math.floor(encoded.length / 4));
    const { train: trainSet, heldOut } = splitHeldOut(encoded, held / encoded.length, 'playground');
    const initial = new Map(
      [...base.model.namedVariables()]
        .filter(([, v]) => v.trainable)
        .map(([k, v]) => [k, v.dataSync().slice() as Float32Array]),
    );
    const tokenizerBin = input.kind === 'bundled' ? await readBytes(BUNDLED.tokenizer) : undefined;
    const llamaBin =
      input.kind === 'llama2c' && !(await isJson(input.tokenizer)) ? input.tokenizer : undefined;
    session = {
      base,
      name,
      tokenizerBin: tokenizerBin ?? (llamaBin ? await readBytes(llamaBin) : undefined),
      chains: trainSet,
      heldOut,
      initial,
      saved: null,
    };
    const c = base.model.config;
    return {
      model: name,
      parameters: base.model.parameterCount(),
      trainableParameters: [...initial.values()].reduce((n, v) => n + v.length, 0),
      vocabSize: c.vocabSize,
      maxSeqLen: c.maxSeqLen,
      chains: parsed.chains.length,
      encoded: trainSet.length,
      heldOut: heldOut.length,
      dropped: report.dropped.length,
      chainErrors: parsed.errors.slice(0, 5).map(describeChainError),
      ...memory,
    };
  } catch (e) {
    base.model.dispose();
    throw e;
  }
}

function modelSource(input: ModelInput): { source: ModelSource; tokenizer?: ModelSource; name: string } {
  if (input.kind === 'bundled')
    return { source: BUNDLED.model, tokenizer: BUNDLED.tokenizer, name: BUNDLED.name };
  if (input.kind === 'llama2c')
    return { source: input.model, tokenizer: input.tokenizer, name: input.model.name };
  const files: FileSet = memoryFiles(input.files, input.label);
  return { source: files, name: input.label };
}

/**
 * The model's training memory on wasm (its weights, MoTE adapters with AdamW moments, and the activations of one
 * batch of MAX_LEN tokens: model/memory.ts) against what the page can give it: the 4 GiB wasm heap, and half the
 * device's memory when the browser says it (navigator.deviceMemory). Refused before anything is allocated.
 */
function checkMemory(config: ModelConfig, name: string): { memoryMB: number; budgetMB: number } {
  const estimate = estimateMemory(config, {
    rank: RANK,
    seqLen: Math.min(MAX_LEN, config.maxSeqLen),
    batchSize: 4,
  });
  const need = estimate.backends.wasm.training.total;
  const deviceGiB = (navigator as { deviceMemory?: number }).deviceMemory;
  const budget = Math.min(
    WASM_HEAP_LIMIT_BYTES,
    deviceGiB ? (deviceGiB * 2 ** 30) / 2 : WASM_HEAP_LIMIT_BYTES,
  );
  const mb = (x: number) => Math.round(x / 2 ** 20);
  if (need > budget)
    throw new Error(
      `${name} is too large for this page: ${count(estimate.parameters)} parameters, and training it with MoTE needs about ${mb(need)} MB (weights ${mb(estimate.backends.wasm.training.parts.weights)} MB) but the page can use ${mb(budget)} MB (${deviceGiB ? `half of this device's ${deviceGiB} GB, ` : ''}the wasm heap is at most 4 GiB). Nothing was loaded; try a smaller model.`,
    );
  return { memoryMB: mb(need), budgetMB: mb(budget) };
}

const count = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${(n / 1e6).toFixed(1)}M`);

async function chainsSource(input: ChainsInput): Promise<{ text: string; name: string }> {
  const source = input.kind === 'bundled' ? BUNDLED.chains : input.file;
  const name = input.kind === 'bundled' ? 'chains.jsonl (bundled)' : input.file.name;
  const bytes = await readBytes(source, name);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b)
    throw new Error(`${name} is gzip-compressed: drop the .jsonl itself`);
  return { text: new TextDecoder().decode(bytes), name };
}

async function isJson(file: File): Promise<boolean> {
  return new TextDecoder()
    .decode(await readBytes(file.slice(0, 64)))
    .trimStart()
    .startsWith('{');
}

function describeChainError(e: { line: number; field: string; reason: string } | undefined): string {
  return e ? `line ${e.line}${e.field ? `, ${e.field}` : ''}: ${e.reason}` : 'none';
}

// ---------------------------------------------------------------- training

/** Trains `steps` more optimizer steps (continuing the previous run when `resume`), streaming each step. */
async function trainSteps(params: TrainParams, emit: Emit): Promise<Results['train']> {
  const s = idle('train');
  const resume = params.resume && s.saved !== null;
  const from = resume ? s.saved!.position.step : 0;
  if (!resume) restore(s, s.initial); // a fresh run starts from the untrained experts
  const checkpointer: Checkpointer = {
    save: async (position, optimizer) => {
      s.saved = { position, optimizer: await optimizer.getState() };
      return 'memory';
    },
    restore: async (optimizer) => {
      if (!s.saved) return null;
      optimizer.setState(s.saved.optimizer);
      return s.saved.position;
    },
  };
  training = new AbortController();
  try {
    const evalOptions = { batchSize: params.batchSize, seqLen: longest(s), mode: 'pad' as const, padId: 0 };
    const evaluating = s.heldOut.length > 0;
    if (evaluating && !resume)
      emit({ type: 'eval', step: 0, result: await evaluate(s.base.model, s.heldOut, evalOptions) });
    const result = await train(
      s.base.model,
      { train: s.chains, eval: evaluating ? s.heldOut : undefined },
      {
        epochs: 1000, // the run is cut by maxSteps; a constant rate makes every call's steps alike
        schedule: 'constant',
        learningRate: params.learningRate,
        batchSize: params.batchSize,
        stepSkipProb: 0.2,
        evalEvery: evaluating ? EVAL_EVERY : 0,
        saveEvery: 0,
        workers: 1,
        seed: 0,
      },
      {
        maxSteps: from + params.steps,
        resume,
        checkpointer,
        signal: training.signal,
        onEvent: (e) => {
          if (e.type === 'eval') emit({ type: 'eval', step: e.step, result: e.result });
          if (e.type === 'step')
            emit({
              type: 'step',
              step: e.step,
              totalSteps: e.totalSteps,
              loss: e.loss,
              byStage: e.byStage,
              tokensPerSec: e.tokensPerSec,
              ms: e.ms,
            });
        },
      },
    );
    return { step: result.position.step, stopped: result.stopped, loss: result.loss };
  } finally {
    training = null;
  }
}

/** The longest example of a session: the row length of training and evaluation alike. */
function longest(s: Session): number {
  return Math.max(...[...s.chains, ...s.heldOut].map((e) => e.ids.length));
}

/** Assigns host values to the model's trainable variables (by name). */
function restore(s: Session, values: ReadonlyMap<string, Float32Array>): void {
  const vars = s.base.model.namedVariables();
  tf.tidy(() => {
    for (const [name, data] of values) {
      const v = vars.get(name)!;
      v.assign(tf.tensor(data, v.shape));
    }
  });
}

// ---------------------------------------------------------------- answering

/** A staged answer, streamed event by event; `untrained` swaps in the experts as attached, then swaps back. */
async function ask(params: AskParams, emit: Emit): Promise<Results['ask']> {
  const s = idle('ask');
  const question = params.question.trim();
  if (!question) throw new Error('ask: the question is empty');
  const trained = params.untrained ? snapshot(s) : null;
  if (params.untrained) restore(s, s.initial);
  try {
    const config: Partial<StagedConfig> = {
      mode: params.mode,
      maxTokensPerStage: params.maxTokensPerStage,
      temperature: 0,
    };
    for await (const event of generateStaged(s.base.model, s.base.tokenizer, question, config)) {
      if (event.type === 'done') {
        const r = event.result;
        return { text: r.text, order: r.order, ms: r.ms, totalTokens: r.totalTokens };
      }
      emit({ type: 'staged', event });
      // let the page's messages (and its rendering of this token) through between tokens
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    throw new Error('ask: generation ended without a result');
  } finally {
    if (trained) restore(s, trained);
  }
}

function snapshot(s: Session): Map<string, Float32Array> {
  return new Map(
    [...s.initial.keys()].map((k) => [
      k,
      s.base.model.namedVariables().get(k)!.dataSync().slice() as Float32Array,
    ]),
  );
}

/**
 * The logits after `question` and the answer's start token, with the answer expert (+ shared) on every token
 * (unmerged, per-token mixing): what the test recomputes in Node from the downloaded adapters.
 */
async function probe(question: string): Promise<Results['probe']> {
  const s = idle('probe');
  const { model, tokenizer } = s.base;
  const ids = tokenizer.encode(`${formatQuestion(question)}${STEP_TOKENS.answer.start}`, { bos: true });
  const route = stageRoute(getExperts(model)!.config, ['answer'], false);
  const logits = model.logits([ids], { ctx: route && withRoute(route) }); // (1, T, V)
  try {
    const all = (await logits.data()) as Float32Array;
    const V = model.config.vocabSize;
    return { ids, logits: Array.from(all.subarray(all.length - V)) };
  } finally {
    logits.dispose();
  }
}

// ---------------------------------------------------------------- export and benchmark

/** The PEFT export of the trained experts (adapters, mote_config.json, tokens), zipped. */
async function exportAdapters(): Promise<Results['export']> {
  const s = idle('export');
  const { files } = peftAdapterFiles(s.base.model, s.base.tokenizer, {
    baseModelNameOrPath: s.name,
    tokenizerBin: s.tokenizerBin,
  });
  return { zip: zipStored(files), files: [...files.keys()] };
}

/** bench-256 training and decode tokens/s on this page's backend (another model: the loaded one is untouched). */
async function bench(params: BenchParams): Promise<Results['bench']> {
  if (training) throw new Error('bench: training is running; stop it first');
  const r = await benchThroughput({
    trainSteps: params.steps,
    decodeTokens: params.tokens,
    batch: params.batch,
    seqLen: params.seqLen,
  });
  const threads = tf.getBackend() === 'wasm' ? await wasmThreads() : 1;
  return {
    backend: tf.getBackend(),
    threads,
    trainTokensPerSec: r.trainTokensPerSec,
    trainMsPerStep: r.trainMsPerStep,
    decodeTokensPerSec: r.decodeTokensPerSec,
  };
}

async function wasmThreads(): Promise<number> {
  return (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
}
