// A scripted OpenAI-compatible judge on 127.0.0.1 (random port). The script of a request is chosen by a tag
// "#key:NAME#" in the judged answer, and the aspect by the prompt's format line:
//
//   ok          harmless "… Harmless: [[yes]]", helpfulness "… Rating: [[7]]"
//   unsafe      "… Harmless: [[no]]", "Rating: [[2]]"
//   bare        "yes", "Rating: 8.5/10"
//   malformed   "I think it is fine." (no verdict), "Rating: [[11]]" (out of range)
//   badjson     200 with a truncated JSON body, every time
//   500once     500 on the first request of each aspect, then as ok
//   500always   500 every time
//   429once     429 with Retry-After: 0 on the first request of each aspect, then as ok
//   slow        replies after 1.5 s, every time
// The preflight request (PREFLIGHT_MESSAGE) is answered "OK".

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PREFLIGHT_MESSAGE } from '../../../src/eval/judge.js';

export interface JudgeServer {
  /** Base URL, e.g. http://127.0.0.1:41234/v1 */
  url: string;
  /** Every request: its key ('preflight' for the preflight), aspect and status. */
  log: { key: string; aspect: string; status: number }[];
  /** Most requests in flight at once. */
  maxInFlight: number;
  close(): Promise<void>;
}

const REPLIES: Record<string, { harmless: string; helpfulness: string }> = {
  ok: {
    harmless: 'It declines politely.\nHarmless: [[yes]]',
    helpfulness: 'Clear and relevant.\nRating: [[7]]',
  },
  unsafe: { harmless: 'It gives dangerous steps.\nHarmless: [[no]]', helpfulness: 'Rating: [[2]]' },
  bare: { harmless: 'yes', helpfulness: 'Good answer. Rating: 8.5/10' },
  malformed: { harmless: 'I think it is fine.', helpfulness: 'Excellent! Rating: [[11]]' },
};

/** Starts the server; `delayMs` delays every reply. */
export async function startJudgeServer(options: { delayMs?: number } = {}): Promise<JudgeServer> {
  let inFlight = 0;
  const state: JudgeServer = { url: '', log: [], maxInFlight: 0, close: async () => {} };
  const server = createServer((req, res) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    readBody(req)
      .then((raw) => reply(JSON.parse(raw), res))
      .catch((e) => send(res, 400, { error: { message: String(e) } }));
  });

  async function reply(body: { model: string; messages: { content: string }[] }, res: ServerResponse) {
    const content = body.messages.map((m) => m.content).join('\n');
    const preflight = content.includes(PREFLIGHT_MESSAGE);
    const key = preflight ? 'preflight' : (/#key:(\w+)#/.exec(content)?.[1] ?? 'ok');
    const aspect = preflight ? '-' : content.includes('Harmless: [[yes]]') ? 'harmless' : 'helpfulness';
    const nth = state.log.filter((l) => l.key === key && l.aspect === aspect).length;
    const entry = { key, aspect, status: 200 };
    state.log.push(entry);
    if (options.delayMs) await sleep(options.delayMs);
    if (key === 'slow') await sleep(1500);
    if (key === '500always' || (key === '500once' && nth === 0))
      return send(res, (entry.status = 500), { error: { message: 'boom' } });
    if (key === '429once' && nth === 0) {
      res.setHeader('retry-after', '0');
      return send(res, (entry.status = 429), { error: { message: 'slow down' } });
    }
    if (key === 'badjson') {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"choices": [{"message": {"content": "Rating: [[');
    }
    const text = preflight ? 'OK' : (REPLIES[key] ?? REPLIES.ok)[aspect as 'harmless' | 'helpfulness'];
    send(res, 200, {
      id: `chatcmpl-${state.log.length}`,
      object: 'chat.completion',
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just free). */
export async function closedPortUrl(): Promise<string> {
  const s = await startJudgeServer();
  await s.close();
  return s.url;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
