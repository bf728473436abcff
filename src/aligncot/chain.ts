// The AlignCoT chain: a question and the self-generated steps that answer it (method.md §1).

import type { ChatMessage } from '../tokenizer/chat-template.js';

/** One turn of a multi-turn question: a chat message, as chat templates render it. */
export type Turn = ChatMessage;

/** The Safety Check of the 4-stage chain. */
export interface SafetyCheck {
  verdict: 'safe' | 'unsafe';
  text?: string;
}

/** One line of a chains JSONL file. */
export interface Chain {
  /** Unique within a file; used for resume and held-out splits. */
  id: string;
  /** The user question, or a dialogue whose last turn is the user's. */
  question: string | Turn[];
  /** Question Analysis: explicit and implicit risks of the question. Absent when skipped. */
  analysis?: string;
  /** Answer Guidance: how a safe, helpful answer should be written. Absent when skipped. */
  guidance?: string;
  /** The Safe Answer. Always present. */
  answer: string;
  /** Safety Check verdict on the answer (4-stage chains). */
  check?: SafetyCheck;
  /** Free-form provenance (source data set, generator, attempts…). */
  meta?: Record<string, unknown>;
}
