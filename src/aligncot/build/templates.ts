// Prompt templates of the build steps. Syntax (a small subset of Mustache):
//
//   {{question}}  {{analysis}}  {{guidance}}  {{answer}}     the value (trimmed); a dialogue question renders
//                                                           as "User: …\nAssistant: …\nUser: …" lines
//   {{#guidance}} … {{/guidance}}                           kept only when the value is present
//   {{^guidance}} … {{/guidance}}                           kept only when it is absent
//
// A section tag alone on its line removes the whole line. Sections do not nest. Each template must use the
// variables its step needs (REQUIRED) and no others. The rendered text is sent as one user message, except
// that a template that is only `{{question}}` (the default `answer`) sends a dialogue question as its own
// turns, so the direct answer continues the conversation as a chat (and, for the own model, as chain text).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { FormatError } from '../../util/errors.js';
import type { Turn } from '../chain.js';
import { formatQuestion } from '../format.js';
import { DEFAULT_TEMPLATE_TEXT } from './templates/defaults.js';

/** The template of each step; the file name of an override is `${name}.txt`. */
export const TEMPLATE_NAMES = ['answer', 'check', 'analysis', 'guidance', 'answer-with-reasoning'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** The values a template can show. */
export type TemplateVariable = 'question' | 'analysis' | 'guidance' | 'answer';

/** The text of every template. */
export type Templates = Readonly<Record<TemplateName, string>>;

/** The values a template is rendered with. */
export interface TemplateValues {
  question: string | readonly Turn[];
  analysis?: string;
  guidance?: string;
  answer?: string;
}

/** Variables each template must use, and the ones it may use. */
const REQUIRED: Readonly<Record<TemplateName, readonly TemplateVariable[]>> = {
  answer: ['question'],
  check: ['question', 'answer'],
  analysis: ['question'],
  guidance: ['question', 'analysis'],
  'answer-with-reasoning': ['question', 'analysis', 'guidance'],
};
const ALLOWED: Readonly<Record<TemplateName, readonly TemplateVariable[]>> = {
  ...REQUIRED,
  guidance: ['question', 'analysis'],
};

/** The built-in templates (templates/defaults.ts). */
export const DEFAULT_TEMPLATES: Templates = Object.freeze({ ...DEFAULT_TEMPLATE_TEXT });

/**
 * The default templates with the ones in `dir` (files `answer.txt`, `check.txt`, `analysis.txt`,
 * `guidance.txt`, `answer-with-reasoning.txt`; any subset) put over them. Other `.txt` files are an error
 * (a misspelt name would otherwise be ignored); each file is validated (see `validateTemplate`).
 */
export async function loadTemplates(dir?: string): Promise<Templates> {
  if (dir === undefined) return DEFAULT_TEMPLATES;
  const files = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    throw new FormatError(dir, '', `expected a directory of template files, got ${e.code ?? e.message}`);
  });
  const out: Record<TemplateName, string> = { ...DEFAULT_TEMPLATES };
  for (const f of files.filter((f) => f.endsWith('.txt'))) {
    const name = f.slice(0, -4) as TemplateName;
    if (!TEMPLATE_NAMES.includes(name)) {
      const expected = TEMPLATE_NAMES.map((n) => `${n}.txt`).join(', ');
      throw new FormatError(join(dir, f), '', `unknown template file; expected one of ${expected}`);
    }
    out[name] = await readFile(join(dir, f), 'utf8');
    validateTemplate(name, out[name], join(dir, f));
  }
  return Object.freeze(out);
}

/** Writes the default templates into `dir` as `${name}.txt` files to edit; returns their paths. */
export async function writeDefaultTemplates(dir: string): Promise<string[]> {
  const paths = TEMPLATE_NAMES.map((name) => join(dir, `${name}.txt`));
  await Promise.all(TEMPLATE_NAMES.map((name, i) => writeFileAtomic(paths[i], DEFAULT_TEMPLATES[name])));
  return paths;
}

/**
 * Checks a template's tags: only `{{var}}`, `{{#var}}`, `{{^var}}`, `{{/var}}` with a variable the step
 * allows, balanced, unnested sections, and every required variable used. Throws a FormatError naming
 * `where` (file), the line, the tag and what was expected.
 */
export function validateTemplate(name: TemplateName, text: string, where = `template ${name}`): void {
  const allowed = ALLOWED[name];
  const used = new Set<string>();
  let open: { name: string; line: number } | undefined;
  for (const m of text.matchAll(/\{\{([^}]*)\}\}/g)) {
    const line = String(text.slice(0, m.index).split('\n').length);
    const tag = /^([#^/]?)([a-z-]+)$/.exec(m[1]);
    const fail = (reason: string) => new FormatError(where, line, `tag ${m[0]}: ${reason}`);
    if (!tag || !allowed.includes(tag[2] as TemplateVariable))
      throw fail(
        `expected {{name}}, {{#name}}, {{^name}} or {{/name}} with name one of ${allowed.join(', ')}`,
      );
    const [, kind, variable] = tag;
    if (kind === '#' || kind === '^') {
      if (open)
        throw fail(`sections do not nest (section ${open.name} opened on line ${open.line} is still open)`);
      open = { name: variable, line: Number(line) };
    } else if (kind === '/') {
      if (open?.name !== variable) throw fail(`expected {{/${open?.name ?? '…'}}} or no closing tag here`);
      open = undefined;
    } else used.add(variable);
  }
  if (open) throw new FormatError(where, String(open.line), `section {{#${open.name}}} is never closed`);
  const missing = REQUIRED[name].filter((v) => !used.has(v));
  if (missing.length > 0)
    throw new FormatError(
      where,
      '',
      `expected the template to use ${missing.map((v) => `{{${v}}}`).join(', ')}`,
    );
}

/** Renders one template; the result is trimmed. */
export function renderTemplate(templates: Templates, name: TemplateName, values: TemplateValues): string {
  const text: Partial<Record<TemplateVariable, string>> = {
    question:
      typeof values.question === 'string'
        ? values.question.trim()
        : formatQuestion(values.question.map((t) => ({ ...t, content: t.content.trim() }))).trim(),
    analysis: values.analysis?.trim(),
    guidance: values.guidance?.trim(),
    answer: values.answer?.trim(),
  };
  const has = (v: string) => text[v as TemplateVariable] !== undefined;
  return templates[name]
    .replace(/^[ \t]*(\{\{[#^/][a-z-]+\}\})[ \t]*\r?\n/gm, '$1')
    .replace(/\{\{([#^])([a-z-]+)\}\}([\s\S]*?)\{\{\/\2\}\}/g, (_, kind, v, body) =>
      (kind === '#') === has(v) ? body : '',
    )
    .replace(/\{\{([a-z-]+)\}\}/g, (_, v) => text[v as TemplateVariable] ?? '')
    .trim();
}

/** The messages of one request: the rendered template as one user message, or the turns (see the header). */
export function renderMessages(templates: Templates, name: TemplateName, values: TemplateValues): Turn[] {
  if (typeof values.question !== 'string' && templates[name].trim() === '{{question}}')
    return values.question.map((t) => ({ role: t.role, content: t.content.trim() }));
  return [{ role: 'user', content: renderTemplate(templates, name, values) }];
}
