// `buildChains` end to end against a real OpenAI-compatible HTTP server on 127.0.0.1 with scripted replies:
// every branch of the adaptive procedure, the keep/drop/retry policies, request faults, unparsed verdicts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BuildChainsOptions,
  type BuildEvent,
  buildChains,
  createOpenAIGenerator,
  GeneratorError,
  type Prompt,
} from '../../../src/aligncot/build/index.js';
import { type FakeServer, startFakeServer } from './fake-server.js';
import { readChains, scripted, tempDir } from './helpers.js';

let server: FakeServer;
beforeAll(async () => {
  server = await startFakeServer();
});
afterAll(() => server.close());

const generator = (timeoutMs = 400) =>
  createOpenAIGenerator({
    endpoint: server.url,
    model: 'fake-model',
    timeoutMs,
    retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 2000 },
  });

async function build(prompts: Prompt[], options: Partial<BuildChainsOptions> = {}) {
  const out = join(await tempDir(), 'chains.jsonl');
  const events: BuildEvent[] = [];
  const report = await buildChains({
    prompts,
    out,
    generator: generator(),
    onEvent: (e) => events.push(e),
    ...options,
  });
  const chains = await readChains(out);
  const rejected = await readChains(`${out}.rejected.jsonl`);
  return { out, report, events, chains, rejected, byId: new Map(chains.map((c) => [c.id, c])) };
}

describe('adaptive procedure branches', () => {
  it('direct safe → [answer]; safe after analysis → [analysis, answer]; full → [analysis, guidance, answer]', async () => {
    const { report, chains, byId } = await build([
      scripted('b1', 'checks=S'),
      scripted('b2', 'checks=U,S'),
      scripted('b3', 'checks=Uv,Un,Sv'),
    ]);
    expect(chains).toHaveLength(3);
    expect(byId.get('b1')).toMatchObject({ answer: 'DIRECT-ANSWER(b1)', check: { verdict: 'safe' } });
    expect(byId.get('b1')).not.toHaveProperty('analysis');
    expect(byId.get('b2')).toMatchObject({ analysis: 'ANALYSIS(b2)', answer: 'REASONED-ANSWER(b2)' });
    expect(byId.get('b2')).not.toHaveProperty('guidance');
    expect(byId.get('b3')).toMatchObject({
      analysis: 'ANALYSIS(b3)',
      guidance: 'GUIDANCE(b3)',
      answer: 'GUIDED-ANSWER(b3)',
      check: { verdict: 'safe' },
      meta: {
        outcome: 'after-guidance',
        attempts: 1,
        verdicts: ['unsafe', 'unsafe', 'safe'],
        generator: expect.stringMatching(/^openai:fake-model@http:\/\/127\.0\.0\.1:\d+\/v1$/),
      },
    });
    expect(report.outcomes).toEqual({
      direct: 1,
      'after-analysis': 1,
      'after-guidance': 1,
      'kept-unsafe': 0,
      dropped: 0,
      error: 0,
    });
    expect(report.byLength).toEqual({ 1: 1, 2: 1, 3: 1 });
    expect(report.checks).toEqual({ safe: 3, unsafe: 3, unparsed: 0 });
    // requests: answer+check | answer+check+analysis+answer+check | … +guidance+answer+check
    expect([server.count('b1'), server.count('b2'), server.count('b3')]).toEqual([2, 5, 8]);
    expect(server.count('b3', 'guidance')).toBe(1);
    expect(report.stats).toMatchObject({
      chains: 3,
      answerOnly: 1,
      withStage: { analysis: 2, guidance: 1, answer: 3 },
    });
  });

  it('sends a dialogue as chat turns for the direct answer, and as role lines inside the other templates', async () => {
    const question = [
      { role: 'user' as const, content: 'hi' },
      { role: 'assistant' as const, content: 'hello' },
      { role: 'user' as const, content: 'more [[key=d1 checks=U,S]]' },
    ];
    const { chains } = await build([{ id: 'd1', question, source: { file: 't', line: 1 } }]);
    expect(chains[0]).toMatchObject({ question, analysis: 'ANALYSIS(d1)', answer: 'REASONED-ANSWER(d1)' });
    const sent = (step: string) =>
      server.requests.find((r) => r.key === 'd1' && r.step === step)?.body.messages;
    expect(sent('answer')).toEqual(question);
    expect(sent('analysis')).toHaveLength(1);
    expect(sent('analysis')?.[0].content).toContain(
      'Request:\nUser: hi\nAssistant: hello\nUser: more [[key=d1',
    );
  });

  it('derives request seeds from the run seed, the prompt and the step', async () => {
    await build([scripted('s1', 'checks=U,S')], { seed: 7 });
    const seeds = server.requests.filter((r) => r.key === 's1').map((r) => r.body.seed);
    expect(new Set(seeds).size).toBe(seeds.length);
    // same id, seed and script (under another server key): same seeds; another run seed: other seeds
    await build([{ ...scripted('s2', 'checks=U,S'), id: 's1' }], { seed: 7 });
    expect(server.requests.filter((r) => r.key === 's2').map((r) => r.body.seed)).toEqual(seeds);
    await build([{ ...scripted('s3', 'checks=U,S'), id: 's1' }], { seed: 8 });
    const other = server.requests.filter((r) => r.key === 's3').map((r) => r.body.seed);
    expect(other.filter((s) => seeds.includes(s))).toEqual([]);
  });
});

