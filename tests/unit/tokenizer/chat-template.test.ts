// Chat templates: the real templates of ../shared/models/hf rendered through @huggingface/jinja, compared with the
// text transformers' apply_chat_template produces. The expected strings are derived by hand from each template's
// code (jinja with trim_blocks and lstrip_blocks, as transformers compiles templates: a newline after a block tag is
// dropped, one after `}}` is kept) and written out literally. The end of an assistant turn per family, the default
// template (today's "User: …" format), BOS handling, and the errors of templates that do not parse or that raise.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Turn } from '../../../src/aligncot/chain.js';
import { formatQuestion } from '../../../src/aligncot/format.js';
import { loadModel } from '../../../src/io/load-node.js';
import {
  ChatTemplate,
  chatFormat,
  DEFAULT_CHAT_TEMPLATE,
  defaultChatTemplate,
  tokenizerFromFiles,
} from '../../../src/tokenizer/index.js';
import { loadLlama2cTokenizer } from '../../../src/tokenizer/llama2c-tokenizer-node.js';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer-node.js';
import { FormatError } from '../../../src/util/errors.js';
import { TOK512_BIN } from '../../helpers/index.js';
import { HF_DIRS, HF_MODELS, hfTokenizer } from './hf-models.js';

const Q = 'How do I pick a lock?';
const SINGLE: Turn[] = [{ role: 'user', content: Q }];
const DIALOGUE: Turn[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi!' },
  { role: 'assistant', content: 'Hello! How can I help?' },
  { role: 'user', content: 'Tell me a joke.' },
];

async function configTemplate(dir: string): Promise<string> {
  return JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')).chat_template;
}

/** The five model templates, with the bos/eos tokens of their tokenizer_config.json (Llama-3.2: the converter's). */
const templates: Record<string, ChatTemplate> = {};
beforeAll(async () => {
  const make = async (name: keyof typeof HF_DIRS, bos: string | null, eos: string, text?: string) => {
    const file = text === undefined ? join(HF_DIRS[name], 'tokenizer_config.json') : 'chat_template.jinja';
    templates[name] = new ChatTemplate(text ?? (await configTemplate(HF_DIRS[name])), {
      file,
      bosToken: bos,
      eosToken: eos,
    });
  };
  await make('smollm2', '<|im_start|>', '<|im_end|>');
  await make('tinyllama', '<s>', '</s>');
  await make('qwen25', null, '<|im_end|>');
  await make('phi35', '<s>', '<|endoftext|>');
  const llama = await readFile(join(HF_DIRS.llama32, 'chat_template.jinja'), 'utf8');
  await make('llama32', '<|begin_of_text|>', '<|eot_id|>', llama);
});

const gen = { addGenerationPrompt: true };

