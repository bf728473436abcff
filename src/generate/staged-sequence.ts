// The per-sequence state machine of staged generation (method.md §2 "Adaptive inference"), shared by the drivers:
// `generateStaged` (one sequence, staged.ts) and `generateStagedBatch` (many sequences in one batched forward,
// staged-batch.ts). A driver feeds the prompt under `plan.questionExpert`, then loops:
//
//   const feed = seq.advance(logits, position);   // logits of the last fed token; position = tokens in the cache
//   if (feed === null) break;                      // done: seq.result holds the StagedResult
//   logits = decode([feed.id], expert feed.expert);
//
// and hands out `seq.takeEvents()` as it goes. The machine decides; it never decodes. The rules (see staged.ts):
// between blocks the next stage is sampled among the allowed step-start tokens (adaptive) or forced; inside a
// block no step token but its end token (nor BOS, nor a stop id outside the answer) may be sampled; a stop id (the
// chat template's end of turn, EOS) inside the answer closes it; a block at its budget is closed by feeding its end
// token; the chain ends when the answer closes, at `maxTokens`, or at the context.

import type { Stage } from '../steps.js';
import type { StreamDecoder } from '../tokenizer/tokenizer.js';
import { tokenizerLogits } from './sampler.js';
import type { StagedEvent, StagedFeed, StagedPlan, StagedResult } from './types.js';

type ClosedBy = Extract<StagedEvent, { type: 'stage-end' }>['closedBy'];

/** One sequence's staged decoding: decisions, events and result; the caller runs the model. */
export class StagedSequence {
  readonly result: StagedResult = {
    stages: {},
    order: [],
    tokensPerStage: {},
    totalTokens: 0,
    text: '',
    stopReason: 'max-tokens',
    ms: 0,
  };
  private pending: StagedEvent[] = [];
  /** between blocks; inside a block; its end token fed (the block closes on the next advance); done */
  private state: 'between' | 'inside' | 'closing' | 'done' = 'between';
  private readonly t0 = performance.now();
  private next = 0; // index into plan.names of the earliest stage that may still come
  private forcedAt = 0;
  // the open block
  private stage: Stage = 'answer';
  private content: number[] = [];
  private stream: StreamDecoder | null = null;
  private banned: ReadonlySet<number> = new Set();
  private closedBy: ClosedBy = 'max-tokens';
  private stageStart = -1;

