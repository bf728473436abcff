// `mote chat`: an interactive terminal chat with a trained MoTE run (or a base model). Each reply streams stage by
// stage (`[analysis] …` dimmed, `[answer] …`); earlier turns are sent as a dialogue (user questions and the
// model's answers, oldest dropped to fit the context). Commands: /reset, /mode <m>, /help, /quit.
// Ctrl-C while a reply streams stops that reply (the session goes on); Ctrl-C at an empty prompt, twice within
// two seconds, or Ctrl-D quits.
import { createInterface, type Interface } from 'node:readline';
import type { ArgumentsCamelCase, CommandModule, InferredOptionTypes } from 'yargs';
import type { Turn } from '../../aligncot/chain.js';
import { promptRoom } from '../../generate/limits.js';
import { generateStaged, promptTokens } from '../../generate/staged.js';
import type { StagedConfig, StagedResult, StageMode } from '../../generate/types.js';
import { type InferenceModel, loadForInference } from '../../run/load.js';
import { withCleanup } from '../../util/cleanup.js';
import {
  allowNonFiniteOption,
  backendOption,
  clampedLimits,
  decoderOption,
  modelOptions,
  nonFiniteFlags,
  reasoningOptions,
  setUpBackend,
  stagedDecodingOptions,
} from '../options.js';
import {
  bold,
  dim,
  MODE_HELP,
  modeName,
  nextTick,
  parseStageMode,
  resultLine,
  stageView,
  useColor,
} from '../staged-output.js';
import { terminalSafe } from '../terminal-text.js';

const options = {
  ...backendOption,
  ...modelOptions,
  run: {
    type: 'string',
    describe: 'a trained `mote train` run directory: its base, tokenizer and experts (else --model)',
  },
  mode: { type: 'string', default: 'adaptive', describe: `stages to write: ${MODE_HELP}` },
  ...reasoningOptions,
  temperature: { type: 'number', default: 0.8, describe: '0 = greedy' },
  'top-p': { type: 'number', default: 0.9, describe: 'nucleus sampling mass (1 = off)' },
  'max-tokens': { type: 'number', default: 512, describe: 'most generated tokens per reply' },
  ...stagedDecodingOptions,
  seed: { type: 'number', default: 42, describe: 'sampling seed (each reply uses seed + its number)' },
  ...decoderOption,
  ...allowNonFiniteOption,
} as const;

type Args = ArgumentsCamelCase<InferredOptionTypes<typeof options>>;

const HELP = '/mode <m> changes the stages, /reset forgets the history, /quit (or Ctrl-D) leaves';

export const chatCommand: CommandModule<object, Args> = {
  command: 'chat',
  describe: 'chat in the terminal with a trained MoTE run, stage by stage',
  builder: (y) => y.options(options) as never,
  handler: async (a) => {
    const mode = parseStageMode(a.mode);
    await setUpBackend(a.backend);
    const im = await loadForInference({ ...a, ...nonFiniteFlags(a) });
    await withCleanup(
      () => {
        const limits = clampedLimits(
          { maxTokens: a.maxTokens, maxTokensPerStage: a.maxTokensPerStage },
          im.model.config.maxSeqLen,
        );
        return new ChatSession(im, { ...a, ...limits }, mode).run();
      },
      () => im.model.dispose(),
    );
  },
};

