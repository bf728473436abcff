// Staged generation (method.md §2 "Adaptive inference"): after the question the model writes step blocks
// (`<|analysis|> … <|/analysis|>`, `<|guidance|> …`, `<|response|> … <|/response|>`), and the active step expert
// switches when a step start token is written. Single-sequence decoding runs on per-step merged weights (PEFT-style
// merge, cached per step), so each token costs what the base model costs.
//
// Decoding is constrained so the output is always a well-formed chain:
//   - between blocks, only the start token of a stage that may come next is allowed (adaptive mode), or the next
//     forced stage's start token is fed (forced modes);
//   - inside a block, no step token other than that block's end token is allowed (nor BOS, nor an end-of-turn token
//     or EOS, except that one inside the answer closes it); a block that reaches its token budget is closed by
//     feeding its end token;
//   - generation ends when the answer block closes, or at the total token budget.
// The prompt is the question rendered in the model's chat format with its generation prompt (tokenizer/chat-format.ts:
// `<|im_start|>assistant\n` for ChatML; the default template's "User: …\n" for the llama2.c models).
// Routing: question tokens use `questionExpert` (default: the shared expert only); a step's tokens, its start and
// end tokens included, use that step's expert (the AlignCoT encoder's labelling).
// These rules live in one per-sequence state machine (staged-sequence.ts) that this single-sequence driver and the
// batched one (staged-batch.ts) both run.
import type { Turn } from '../aligncot/chain.js';
import { questionTurns } from '../aligncot/format.js';
import { type StageSet, type StepTokenIdMap, stepTokenIds, THREE_STAGE } from '../aligncot/stages.js';
import { getExperts } from '../experts/attach.js';
import { checkStageExperts, mergeable, stageExpert, stageRoute } from '../experts/kinds.js';
import { withRoute } from '../experts/routing.js';
import type { LinearContext } from '../model/linear.js';
import type { Transformer } from '../model/transformer.js';
import { type ExpertName, SHARED, type Stage } from '../steps.js';
import { chatFormat } from '../tokenizer/chat-format.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { check } from '../util/errors.js';
import { fasterDecoder } from './choose.js';
import { HostDecoder, TensorDecoder } from './decoder.js';
import { promptRoom } from './limits.js';
import { createSampler, DEFAULT_SAMPLING_CONFIG, resolveSamplingConfig } from './sampler.js';
import { StagedSequence } from './staged-sequence.js';
import type { Decoder, StagedConfig, StagedEvent, StagedPlan, StagedResult, StageMode } from './types.js';

export const DEFAULT_STAGED_CONFIG: Readonly<StagedConfig> = Object.freeze({
  ...DEFAULT_SAMPLING_CONFIG,
  mode: 'adaptive',
  stages: THREE_STAGE,
  maxTokens: 512,
  maxTokensPerStage: 160,
  questionExpert: SHARED,
  decoder: 'auto',
  merged: true,
});

const FIXED_MODES: Record<'answer' | 'analysis-answer', Stage[]> = {
  answer: ['answer'],
  'analysis-answer': ['analysis', 'answer'],
};

export function resolveStagedConfig(partial: Partial<StagedConfig> = {}): Readonly<StagedConfig> {
  const c = { ...DEFAULT_STAGED_CONFIG, ...partial };
  resolveSamplingConfig(c);
  const names = c.stages.map((s) => s.name);
  const forced = forcedStages(c.mode, names);
  if (forced) {
    check(
      forced.length > 0 && forced[forced.length - 1] === 'answer',
      'mode',
      c.mode,
      "a list of stages ending with 'answer'",
    );
    for (const s of forced) check(names.includes(s), 'mode', c.mode, `stages among ${names.join(', ')}`);
    check(
      forced.every((s, i) => i === 0 || names.indexOf(s) > names.indexOf(forced[i - 1])),
      'mode',
      c.mode,
      `stages in chain order (${names.join(' → ')})`,
    );
  }
  check(Number.isInteger(c.maxTokens) && c.maxTokens > 0, 'maxTokens', c.maxTokens, 'a positive integer');
  const budgets =
    typeof c.maxTokensPerStage === 'number' ? [c.maxTokensPerStage] : Object.values(c.maxTokensPerStage);
  check(
    budgets.every((b) => Number.isInteger(b) && (b as number) > 0),
    'maxTokensPerStage',
    c.maxTokensPerStage,
    'a positive integer, or one per stage',
  );
  check(['auto', 'host', 'tensor'].includes(c.decoder), 'decoder', c.decoder, "'auto', 'host' or 'tensor'");
  return Object.freeze(c);
}

/** The stages a forced mode writes among a chain's stages, or null for 'adaptive'. */
export function forcedStages(mode: StageMode, stages: readonly Stage[] | StageSet): readonly Stage[] | null {
  const names = stages.map((s) => (typeof s === 'string' ? s : s.name));
  if (mode === 'adaptive') return null;
  if (mode === 'full') return names.filter((s) => s !== 'check');
  if (typeof mode === 'string') {
    if (!(mode in FIXED_MODES))
      throw new Error(
        `invalid config: mode = ${JSON.stringify(mode)}; expected 'adaptive', 'answer', 'analysis-answer', 'full' or a list of stages`,
      );
    return FIXED_MODES[mode as keyof typeof FIXED_MODES];
  }
  return mode;
}