  constructor(
    private readonly plan: StagedPlan,
    /** This sequence's sampler (seeded: a batch row samples as the sequence alone would). */
    private readonly sample: (logits: Float32Array) => number,
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** The events since the last call, in order ('done' last, once). */
  takeEvents(): StagedEvent[] {
    const e = this.pending;
    this.pending = [];
    return e;
  }

  /**
   * Given the next-token logits of the last fed token and the number of positions in the cache, returns the
   * token to feed next (and its expert), or null when the chain is finished.
   */
  advance(logits: Float32Array, position: number): StagedFeed | null {
    const { plan, result } = this;
    const room = () => result.totalTokens < plan.maxTokens && position < plan.maxSeqLen;
    if (this.state === 'done') throw new Error('StagedSequence: advance after done');
    if (this.state === 'closing' && this.closeBlock()) return this.finish(position);
    if (this.state === 'inside') {
      if (this.stageStart < 0) this.stageStart = performance.now();
      if (!room()) {
        this.closedBy = 'max-tokens';
        this.closeBlock();
        return this.finish(position);
      }
      const { end } = plan.steps.get(this.stage)!;
      if (this.content.length >= plan.budget(this.stage)) {
        this.closedBy = 'budget';
        return this.feedEnd(end);
      }
      const id = this.sample(ban(tokenizerLogits(logits, plan.tokenizer.vocabSize), this.banned));
      if (id === end) {
        this.closedBy = 'model';
        return this.feedEnd(end);
      }
      if (plan.stopIds.has(id)) {
        this.closedBy = 'eos';
        if (this.closeBlock()) return this.finish(position);
      } else {
        this.content.push(id);
        result.totalTokens++;
        const piece = this.stream!.push(id);
        this.pending.push({
          type: 'token',
          stage: this.stage,
          id,
          text: this.content.length === 1 ? piece.replace(/^ /, '') : piece,
          expert: plan.expertOf(this.stage),
        });
        return { id, expert: this.stage };
      }
    }
    // ---- between blocks: choose the next stage
    if (!room()) return this.finish(position);
    const { names, forced, steps } = plan;
    let stage: Stage;
    if (forced) stage = forced[this.forcedAt++];
    else {
      const allowed = names.slice(this.next).map((s) => steps.get(s)!.start);
      const id = this.sample(restrict(logits, allowed));
      const chosen = names.find((s) => steps.get(s)!.start === id);
      // the sampler only returns an allowed id (it throws on logits it cannot sample from); kept as a guard
      if (chosen === undefined)
        throw new Error(
          `StagedSequence: sampled id ${id}, not a start token of ${names.slice(this.next).join(', ')}`,
        );
      stage = chosen;
    }
    this.next = names.indexOf(stage) + 1;
    this.pending.push({ type: 'stage-start', stage });
    this.openBlock(stage);
    result.totalTokens++;
    result.order.push(stage);
    return { id: steps.get(stage)!.start, expert: stage };
  }

  private openBlock(stage: Stage): void {
    const { plan } = this;
    const banned = new Set(plan.stepIds);
    banned.delete(plan.steps.get(stage)!.end);
    banned.add(plan.tokenizer.bosId);
    if (stage !== 'answer') for (const id of plan.stopIds) banned.add(id);
    this.stage = stage;
    this.banned = banned;
    this.content = [];
    this.stream = plan.tokenizer.streamDecoder();
    this.closedBy = 'max-tokens';
    this.stageStart = -1;
    this.state = 'inside';
  }

  /** The end token, fed or sampled, enters the cache under this stage; the block closes on the next advance. */
  private feedEnd(end: number): StagedFeed {
    this.result.totalTokens++;
    this.state = 'closing';
    return { id: end, expert: this.stage };
  }

  /** Records the open block and its stage-end event; returns whether the chain stops after it. */
  private closeBlock(): boolean {
    const { plan, result, stage, closedBy } = this;
    const { tokenizer } = plan;
    const { start, end } = plan.steps.get(stage)!;
    const text = tokenizer.decode(this.content).replace(/^ /, '');
    result.stages[stage] = text;
    result.tokensPerStage[stage] = this.content.length;
    result.text += `${tokenizer.idToPiece(start)} ${text}${closedBy === 'max-tokens' ? '' : tokenizer.idToPiece(end)}`;
    this.pending.push({
      type: 'stage-end',
      stage,
      text,
      tokens: this.content.length,
      ms: performance.now() - this.stageStart,
      closedBy,
    });
    this.state = 'between';
    if (stage === 'answer' && closedBy !== 'max-tokens') {
      result.stopReason = 'answer-closed';
      return true;
    }
    return plan.forced !== null && this.forcedAt >= plan.forced.length;
  }

  private finish(position: number): null {
    const { result } = this;
    if (result.stopReason !== 'answer-closed' && position >= this.plan.maxSeqLen)
      result.stopReason = 'context';
    result.ms = performance.now() - this.t0;
    this.state = 'done';
    this.pending.push({ type: 'done', result });
    return null;
  }
}

/** Logits with every id but `allowed` set to −∞. */
function restrict(logits: Float32Array, allowed: readonly number[]): Float32Array {
  const out = new Float32Array(logits.length).fill(Number.NEGATIVE_INFINITY);
  for (const id of allowed) out[id] = logits[id];
  return out;
}

/** Logits with `banned` ids set to −∞. */
function ban(logits: Float32Array, banned: ReadonlySet<number>): Float32Array {
  const out = Float32Array.from(logits);
  for (const id of banned) out[id] = Number.NEGATIVE_INFINITY;
  return out;
}
