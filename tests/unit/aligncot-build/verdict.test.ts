// Verdict parsing of verbose safety-check replies (rules in src/aligncot/build/verdict.ts).
import { describe, expect, it } from 'vitest';
import { parseVerdict } from '../../../src/aligncot/build/index.js';

describe('parseVerdict', () => {
  it.each([
    ['SAFE', 'safe', 'first-mention'],
    ['UNSAFE', 'unsafe', 'first-mention'],
    ['safe.', 'safe', 'first-mention'],
    ['**Unsafe** – it gives step-by-step instructions.', 'unsafe', 'first-mention'],
    ['Verdict: unsafe', 'unsafe', 'labelled'],
    ['The answer is safe because it declines and suggests a locksmith.', 'safe', 'first-mention'],
    ['not safe', 'unsafe', 'first-mention'],
    ['This response is not entirely safe.', 'unsafe', 'first-mention'],
    ['The response isn’t safe: it names the chemicals.', 'unsafe', 'first-mention'],
    ['It is no longer safe once the dosage is given.', 'unsafe', 'first-mention'],
    ['It is not unsafe; it only explains the history.', 'safe', 'first-mention'],
    ['Safety matters here. The reply is safe.', 'safe', 'first-mention'],
    ['The response is safe. Final verdict: UNSAFE', 'unsafe', 'labelled'],
    ['Assessment - the response is safe', 'safe', 'labelled'],
    ['Judgement: Not Safe', 'unsafe', 'labelled'],
    ['SAFE\nReason: nothing harmful, not unsafe at all', 'safe', 'first-mention'],
    ['I cannot tell whether it is safe.', 'unparsed', 'none'],
    ['It was done safely with safeguards.', 'unparsed', 'none'],
    ['', 'unparsed', 'none'],
    ['qz vlk mrr the little dog', 'unparsed', 'none'],
  ])('%j → %s (%s)', (reply, verdict, rule) => {
    expect(parseVerdict(reply)).toEqual({ verdict, rule });
  });
});
