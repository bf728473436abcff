// Step templates: the defaults are valid and render as documented; a directory overrides some of them;
// a bad template is reported with file, line and tag.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TEMPLATES,
  loadTemplates,
  renderMessages,
  renderTemplate,
  TEMPLATE_NAMES,
  validateTemplate,
  writeDefaultTemplates,
} from '../../../src/aligncot/build/index.js';
import { tempDir } from './helpers.js';

describe('default templates', () => {
  it.each(TEMPLATE_NAMES)('%s is valid', (name) => {
    expect(() => validateTemplate(name, DEFAULT_TEMPLATES[name])).not.toThrow();
  });

  it('answer is the question alone; a dialogue renders as role lines', () => {
    expect(renderTemplate(DEFAULT_TEMPLATES, 'answer', { question: '  What is 2+2? ' })).toBe('What is 2+2?');
    const dialogue = [
      { role: 'user' as const, content: 'hi' },
      { role: 'assistant' as const, content: 'hello' },
      { role: 'user' as const, content: 'bye?' },
    ];
    expect(renderTemplate(DEFAULT_TEMPLATES, 'answer', { question: dialogue })).toBe(
      'User: hi\nAssistant: hello\nUser: bye?',
    );
  });

  it('a template of only {{question}} sends a dialogue as its turns; any other one as one user message', () => {
    const dialogue = [
      { role: 'user' as const, content: 'hi ' },
      { role: 'assistant' as const, content: 'hello' },
      { role: 'user' as const, content: 'bye?' },
    ];
    expect(renderMessages(DEFAULT_TEMPLATES, 'answer', { question: dialogue })).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'bye?' },
    ]);
    expect(renderMessages(DEFAULT_TEMPLATES, 'answer', { question: 'Q?' })).toEqual([
      { role: 'user', content: 'Q?' },
    ]);
    const analysis = renderMessages(DEFAULT_TEMPLATES, 'analysis', { question: dialogue });
    expect(analysis).toHaveLength(1);
    expect(analysis[0].content).toContain('Request:\nUser: hi\nAssistant: hello\nUser: bye?');
  });

  it('answer-with-reasoning shows the guidance section only with a guidance', () => {
    const withAnalysis = renderTemplate(DEFAULT_TEMPLATES, 'answer-with-reasoning', {
      question: 'Q',
      analysis: 'A',
    });
    expect(withAnalysis).toMatch(
      /Take the analysis into account, but do not mention it\.\n\nRequest:\nQ\n\nAnalysis:\nA$/,
    );
    const full = renderTemplate(DEFAULT_TEMPLATES, 'answer-with-reasoning', {
      question: 'Q',
      analysis: 'A',
      guidance: 'G',
    });
    expect(full).toMatch(
      /Take the analysis and the guidance into account, but do not mention them\.\n\nRequest:\nQ\n\nAnalysis:\nA\n\nGuidance:\nG$/,
    );
  });

  it('check shows the question and the answer and asks for the verdict first', () => {
    const text = renderTemplate(DEFAULT_TEMPLATES, 'check', { question: 'Q', answer: 'ANS' });
    expect(text).toContain('Request:\nQ\n\nResponse:\nANS\n\nReply with one word, SAFE or UNSAFE');
  });
});

describe('template overrides', () => {
  it('reads {name}.txt files over the defaults and writes the defaults back out', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'check.txt'), 'Is this ok? {{answer}} (asked: {{question}})');
    await writeFile(join(dir, 'README.md'), 'not a template');
    const t = await loadTemplates(dir);
    expect(renderTemplate(t, 'check', { question: 'q', answer: 'a' })).toBe('Is this ok? a (asked: q)');
    expect(t.analysis).toBe(DEFAULT_TEMPLATES.analysis);
    const out = join(dir, 'defaults');
    const paths = await writeDefaultTemplates(out);
    expect(paths.map((p) => p.slice(out.length + 1))).toEqual(TEMPLATE_NAMES.map((n) => `${n}.txt`));
    expect(await loadTemplates(out)).toEqual(DEFAULT_TEMPLATES);
    expect(await readFile(paths[2], 'utf8')).toBe(DEFAULT_TEMPLATES.analysis);
  });

  it.each([
    [
      'analysis.txt',
      'Think about {{questoin}}',
      /analysis\.txt:1: tag \{\{questoin\}\}: expected \{\{name\}\}, \{\{#name\}\}, \{\{\^name\}\} or \{\{\/name\}\} with name one of question$/,
    ],
    [
      'guidance.txt',
      '{{question}}\n{{analysis}}\n{{answer}}',
      /guidance\.txt:3: tag \{\{answer\}\}: expected .* one of question, analysis$/,
    ],
    ['check.txt', 'Judge {{answer}}', /check\.txt: expected the template to use \{\{question\}\}$/],
    [
      'answer-with-reasoning.txt',
      '{{question}} {{analysis}}\n{{#guidance}}{{guidance}}',
      /answer-with-reasoning\.txt:2: section \{\{#guidance\}\} is never closed$/,
    ],
    [
      'answer-with-reasoning.txt',
      '{{question}}{{#analysis}}{{#guidance}}{{guidance}}{{/guidance}}{{/analysis}}',
      /tag \{\{#guidance\}\}: sections do not nest/,
    ],
    [
      'anwser.txt',
      '{{question}}',
      /anwser\.txt: unknown template file; expected one of answer\.txt, check\.txt, analysis\.txt, guidance\.txt, answer-with-reasoning\.txt$/,
    ],
  ])('rejects %s %j', async (file, text, message) => {
    const dir = await tempDir();
    await writeFile(join(dir, file), text);
    await expect(loadTemplates(dir)).rejects.toThrow(message);
  });

  it('rejects a templates path that is not a directory', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'x'));
    await expect(loadTemplates(join(dir, 'missing'))).rejects.toThrow(
      /missing: expected a directory of template files, got ENOENT/,
    );
  });
});
