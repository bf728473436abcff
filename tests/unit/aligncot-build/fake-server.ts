// A real HTTP server on 127.0.0.1 (random port) speaking the OpenAI chat-completions protocol, with replies
// scripted by a tag in the question: "… [[key=q3 checks=U,U,S fault=500x2]]".
//
//   step      told from the message by the literal start of each template (the answer template has none)
//   checks    verdict replies of successive check requests for that key (the last one repeats):
//             S "SAFE", U "UNSAFE", Sv "The answer is safe because …", Uv "Verdict: unsafe. …",
//             Un "This is not safe.", X "I cannot judge that." (unparsed)
//   fault     on the first n requests of the key (xn, default 1): 500, 429 (Retry-After: 1), slow (a reply
//             after 1.5 s), malformed (broken JSON), 401; always500 on every request; empty: "" to every
//             non-check request
//   replies   analysis "ANALYSIS(key)", guidance "GUIDANCE(key)", direct answer "DIRECT-ANSWER(key)", answer
//             after the analysis "REASONED-ANSWER(key)", after the guidance too "GUIDED-ANSWER(key)"

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_TEMPLATES, type TemplateName, type Templates } from '../../../src/aligncot/build/index.js';

export interface LoggedRequest {
  key: string;
  step: TemplateName;
  status: number;
  authorization?: string;
  body: { model: string; seed: number; max_tokens: number; messages: { role: string; content: string }[] };
}

export interface FakeServer {
  /** Base URL, e.g. http://127.0.0.1:43123/v1 */
  url: string;
  requests: LoggedRequest[];
  /** Requests of one key (optionally of one step). */
  count(key: string, step?: TemplateName): number;
  close(): Promise<void>;
}

const VERDICTS: Record<string, string> = {
  S: 'SAFE',
  U: 'UNSAFE',
  Sv: 'The answer is safe because it declines and points to legitimate help.',
  Uv: 'Verdict: unsafe. It gives concrete help with the harmful part of the request.',
  Un: 'This is not safe.',
  X: 'I cannot judge that.',
};

/** Starts the server; `delayMs` delays every reply (to give a test time to interrupt a run). */
export async function startFakeServer(
  options: { templates?: Templates; delayMs?: number } = {},
): Promise<FakeServer> {
  const templates = options.templates ?? DEFAULT_TEMPLATES;
  const prefixes = (Object.keys(templates) as TemplateName[])
    .map((name) => ({ name, prefix: templates[name].split('{{')[0].trim() }))
    .filter((p) => p.prefix !== '');
  const requests: LoggedRequest[] = [];
  const server = createServer((req, res) => {
    readBody(req)
      .then((raw) => reply(JSON.parse(raw), req, res))
      .catch((e) => send(res, 400, { error: { message: String(e) } }));
  });

  async function reply(body: LoggedRequest['body'], req: IncomingMessage, res: ServerResponse) {
    const content = body.messages.map((m) => m.content).join('\n');
    const step = prefixes.find((p) => content.startsWith(p.prefix))?.name ?? 'answer';
    const tag = Object.fromEntries(
      (/\[\[([^\]]*)\]\]/.exec(content)?.[1] ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((kv) => kv.split('=')),
    ) as Record<string, string>;
    const key = tag.key ?? '?';
    const nth = requests.filter((r) => r.key === key).length; // requests of this key before this one
    const log: LoggedRequest = { key, step, status: 200, authorization: req.headers.authorization, body };
    requests.push(log);
    if (options.delayMs) await sleep(options.delayMs);
    const [fault, times] = (tag.fault ?? '').split('x');
    const faulty = fault === 'always500' || nth < Number(times ?? 1);
    if (faulty && (fault === '500' || fault === 'always500'))
      return send(res, (log.status = 500), { error: { message: 'boom' } });
    if (faulty && fault === '401') return send(res, (log.status = 401), { error: { message: 'bad key' } });
    if (faulty && fault === '429') {
      res.setHeader('retry-after', '1');
      return send(res, (log.status = 429), { error: { message: 'slow down' } });
    }
    if (faulty && fault === 'slow') await sleep(1500);
    if (faulty && fault === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"choices": [{"message": {"content": "trunc');
    }
    let text: string;
    if (step === 'check') {
      const codes = (tag.checks ?? 'S').split(',');
      const k = requests.filter((r) => r.key === key && r.step === 'check').length - 1;
      text = VERDICTS[codes[Math.min(k, codes.length - 1)]];
    } else if (fault === 'empty') text = '  ';
    else if (step === 'analysis') text = `ANALYSIS(${key})`;
    else if (step === 'guidance') text = `GUIDANCE(${key})`;
    else if (step === 'answer') text = `DIRECT-ANSWER(${key})`;
    else text = content.includes('GUIDANCE(') ? `GUIDED-ANSWER(${key})` : `REASONED-ANSWER(${key})`;
    send(res, 200, {
      id: `chatcmpl-${requests.length}`,
      object: 'chat.completion',
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    count: (key, step) =>
      requests.filter((r) => r.key === key && (step === undefined || r.step === step)).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just free). */
export async function closedPortUrl(): Promise<string> {
  const s = await startFakeServer();
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
