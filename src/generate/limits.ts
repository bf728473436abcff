// One rule for token limits against a model's context, used by every command that generates (generate, chat,
// eval, the chain builder's own model, the demo):
//   - a limit larger than the context allows is clamped to it, with a note: a generation can never write more
//     than the context minus one token (the prompt holds at least BOS), a stage block's content never more than
//     the context minus three (BOS, the block's start and end tokens);
//   - a prompt fits when it leaves room for the reply it asks for, where that room counts at most half the
//     context: a huge limit then means "as long as the context allows", never "no prompt fits".
import type { Stage } from '../steps.js';

/** The limits a generation takes (GenerateConfig / StagedConfig fields). */
export interface TokenLimits {
  maxTokens?: number;
  maxTokensPerStage?: number | Partial<Record<Stage, number>>;
}

/** Most tokens one generation can write after a prompt in a `context`-token window. */
export const generationCeiling = (context: number): number => context - 1;

/** Most content tokens of one stage block in a `context`-token window. */
export const stageCeiling = (context: number): number => context - 3;

/**
 * `limits` with every value above its ceiling lowered to it, and one note per value lowered, naming it by
 * `labels` (e.g. the flag: `--max-tokens`).
 */
export function clampTokenLimits<T extends TokenLimits>(
  limits: T,
  context: number,
  labels: { maxTokens?: string; maxTokensPerStage?: string } = {},
): { limits: T; notes: string[] } {
  const notes: string[] = [];
  const clamp = (value: number, ceiling: number, label: string): number => {
    if (!(value > ceiling)) return value;
    notes.push(
      `note: ${label} ${value} is more than the model's context of ${context} tokens allows; using ${ceiling}`,
    );
    return ceiling;
  };
  const out: T = { ...limits };
  if (limits.maxTokens !== undefined)
    out.maxTokens = clamp(limits.maxTokens, generationCeiling(context), labels.maxTokens ?? 'maxTokens');
  const perStage = limits.maxTokensPerStage;
  const label = labels.maxTokensPerStage ?? 'maxTokensPerStage';
  if (typeof perStage === 'number') out.maxTokensPerStage = clamp(perStage, stageCeiling(context), label);
  else if (perStage !== undefined)
    out.maxTokensPerStage = Object.fromEntries(
      Object.entries(perStage).map(([s, v]) => [
        s,
        clamp(v as number, stageCeiling(context), `${label} (${s})`),
      ]),
    );
  return { limits: out, notes };
}

/**
 * The most prompt tokens that leave room for a reply of `reply` tokens in a `context`-token window, the room
 * counting at most half the context (file header).
 */
export function promptRoom(context: number, reply: number): number {
  return context - Math.min(reply, Math.floor(context / 2));
}