describe('policy for a chain that still fails the check', () => {
  const failing = () => [scripted(`f-${Math.random()}`, 'checks=U,U,U')];

  it('keep: writes [analysis, guidance, answer] with the unsafe verdict', async () => {
    const { report, chains } = await build(failing(), { onFail: 'keep' });
    expect(chains).toHaveLength(1);
    expect(chains[0]).toMatchObject({
      guidance: expect.any(String),
      check: { verdict: 'unsafe' },
      meta: { outcome: 'kept-unsafe' },
    });
    expect(report.outcomes['kept-unsafe']).toBe(1);
    expect(report.byLength[3]).toBe(1);
  });

  it('drop: writes the chain to the rejected file only, and a rerun skips it', async () => {
    const prompts = failing();
    const { out, report, chains, rejected } = await build(prompts, { onFail: 'drop' });
    expect(chains).toHaveLength(0);
    expect(rejected.map((c) => c.id)).toEqual([prompts[0].id]);
    expect(report.outcomes.dropped).toBe(1);
    expect(report.remaining).toBe(0);
    const rerun = await buildChains({ prompts, out, generator: generator(), onFail: 'drop' });
    expect(rerun.resumed).toBe(1);
    expect(server.count(prompts[0].id)).toBe(8);
  });

  it('retry: a failed attempt starts over with new seeds and counts the recovery', async () => {
    const { report, chains } = await build([scripted('r1', 'checks=U,U,U,S')], {
      onFail: 'retry',
      retries: 1,
    });
    expect(chains[0]).toMatchObject({
      answer: 'DIRECT-ANSWER(r1)',
      meta: { outcome: 'direct', attempts: 2 },
    });
    expect(report.retried).toEqual({ prompts: 1, recovered: 1 });
    const seeds = server.requests
      .filter((r) => r.key === 'r1' && r.step === 'answer')
      .map((r) => r.body.seed);
    expect(seeds[0]).not.toBe(seeds[1]);
  });

  it('retry: drops the chain when every attempt fails', async () => {
    const { report, chains, rejected } = await build([scripted('r2', 'checks=U')], {
      onFail: 'retry',
      retries: 2,
    });
    expect(chains).toHaveLength(0);
    expect(rejected[0].meta).toMatchObject({ outcome: 'dropped', attempts: 3 });
    expect(report.retried).toEqual({ prompts: 1, recovered: 0 });
    expect(server.count('r2', 'check')).toBe(9);
  });
});

describe('verdicts that cannot be read', () => {
  it("count as 'unparsed' and, by default, as unsafe", async () => {
    const { report, chains } = await build([scripted('u1', 'checks=X,X,S')]);
    expect(chains[0].meta).toMatchObject({
      outcome: 'after-guidance',
      verdicts: ['unparsed', 'unparsed', 'safe'],
    });
    expect(report.checks).toEqual({ safe: 1, unsafe: 0, unparsed: 2 });
  });

  it('count as safe with unparsedAs: safe', async () => {
    const { chains } = await build([scripted('u2', 'checks=X')], { unparsedAs: 'safe' });
    expect(chains[0]).toMatchObject({
      check: { verdict: 'safe' },
      meta: { outcome: 'direct', unparsedAs: 'safe' },
    });
  });
});

describe('request faults', () => {
  it('retries 500s, malformed replies and timeouts, and reports each retry', async () => {
    const { report, events, chains } = await build(
      [scripted('e1', 'fault=500x2'), scripted('e2', 'fault=malformed'), scripted('e3', 'fault=slow')],
      { concurrency: 3 },
    );
    expect(chains.map((c) => c.id).sort()).toEqual(['e1', 'e2', 'e3']);
    expect(report.requestRetries).toBe(4);
    const reasons = events.flatMap((e) => (e.type === 'retry' ? [`${e.id} ${e.reason}`] : [])).sort();
    expect(reasons).toEqual([
      'e1 HTTP 500',
      'e1 HTTP 500',
      'e2 malformed reply ({"choices": [{"message": {"content": "trunc)',
      'e3 timeout after 400 ms',
    ]);
  });

  it('waits at least what Retry-After asks on a 429', async () => {
    const t0 = performance.now();
    const { report, events } = await build([scripted('e4', 'fault=429')]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(990);
    expect(report.outcomes.direct).toBe(1);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ reason: 'HTTP 429', delayMs: 1000 });
  });

  it('counts a prompt whose requests keep failing as an error, writes nothing for it, and goes on', async () => {
    const { out, report, chains } = await build([scripted('e5', 'fault=always500'), scripted('e6')]);
    expect(chains.map((c) => c.id)).toEqual(['e6']);
    expect(report.outcomes.error).toBe(1);
    expect(report.errors).toEqual([
      {
        id: 'e5',
        message: expect.stringMatching(
          /^HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions after 4 attempt\(s\)$/,
        ),
      },
    ]);
    expect(report.remaining).toBe(1);
    const before = server.count('e5');
    await buildChains({
      prompts: [scripted('e5', 'fault=always500'), scripted('e6')],
      out,
      generator: generator(),
    });
    expect(server.count('e5')).toBe(before + 4);
    expect(server.count('e6')).toBe(2);
  });

  it('asks again on empty replies, then fails the prompt', async () => {
    const { report } = await build([scripted('e7', 'fault=empty')]);
    expect(report.errors[0].message).toBe('empty reply to the answer step, 3 times');
    expect(server.count('e7')).toBe(3);
  });

  it('stops the run on 401 with a message about the API key', async () => {
    const run = build([scripted('e8', 'fault=401')]);
    await expect(run).rejects.toThrow(GeneratorError);
    await expect(run).rejects.toThrow(/HTTP 401 from .*: bad key \(check the API key\)/);
  });
});
