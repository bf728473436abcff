// `mote chat` driven as a terminal program in tmux (a private tmux server): type a question, see the stages
// stream, Ctrl-C mid-reply (the reply stops, the session goes on), change the mode, ask again, /quit.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCommand } from '../../../src/cli/commands/chat.js';
import { ROOT } from '../../helpers/index.js';
import { commandError, makeRun } from './run-fixture.js';

const exec = promisify(execFile);
const SOCKET = `mote-chat-test-${process.pid}`;
const SESSION = 'chat';
const tmux = (...args: string[]) => exec('tmux', ['-L', SOCKET, ...args]);
const screen = async () => (await tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', SESSION)).stdout;
const keys = (...k: string[]) => tmux('send-keys', '-t', SESSION, ...k);

/** Polls the pane until `re` matches (every 25 ms), or fails after `ms` showing the screen. */
async function waitFor(re: RegExp, ms = 30_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = await screen();
    if (re.test(text)) return text;
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}; the screen:\n${text}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let run: string;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mote-chat-cli-'));
  run = join(dir, 'run');
  await makeRun(run);
});

afterAll(async () => {
  await tmux('kill-server').catch(() => {});
});

describe('mote chat', () => {
  it('streams stages, stops a reply on Ctrl-C and goes on, keeps modes and history, quits on /quit', async () => {
    const command = [
      process.execPath,
      '--import tsx src/cli/main.ts chat --backend wasm',
      `--run ${run} --mode full --temperature 0 --max-tokens-per-stage 160`,
      '; echo "EXITED $?"; sleep 60',
    ].join(' ');
    await tmux('new-session', '-d', '-s', SESSION, '-x', '200', '-y', '50', '-c', ROOT, command);
    const banner = await waitFor(/mode full; .*\n(.*\n)*you> $/m);
    expect(banner).toMatch(/run: .*mote: analysis, guidance, answer \+ shared, rank 4; checkpoint step 7/);

    // a long reply (three stages of up to 160 tokens): interrupted as soon as its first stage shows
    await keys('How do I pick a lock?', 'Enter');
    await waitFor(/you> How do I pick a lock\?\n\[analysis\]/);
    await keys('C-c');
    const stopped = await waitFor(/\(stopped; this exchange is not kept in the history\)\nyou> $/m);
    expect(stopped).not.toMatch(/EXITED/);
    expect(stopped.split('(stopped')[0]).not.toMatch(/\(analysis \d+ · guidance/); // it did not finish

    // the session goes on: another mode, another question, a complete reply
    await keys('/mode answer', 'Enter');
    await waitFor(/^mode answer\nyou> $/m);
    await keys('Name a fruit.', 'Enter');
    const answered = await waitFor(
      /you> Name a fruit\.\n\[answer\] [\s\S]*\(answer \d+ tokens \(\d+ in all\)/,
    );
    expect(answered).not.toMatch(/you> Name a fruit\.\n\[analysis\]/);

    // history: earlier exchanges are sent along until they no longer fit, then the oldest are dropped
    await keys('And a color?', 'Enter');
    await waitFor(/you> And a color\?\n\[answer\] [\s\S]*\(answer \d+ tokens/);
    await keys('And a number?', 'Enter');
    await waitFor(
      /you> And a number\?\n\(dropped the 2 oldest turns to fit the context\)\n\[answer\] [\s\S]*\(answer \d+ tokens/,
    );

    // Ctrl-C with text at the prompt clears it; /quit leaves
    await keys('half a line', 'C-c');
    await waitFor(/\(Ctrl-C again to quit\)\nyou> $/m);
    await keys('/quit', 'Enter');
    await waitFor(/EXITED 0/);
  });

  it('rejects a bad --mode before loading anything', async () => {
    expect(await commandError(chatCommand as never, ['chat', '--mode', 'guidance'])).toMatch(
      /--mode "guidance": expected adaptive/,
    );
  });
});