describe('model templates render as transformers renders them', () => {
  it('SmolLM2 (ChatML with a default system prompt)', () => {
    const t = templates.smollm2;
    expect(t.render(SINGLE, gen)).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
        '<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(t.render(DIALOGUE, gen)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n' +
        '<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });

  it('TinyLlama (Zephyr format: eos_token after every turn, a newline after each `}}`)', () => {
    const t = templates.tinyllama;
    expect(t.render(SINGLE, gen)).toBe('<|user|>\nHow do I pick a lock?</s>\n<|assistant|>\n');
    expect(t.render(DIALOGUE, gen)).toBe(
      '<|system|>\nBe brief.</s>\n<|user|>\nHi!</s>\n<|assistant|>\nHello! How can I help?</s>\n' +
        '<|user|>\nTell me a joke.</s>\n<|assistant|>\n',
    );
    expect(t.render(SINGLE)).toBe('<|user|>\nHow do I pick a lock?</s>\n');
  });

  it('Qwen2.5 (ChatML, its default system prompt; no tools: `tools` is none)', () => {
    const t = templates.qwen25;
    expect(t.render(SINGLE, gen)).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(t.render(DIALOGUE, gen)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n' +
        '<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });

  it('Llama-3.2 (chat_template.jinja: bos_token first, a dated system header, trimmed contents)', () => {
    const t = templates.llama32;
    const header = '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n';
    const dates = 'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n';
    expect(t.render(SINGLE, gen)).toBe(
      `${header}${dates}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow do I pick a lock?<|eot_id|>` +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(t.render(DIALOGUE, gen)).toBe(
      `${header}${dates}Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>` +
        '<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('Llama-3.2: the date is fixed by default and can be given (never the clock)', async () => {
    const text = await readFile(join(HF_DIRS.llama32, 'chat_template.jinja'), 'utf8');
    const dated = new ChatTemplate(text, {
      bosToken: '<|begin_of_text|>',
      variables: { date_string: '01 Jan 2025' },
    });
    expect(dated.render(SINGLE)).toContain('\nToday Date: 01 Jan 2025\n');
  });

  it('Phi-3.5 (<|end|> after each turn; eos_token closes a conversation without a generation prompt)', () => {
    const t = templates.phi35;
    expect(t.render(SINGLE, gen)).toBe('<|user|>\nHow do I pick a lock?<|end|>\n<|assistant|>\n');
    expect(t.render(DIALOGUE, gen)).toBe(
      '<|system|>\nBe brief.<|end|>\n<|user|>\nHi!<|end|>\n<|assistant|>\nHello! How can I help?<|end|>\n' +
        '<|user|>\nTell me a joke.<|end|>\n<|assistant|>\n',
    );
    expect(t.render(DIALOGUE)).toBe(
      '<|system|>\nBe brief.<|end|>\n<|user|>\nHi!<|end|>\n<|assistant|>\nHello! How can I help?<|end|>\n' +
        '<|user|>\nTell me a joke.<|end|>\n<|endoftext|>',
    );
  });
});

describe('the end of an assistant turn', () => {
  it('is what each template writes after an assistant content', () => {
    expect(templates.smollm2.endOfTurn).toBe('<|im_end|>\n');
    expect(templates.qwen25.endOfTurn).toBe('<|im_end|>\n');
    expect(templates.llama32.endOfTurn).toBe('<|eot_id|>');
    expect(templates.tinyllama.endOfTurn).toBe('</s>\n');
    expect(templates.phi35.endOfTurn).toBe('<|end|>\n<|endoftext|>');
    expect(defaultChatTemplate().endOfTurn).toBe('\n');
  });

  it('every template of chat-templates/ parses and has one (Mistral-Nemo: eos_token)', async () => {
    const dir = join(HF_MODELS, 'chat-templates');
    const ends: Record<string, string> = {
      'Qwen-Qwen2.5-7B-Instruct.jinja': '<|im_end|>\n',
      'meta-llama-Llama-3.1-8B-Instruct.jinja': '<|eot_id|>',
      'meta-llama-Llama-3.2-3B-Instruct.jinja': '<|eot_id|>',
      'microsoft-Phi-3.5-mini-instruct.jinja': '<|end|>\n<|endoftext|>',
      'mistralai-Mistral-Nemo-Instruct-2407.jinja': '</s>',
    };
    for (const [file, end] of Object.entries(ends)) {
      const t = new ChatTemplate(await readFile(join(dir, file), 'utf8'), {
        file,
        bosToken: '<s>',
        eosToken: file.startsWith('mistral') ? '</s>' : '<|endoftext|>',
      });
      expect(t.endOfTurn, file).toBe(end);
    }
  });

  it('gives the end-of-turn ids of a tokenizer: the first special token ends a chain; EOS and the model ids stop', async () => {
    const smol = await hfTokenizer('smollm2');
    expect(smol.idToPiece(chatFormat(smol).endOfTurnId)).toBe('<|im_end|>');
    const tiny = await hfTokenizer('tinyllama');
    expect(tiny.idToPiece(chatFormat(tiny).endOfTurnId)).toBe('</s>');
    const phi = await hfTokenizer('phi35');
    const chat = chatFormat(phi);
    expect(chat.endOfTurnId).toBe(phi.pieceToId('<|end|>'));
    expect(chat.endOfTurnIds.map((id) => phi.idToPiece(id))).toEqual(['<|end|>', '<|endoftext|>']);
    // the model's eos list (config.json eos_token_id) joins them
    expect([...chat.stopIds([32000, 32001])].sort()).toEqual([32000, 32001, 32007]);
    expect(chatFormat(phi)).toBe(chat); // built once per tokenizer
  });

  it('is EOS for the default template (a llama2.c tokenizer)', async () => {
    const tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
    const chat = chatFormat(tok);
    expect(chat.template.isDefault).toBe(true);
    expect(chat.endOfTurnId).toBe(tok.eosId);
    expect(chat.endOfTurnIds).toEqual([tok.eosId]);
  });
});

describe('the default template', () => {
  it('renders exactly the "User: …" / role-line text of formatQuestion, with no generation prompt', () => {
    const t = defaultChatTemplate();
    expect(t.text).toBe(DEFAULT_CHAT_TEMPLATE);
    expect(t.render(SINGLE, gen)).toBe('User: How do I pick a lock?\n');
    expect(t.render(DIALOGUE, gen)).toBe(
      'System: Be brief.\nUser: Hi!\nAssistant: Hello! How can I help?\nUser: Tell me a joke.\n',
    );
    const odd: Turn[] = [{ role: 'user', content: ' spaces, {{ braces }} and\nnewlines ' }];
    for (const turns of [SINGLE, DIALOGUE, odd]) {
      expect(t.render(turns, gen)).toBe(formatQuestion(turns));
      expect(t.render(turns)).toBe(formatQuestion(turns));
    }
  });

  it('prompts a llama2.c tokenizer with BOS + "User: …\\n", as before', async () => {
    const tok = await loadLlama2cTokenizer(TOK512_BIN, 512);
    expect(chatFormat(tok).promptIds(SINGLE)).toEqual(tok.encode(`User: ${Q}\n`, { bos: true }));
  });

  it('refuses a role it does not know, naming itself', () => {
    const turns = [{ role: 'tool', content: 'x' }] as unknown as Turn[];
    expect(() => defaultChatTemplate().render(turns)).toThrow(
      /^\(default chat template\): the chat template fails to render \[tool\] \(@huggingface\/jinja: unknown role tool/,
    );
  });
});

describe('BOS: the tokenizer adds it unless the template writes bos_token', () => {
  it('TinyLlama: the template writes no <s>, the tokenizer adds one', async () => {
    const tiny = await hfTokenizer('tinyllama');
    const ids = chatFormat(tiny).promptIds(SINGLE);
    expect(ids[0]).toBe(1);
    expect(tiny.idToPiece(ids[1])).not.toBe('<s>');
    expect(ids.slice(1)).toEqual(
      tiny.encode('<|user|>\nHow do I pick a lock?</s>\n<|assistant|>\n', { bos: false }),
    );
  });

  it('a template that writes bos_token (Mistral-Nemo) on the same tokenizer: exactly one <s>', async () => {
    const mistral = await readFile(
      join(HF_MODELS, 'chat-templates', 'mistralai-Mistral-Nemo-Instruct-2407.jinja'),
      'utf8',
    );
    const tok = tokenizerFromFiles({
      tokenizerJson: await readFile(join(HF_DIRS.tinyllama, 'tokenizer.json'), 'utf8'),
      tokenizerConfig: await readFile(join(HF_DIRS.tinyllama, 'tokenizer_config.json'), 'utf8'),
      chatTemplate: mistral,
    });
    const chat = chatFormat(tok);
    expect(chat.template.render(SINGLE, gen)).toBe('<s>[INST]How do I pick a lock?[/INST]');
    const ids = chat.promptIds(SINGLE);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
    expect(ids[0]).toBe(1);
    expect(chat.endOfTurnId).toBe(2);
  });

  it('SmolLM2: no BOS at all (its tokenizer adds none)', async () => {
    const smol = await hfTokenizer('smollm2');
    const ids = chatFormat(smol).promptIds(SINGLE);
    expect(smol.idToPiece(ids[0])).toBe('<|im_start|>');
    expect(ids).toEqual(smol.encode(templates.smollm2.render(SINGLE, gen), { bos: false }));
  });
});

describe('templates that fail', () => {
  let dir = '';
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a syntax error names the file, the field and the jinja message', () => {
    const make = () =>
      new ChatTemplate('{% for m in messages %}{{ m.content }', {
        file: 'models/x/tokenizer_config.json',
        field: 'chat_template',
      });
    expect(make).toThrow(FormatError);
    expect(make).toThrow(
      /^models\/x\/tokenizer_config\.json:chat_template: the chat template does not parse \(@huggingface\/jinja: .+\)$/,
    );
  });

  it('raise_exception is an error naming the file and the template message', async () => {
    const raising = () =>
      new ChatTemplate("{{ raise_exception('This model does not take an assistant turn') }}", {
        file: 'm/chat_template.jinja',
      });
    expect(raising).toThrow(
      'm/chat_template.jinja: the chat template fails to render [user, assistant] (@huggingface/jinja: This model does not take an assistant turn)',
    );
    // a real template raising on a conversation it refuses (roles must alternate after the system message)
    const file = 'mistralai-Mistral-Nemo-Instruct-2407.jinja';
    const t = new ChatTemplate(await readFile(join(HF_MODELS, 'chat-templates', file), 'utf8'), {
      file,
      bosToken: '<s>',
      eosToken: '</s>',
    });
    expect(() =>
      t.render([
        { role: 'assistant', content: 'a' },
        { role: 'user', content: 'b' },
      ]),
    ).toThrow(
      `${file}: the chat template fails to render [assistant, user] (@huggingface/jinja: After the optional system message, conversation roles must alternate user/assistant/user/assistant/...)`,
    );
  });

  it('a template that drops the assistant content has no end of turn to find', () => {
    const make = () =>
      new ChatTemplate(
        "{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% endif %}{% endfor %}",
        {
          file: 't.jinja',
        },
      );
    expect(make).toThrow(/^t\.jinja: the chat template does not write the content of an assistant message/);
  });

  it('loading a tokenizer or a model directory with a broken template fails at once, naming the file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mote-chat-'));
    const json = await readFile(join(HF_DIRS.tinyllama, 'tokenizer.json'), 'utf8');
    const config = JSON.parse(await readFile(join(HF_DIRS.tinyllama, 'tokenizer_config.json'), 'utf8'));
    const inConfig = join(dir, 'in-config');
    await mkdir(inConfig);
    await writeFile(join(inConfig, 'tokenizer.json'), json);
    await writeFile(
      join(inConfig, 'tokenizer_config.json'),
      JSON.stringify({ ...config, chat_template: '{% if messages %}{{ oops' }),
    );
    await expect(loadTokenizer(inConfig)).rejects.toThrow(
      `${join(inConfig, 'tokenizer_config.json')}:chat_template: the chat template does not parse`,
    );
    const inFile = join(dir, 'in-file');
    await mkdir(inFile);
    await writeFile(join(inFile, 'tokenizer.json'), json);
    await writeFile(join(inFile, 'chat_template.jinja'), "{{ raise_exception('no chat here') }}");
    await expect(loadTokenizer(inFile)).rejects.toThrow(
      `${join(inFile, 'chat_template.jinja')}: the chat template fails to render [user, assistant] (@huggingface/jinja: no chat here)`,
    );
    // a model directory: the template fails before any weight is looked for (there are none here)
    await writeFile(join(inFile, 'config.json'), await readFile(join(HF_DIRS.tinyllama, 'config.json')));
    await expect(loadModel(inFile)).rejects.toThrow(
      `${join(inFile, 'chat_template.jinja')}: the chat template`,
    );
  });
});
