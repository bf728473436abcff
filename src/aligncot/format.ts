// Chain ⇄ text with step tokens (method.md §1 "Serialisation"). A chain is the assistant's turn of a conversation in
// the model's chat format (tokenizer/chat-template.ts): the question as the user turn (a dialogue as its turns), the
// step blocks as the assistant's reply:
//
//   text     = render(question turns, add_generation_prompt) + block(stage₁) + block(stage₂) + …
//              (stages of the StageSet present in the chain)
//   block(s) = "{start} {content}{end}"                          e.g. "<|analysis|> It asks for …<|/analysis|>"
//   content  = the stage's text; for `check`: "{verdict}" or "{verdict}: {text}"
//
// With a model's template (SmolLM2's ChatML) that is
//   "<|im_start|>system\n…<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"
//   + "<|analysis|> …<|/analysis|><|response|> …<|/response|>"
// A model without one (the llama2.c stories) uses the default template, whose rendering is `formatQuestion`:
//   question = "User: {q}\n"                                     for a string question
//            = "{Role}: {content}\n" for each turn               for a dialogue (Role: System | User | Assistant)
// with no "Assistant:" cue: the step tokens themselves mark where the reply starts. The end-of-turn token (EOS for
// the default template), and BOS unless the template writes it, are not part of the text: `encodeChain` adds them
// (tokenizer/chat-format.ts). `parseChainText` reads the default format back.

import { STAGES, STEP_TOKENS, type Stage } from '../steps.js';
import { type ChatTemplate, defaultChatTemplate } from '../tokenizer/chat-template.js';
import { FormatError } from '../util/errors.js';
import type { Chain, Turn } from './chain.js';
import { type StageSet, THREE_STAGE } from './stages.js';

/** The fields of a chain that have text: what `formatChain` renders and `parseChainText` gives back. */
export type ChainFields = Omit<Chain, 'id' | 'meta'>;

/** The line prefix of each role. */
export const ROLE_PREFIX: Readonly<Record<Turn['role'], string>> = Object.freeze({
  system: 'System: ',
  user: 'User: ',
  assistant: 'Assistant: ',
});

/** A question as conversation turns: a string is one user turn. */
export function questionTurns(question: string | readonly Turn[]): Turn[] {
  return typeof question === 'string' ? [{ role: 'user', content: question }] : [...question];
}

/**
 * The question in the default format: "User: {q}\n", or one "{Role}: {content}\n" line per turn (what the default
 * chat template renders; plain text for instructions and statistics).
 */
export function formatQuestion(question: string | readonly Turn[]): string {
  return questionTurns(question)
    .map((t) => `${ROLE_PREFIX[t.role]}${t.content}\n`)
    .join('');
}

/** The step blocks of a chain (the assistant's reply): "{start} {content}{end}" per stage present. */
export function formatBlocks(chain: ChainFields, stages: StageSet = THREE_STAGE): string {
  let out = '';
  for (const { name, start, end } of stages) {
    const content = stageText(chain, name);
    if (content !== undefined) out += `${start} ${content}${end}`;
  }
  return out;
}

/** The content of one stage's block, or undefined when the chain does not have that stage. */
export function stageText(chain: ChainFields, stage: Stage): string | undefined {
  if (stage !== 'check') return chain[stage];
  if (!chain.check) return undefined;
  return chain.check.text === undefined ? chain.check.verdict : `${chain.check.verdict}: ${chain.check.text}`;
}

/**
 * Renders a chain as text with step tokens inside `template`'s chat format (file header; default: the default
 * template). Only the stages in `stages` are written (a `check` is left out of the default 3-stage set). Throws a
 * FormatError when a text contains a step token string, which would make the steps unreadable (loadChains already
 * rejects such chains), or when the template fails to render the question.
 */
export function formatChain(
  chain: ChainFields & { id?: string },
  stages: StageSet = THREE_STAGE,
  template: ChatTemplate = defaultChatTemplate(),
): string {
  const turns = typeof chain.question === 'string' ? [chain.question] : chain.question.map((t) => t.content);
  for (const piece of [...turns, ...stages.map((s) => stageText(chain, s.name))]) {
    const token = piece === undefined ? undefined : RESERVED.find((t) => piece.includes(t));
    if (token) {
      const where = `chain ${JSON.stringify(chain.id ?? '')}`;
      throw new FormatError(where, '', `expected text without the reserved step token ${token}`);
    }
  }
  const prompt = template.render(questionTurns(chain.question), { addGenerationPrompt: true });
  return prompt + formatBlocks(chain, stages);
}

