// What `mote generate` and `mote chat` share about staged generation: reading a --mode, showing stages as they
// stream (a header per stage, reasoning dimmed on a terminal, optionally hidden), and the one-line token summary.

import { resolveStagedConfig } from '../generate/staged.js';
import type { StagedEvent, StagedResult, StageMode } from '../generate/types.js';
import { STAGES, type Stage } from '../steps.js';
import { terminalSafe } from './terminal-text.js';

const NAMED_MODES = ['adaptive', 'answer', 'analysis-answer', 'full'] as const;

/** The modes a flag accepts, for help texts. */
export const MODE_HELP =
  "adaptive (the model picks its stages), answer, analysis-answer, full, or stages joined by '+' (analysis+guidance+answer)";

/**
 * Reads a mode: a named mode, or a list of stages joined by '+' (or ',' when `commas`) in chain order ending with
 * the answer. Throws naming `flag` and what is allowed.
 */
export function parseStageMode(value: string, flag = '--mode', commas = true): StageMode {
  const v = value.trim();
  if ((NAMED_MODES as readonly string[]).includes(v)) return v as StageMode;
  const parts = v.split(commas ? /[+,]/ : /\+/).map((s) => s.trim());
  if (parts.length > 1 && parts.every((p) => (STAGES as readonly string[]).includes(p))) {
    try {
      resolveStagedConfig({ mode: parts as Stage[] }); // chain order, ending with the answer
    } catch (e) {
      throw new Error(`${flag} ${JSON.stringify(value)}: ${(e as Error).message}`);
    }
    return parts as Stage[];
  }
  throw new Error(`${flag} ${JSON.stringify(value)}: expected ${MODE_HELP}`);
}

/** A mode's name in outputs and reports: 'adaptive', 'full', or the stages joined by '-' ('analysis-answer'). */
export function modeName(mode: StageMode): string {
  return typeof mode === 'string' ? mode : mode.join('-');
}

/** Whether to colour a stream: a terminal, and NO_COLOR unset (https://no-color.org). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return stream.isTTY === true && !process.env.NO_COLOR;
}

export const dim = (s: string, color: boolean) => (color ? `\x1b[2m${s}\x1b[22m` : s);
export const bold = (s: string, color: boolean) => (color ? `\x1b[1m${s}\x1b[22m` : s);

/** How to show the stages. */
export interface StageViewOptions {
  write: (text: string) => void;
  color: boolean;
  /** Show reasoning stages (analysis, guidance) as they stream; hidden ones get a one-line note. */
  showReasoning: boolean;
}

/** A stage display: feed it events; `close` ends a line left open (a reply stopped mid-stage). */
export interface StageView {
  onEvent(e: StagedEvent): void;
  close(): void;
}

/**
 * Shows each stage as `[stage] text…` on its own line(s): the answer plain, reasoning dimmed on a terminal, or
 * (hidden) a dimmed `[analysis: 31 tokens hidden]` once the stage ends. A stage cut by its budget ends with '…'.
 */
export function stageView(o: StageViewOptions): StageView {
  let open = false;
  const shown = (s: Stage) => s === 'answer' || o.showReasoning;
  const style = (s: Stage, text: string) => (s === 'answer' ? text : dim(text, o.color));
  return {
    onEvent(e) {
      if (e.type === 'stage-start' && shown(e.stage)) {
        const header = `[${e.stage}]`;
        o.write(`${e.stage === 'answer' ? bold(header, o.color) : dim(header, o.color)} `);
        open = true;
      } else if (e.type === 'token' && shown(e.stage)) {
        o.write(style(e.stage, terminalSafe(e.text))); // model output: control characters shown escaped
      } else if (e.type === 'stage-end') {
        if (shown(e.stage)) {
          const cut = e.closedBy === 'budget' || e.closedBy === 'max-tokens';
          o.write(`${cut ? dim(' …', o.color) : ''}\n`);
          open = false;
        } else o.write(`${dim(`[${e.stage}: ${e.tokens} tokens hidden]`, o.color)}\n`);
      }
    },
    close() {
      if (open) o.write('\n');
      open = false;
    },
  };
}

/** "analysis 31 · answer 12 tokens (47 in all), 0.42 s, stop: answer-closed". */
export function resultLine(r: StagedResult): string {
  const parts = r.order.map((s) => `${s} ${r.tokensPerStage[s] ?? 0}`).join(' · ');
  return `${parts || 'no stage'} tokens (${r.totalTokens} in all), ${(r.ms / 1000).toFixed(2)} s, stop: ${r.stopReason}`;
}

/** Lets timers, signals and input run between generated tokens (the generator itself never yields to them). */
export const nextTick = () => new Promise<void>((done) => setImmediate(done));