/** The session: history, mode, the reply in progress, and the terminal. */
class ChatSession {
  private history: Turn[] = [];
  private replies = 0;
  private reply: AbortController | null = null;
  private lastInterrupt = 0;
  private readonly color = useColor();
  private readonly rl: Interface;
  private readonly lines: string[] = [];
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly im: InferenceModel,
    private readonly a: Args,
    private mode: StageMode,
  ) {
    this.rl = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: process.stdin.isTTY === true && process.stdout.isTTY === true,
      prompt: bold('you> ', this.color),
    });
    this.rl.on('line', (line) => this.push(line));
    this.rl.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    this.rl.on('SIGINT', () => this.interrupt());
  }

  /** Reads and answers lines until /quit, Ctrl-D or a quitting Ctrl-C. */
  async run(): Promise<void> {
    const onSignal = () => this.interrupt(); // Ctrl-C when stdin is not a terminal
    process.on('SIGINT', onSignal);
    this.say(this.im.description);
    this.say(`mode ${modeName(this.mode)}; ${HELP}; Ctrl-C stops a reply`);
    try {
      for (let line = await this.next(); line !== null; line = await this.next()) {
        if (!(await this.handle(line.trim()))) break;
      }
    } finally {
      process.off('SIGINT', onSignal);
      this.rl.close();
    }
  }

  /** One input line: a command or a question. Returns false to quit. */
  private async handle(line: string): Promise<boolean> {
    if (line === '') return true;
    if (line === '/quit' || line === '/exit') return false;
    if (line === '/reset') {
      this.history = [];
      this.say('(history cleared)');
    } else if (line === '/help') this.say(HELP);
    else if (line === '/mode' || line.startsWith('/mode ')) {
      const value = line.slice(5).trim();
      if (value === '') this.say(`mode ${modeName(this.mode)}`);
      else
        try {
          this.mode = parseStageMode(value, '/mode');
          this.say(`mode ${modeName(this.mode)}`);
        } catch (e) {
          this.say((e as Error).message);
        }
    } else if (line.startsWith('/')) this.say(`unknown command ${line.split(' ')[0]}; ${HELP}`);
    else await this.answer(line);
    return true;
  }

  /** Streams a reply to `question` in the context of the history; Ctrl-C stops it. */
  private async answer(question: string): Promise<void> {
    const dialogue = this.fit([...this.history, { role: 'user', content: question }]);
    if (!dialogue) return;
    const stop = new AbortController();
    this.reply = stop;
    const view = stageView({
      write: (t) => process.stdout.write(t),
      color: this.color,
      showReasoning: this.a.showReasoning && !this.a.hideReasoning,
    });
    const config: Partial<StagedConfig> = {
      mode: this.mode,
      temperature: this.a.temperature,
      topP: this.a.topP,
      topK: this.a.topK,
      seed: this.a.seed + this.replies++,
      maxTokens: this.a.maxTokens,
      maxTokensPerStage: this.a.maxTokensPerStage,
      decoder: this.a.decoder,
    };
    let result: StagedResult | null = null;
    const it = generateStaged(this.im.model, this.im.tokenizer, dialogue, config);
    try {
      for (;;) {
        await nextTick(); // lets Ctrl-C in
        if (stop.signal.aborted) {
          await it.return(undefined as never); // runs the generator's cleanup (the decoder's cache)
          break;
        }
        const r = await it.next();
        if (r.done) {
          result = r.value;
          break;
        }
        view.onEvent(r.value);
      }
    } catch (e) {
      view.close();
      this.say(`error: ${(e as Error).message}`);
      return;
    } finally {
      this.reply = null;
    }
    view.close();
    if (!result) {
      this.say('(stopped; this exchange is not kept in the history)');
      return;
    }
    this.history = [...dialogue, { role: 'assistant', content: result.stages.answer ?? '' }];
    this.say(`(${resultLine(result)})`);
  }

  /**
   * The dialogue without its oldest turns until it leaves room for a reply (the smaller of --max-tokens and half
   * the context); null, with a note, when the question alone does not fit.
   */
  private fit(dialogue: Turn[]): Turn[] | null {
    const context = this.im.model.config.maxSeqLen;
    const limit = promptRoom(context, this.a.maxTokens);
    let d = dialogue;
    while (d.length > 1 && promptTokens(this.im.tokenizer, d).length > limit)
      d = d.slice(d[1]?.role === 'assistant' ? 2 : 1);
    const n = promptTokens(this.im.tokenizer, d).length;
    if (n > limit) {
      this.say(`(the question has ${n} tokens; the model's context of ${context} leaves room for ${limit})`);
      return null;
    }
    if (d.length < dialogue.length)
      this.say(`(dropped the ${dialogue.length - d.length} oldest turns to fit the context)`);
    return d;
  }

  /** Ctrl-C: stop the reply in progress; at the prompt clear the line, or quit when empty or pressed twice. */
  private interrupt(): void {
    if (this.reply) {
      this.reply.abort();
      return;
    }
    const now = Date.now();
    if (this.rl.line === '' || now - this.lastInterrupt < 2000) {
      process.stdout.write('\n');
      this.rl.close();
      return;
    }
    this.lastInterrupt = now;
    this.rl.write(null, { ctrl: true, name: 'e' });
    this.rl.write(null, { ctrl: true, name: 'u' });
    process.stdout.write('\n');
    this.say('(Ctrl-C again to quit)');
    this.rl.prompt();
  }

  /** The next input line, or null once the input closed; shows the prompt when waiting. */
  private async next(): Promise<string | null> {
    while (this.lines.length === 0 && !this.closed) {
      this.rl.prompt();
      await new Promise<void>((wake) => (this.wake = wake));
      this.wake = null;
    }
    return this.lines.shift() ?? null;
  }

  private push(line: string): void {
    this.lines.push(line);
    this.wake?.();
  }

  /** A notice (messages may quote a model or a file: shown with control characters escaped). */
  private say(text: string): void {
    process.stdout.write(`${dim(terminalSafe(text), this.color)}\n`);
  }
}