/**
 * Inverse of `formatChain` with the default template: text with step tokens (e.g. `tokenizer.decode(ids)`) → chain
 * fields. Blocks may be any of the four stages, in chain order, each at most once, with only whitespace between and
 * after them; an answer block is required. A one-turn user dialogue comes back as a string question, so
 * `parseChainText(formatChain(c))` equals `c` up to that normalisation. A dialogue round-trips exactly when no
 * turn content contains a line starting with a role prefix ("User: " …). Throws a FormatError (with the
 * character offset) on any other text.
 */
export function parseChainText(text: string): ChainFields {
  const first = firstStart(text, 0);
  if (!first)
    throw parseError(text.length, `expected a step start token (${STEP_TOKENS.answer.start} …), found none`);
  const fields: Partial<ChainFields> & { question: ChainFields['question'] } = {
    question: parseQuestion(text.slice(0, first.at)),
  };
  let pos = first.at;
  let last = -1;
  while (pos < text.length) {
    const found = firstStart(text, pos);
    if (!found || text.slice(pos, found.at).trim() !== '') {
      if (text.slice(pos).trim() === '') break;
      throw parseError(
        pos,
        `expected a step start token or the end of the text, got ${JSON.stringify(text.slice(pos, pos + 20))}`,
      );
    }
    const order = STAGES.indexOf(found.stage);
    if (order <= last)
      throw parseError(
        found.at,
        `expected stages in chain order (${STAGES.join(' → ')}), each once; got ${found.stage} again or late`,
      );
    last = order;
    const { start, end } = STEP_TOKENS[found.stage];
    const from = found.at + start.length;
    const to = text.indexOf(end, from);
    if (to < 0) throw parseError(found.at, `expected ${end} to close ${start}`);
    let content = text.slice(from, to);
    if (content.startsWith(' ')) content = content.slice(1);
    const stray = RESERVED.find((t) => content.includes(t));
    if (stray) throw parseError(from, `expected ${end} before any other step token, got ${stray}`);
    setStage(fields, found.stage, content, from);
    pos = to + end.length;
  }
  if (fields.answer === undefined)
    throw parseError(
      text.length,
      `expected an answer block ${STEP_TOKENS.answer.start}…${STEP_TOKENS.answer.end}`,
    );
  return fields as ChainFields;
}

// ---------------------------------------------------------------------------------------------------
// helpers

const RESERVED = STAGES.flatMap((s) => [STEP_TOKENS[s].start, STEP_TOKENS[s].end]);
const ROLE_OF = new Map(Object.entries(ROLE_PREFIX).map(([role, prefix]) => [prefix, role as Turn['role']]));
const TURN_BREAK = /\n(?=(?:System|User|Assistant): )/;

function firstStart(text: string, from: number): { stage: Stage; at: number } | undefined {
  let best: { stage: Stage; at: number } | undefined;
  for (const stage of STAGES) {
    const at = text.indexOf(STEP_TOKENS[stage].start, from);
    if (at >= 0 && (!best || at < best.at)) best = { stage, at };
  }
  return best;
}

function parseQuestion(region: string): ChainFields['question'] {
  if (!region.endsWith('\n'))
    throw parseError(
      region.length,
      'expected the question to end with a newline before the first step token',
    );
  const turns: Turn[] = [];
  let offset = 0;
  for (const part of region.slice(0, -1).split(TURN_BREAK)) {
    const prefix = [...ROLE_OF.keys()].find((p) => part.startsWith(p));
    if (!prefix)
      throw parseError(
        offset,
        `expected a turn starting with "User: ", "Assistant: " or "System: ", got ${JSON.stringify(part.slice(0, 20))}`,
      );
    turns.push({ role: ROLE_OF.get(prefix)!, content: part.slice(prefix.length) });
    offset += part.length + 1;
  }
  return turns.length === 1 && turns[0].role === 'user' ? turns[0].content : turns;
}

function setStage(fields: Partial<ChainFields>, stage: Stage, content: string, at: number): void {
  if (stage !== 'check') {
    fields[stage] = content;
    return;
  }
  const m = /^(safe|unsafe)(?:: ([\s\S]*))?$/.exec(content);
  if (!m)
    throw parseError(
      at,
      `expected a check "safe" or "unsafe", optionally followed by ": text", got ${JSON.stringify(content.slice(0, 20))}`,
    );
  fields.check =
    m[2] === undefined
      ? { verdict: m[1] as 'safe' | 'unsafe' }
      : { verdict: m[1] as 'safe' | 'unsafe', text: m[2] };
}

function parseError(offset: number, reason: string): FormatError {
  return new FormatError('chain text', `offset ${offset}`, reason);
}