/** The routing context of a stage for the experts attached to `model` (undefined: none needed). */
function contextFor(model: Transformer, stage: ExpertName, merged = true): LinearContext | undefined {
  const route = stageRoute(getExperts(model)?.config ?? null, [stage], merged);
  return route && withRoute(route);
}

/**
 * The rules every sequence of one call shares (StagedSequence's plan), from a resolved config; checks that a
 * forced mode's stages have experts. `caller` names the function in errors.
 */
export function stagedPlan(
  model: Transformer,
  tokenizer: Tokenizer,
  c: Readonly<StagedConfig>,
  caller = 'generateStaged',
): StagedPlan {
  const names: Stage[] = c.stages.map((s) => s.name).filter((s) => s !== 'check');
  const forced = forcedStages(c.mode, names);
  const steps: StepTokenIdMap = stepTokenIds(tokenizer, c.stages);
  const experts = getExperts(model)?.config ?? null;
  if (forced) checkStageExperts(experts, forced, caller);
  return {
    tokenizer,
    names,
    forced,
    steps,
    stepIds: new Set([...steps.values()].flatMap((t) => [t.start, t.end])),
    stopIds: chatFormat(tokenizer).stopIds(model.config.eosTokenIds),
    maxTokens: c.maxTokens,
    maxSeqLen: model.config.maxSeqLen,
    budget: (s) =>
      typeof c.maxTokensPerStage === 'number'
        ? c.maxTokensPerStage
        : (c.maxTokensPerStage[s] ?? (DEFAULT_STAGED_CONFIG.maxTokensPerStage as number)),
    expertOf: (s) => stageExpert(experts, s),
  };
}

/**
 * The ids generation starts from for `question` (a string or a dialogue): its turns rendered in the tokenizer's chat
 * format with the generation prompt, BOS first (`chatFormat(tokenizer).promptIds`).
 */
export function promptTokens(tokenizer: Tokenizer, question: string | readonly Turn[]): number[] {
  return chatFormat(tokenizer).promptIds(questionTurns(question));
}

/**
 * Whether `question` leaves room in the model's context for an answer block of `budget` tokens and its two step
 * tokens, the room counting at most half the context (limits.ts `promptRoom`).
 */
export function questionFits(
  model: Transformer,
  tokenizer: Tokenizer,
  question: string | readonly Turn[],
  budget: number,
): boolean {
  return promptTokens(tokenizer, question).length <= promptRoom(model.config.maxSeqLen, budget + 2);
}

/** The prompt ids of `question` (`promptTokens`); throws when they leave no room in the model's context. */
export function stagedPrompt(
  model: Transformer,
  tokenizer: Tokenizer,
  question: string | readonly Turn[],
  caller = 'generateStaged',
): number[] {
  const prompt = promptTokens(tokenizer, question);
  if (prompt.length >= model.config.maxSeqLen)
    throw new Error(
      `${caller}: the question has ${prompt.length} tokens, the model's context is ${model.config.maxSeqLen}`,
    );
  return prompt;
}

/** Streams a staged answer to `question` (a string or a dialogue), event by event. */
export async function* generateStaged(
  model: Transformer,
  tokenizer: Tokenizer,
  question: string | readonly Turn[],
  config: Partial<StagedConfig> = {},
): AsyncGenerator<StagedEvent, StagedResult> {
  const c = resolveStagedConfig(config);
  const plan = stagedPlan(model, tokenizer, c);
  const hostable = c.merged && mergeable(getExperts(model)?.config ?? null);
  if (c.decoder === 'host' && !hostable)
    throw new Error(
      'generateStaged: the host decoder needs merged weights (merged: true) and experts that merge (not a learned gate)',
    );
  const ctxFor = (stage: ExpertName) => contextFor(model, stage, c.merged);
  const useHost =
    hostable &&
    (c.decoder === 'host' ||
      (c.decoder === 'auto' && (await fasterDecoder(model, ctxFor(c.questionExpert))) === 'host'));
  const decoder: Decoder = useHost
    ? new HostDecoder(model, ctxFor(c.questionExpert), c.questionExpert)
    : new TensorDecoder(model, 1, ctxFor(c.questionExpert));
  const seq = new StagedSequence(plan, createSampler(c));
  let expert: ExpertName = c.questionExpert;
  try {
    let logits = (await decoder.next([stagedPrompt(model, tokenizer, question)]))[0];
    for (;;) {
      const feed = seq.advance(logits, decoder.position);
      for (const e of seq.takeEvents()) if (e.type !== 'done') yield e;
      if (feed === null) break;
      if (feed.expert !== expert) decoder.setContext(ctxFor(feed.expert), (expert = feed.expert));
      logits = (await decoder.next([[feed.id]]))[0];
    }
  } finally {
    decoder.dispose();
  }
  yield { type: 'done', result: seq.result };
  return seq.result;
}

/** Runs `generateStaged` to completion. */
export async function generateStagedText(
  model: Transformer,
  tokenizer: Tokenizer,
  question: string | readonly Turn[],
  config: Partial<StagedConfig> = {},
): Promise<StagedResult> {
  const it = generateStaged(model, tokenizer, question, config);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
