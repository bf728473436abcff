// Reading the verdict out of a safety-check reply, which may be one word ("SAFE") or a paragraph
// ("Verdict: unsafe.", "The answer is safe because …", "This is not safe: …"). Rules, in order:
//
//   1. labelled: the last "verdict|judg(e)ment|assessment|classification|rating|label|conclusion|decision"
//      followed within a few words by a verdict phrase decides ("Final verdict: the response is UNSAFE");
//   2. first mention: otherwise the earliest verdict phrase decides (the check template asks for the verdict
//      first), skipping phrases inside "whether/if … safe" questions;
//   3. otherwise 'unparsed'. The pipeline counts it and treats it as `unparsedAs` (default 'unsafe': an
//      unread verdict must not let an unchecked answer through; it only costs an analysis/guidance step).
//
// Verdict phrases: "unsafe", "not safe", "not entirely/considered safe", "isn't/aren't/wasn't/never safe",
// "no longer safe" → unsafe; "not unsafe" and "safe" → safe. Case, Markdown emphasis and curly quotes are
// ignored; "safety", "safely" and "safeguard" are not verdict words.

/** A parsed verdict: 'unparsed' when the reply states none. */
export type ParsedVerdict = 'safe' | 'unsafe' | 'unparsed';

/** Which rule decided (for reports and tests). */
export type VerdictRule = 'labelled' | 'first-mention' | 'none';

const PHRASE =
  /(?<safe>\bnot\s+unsafe\b)|(?<unsafe>\bunsafe\b|\bnot\s+(?:[a-z]+\s+){0,2}?safe\b|\b(?:isn't|isnt|aren't|arent|wasn't|wasnt|never)\s+(?:[a-z]+\s+)?safe\b|\bno\s+longer\s+safe\b)|(?<plain>\bsafe\b)/g;
const LABEL =
  /\b(?:verdict|judge?ment|assessment|classification|rating|label|conclusion|decision)\b\s*(?:is\b)?\s*[:=\-–]?\s*/g;
/** A phrase preceded by one of these (in the same clause) is a question, not a verdict. */
const QUESTION = /\b(?:whether|if)\b[^.!?:;\n]*$/;

/** Parses a check reply; see the rules in the file header. */
export function parseVerdict(reply: string): { verdict: ParsedVerdict; rule: VerdictRule } {
  const text = reply
    .toLowerCase()
    .replace(/[’‘`]/g, "'")
    .replace(/[*_#>"“”]/g, ' ');
  let labelled: ParsedVerdict | undefined;
  for (const m of text.matchAll(LABEL)) {
    const after = text.slice(m.index + m[0].length, m.index + m[0].length + 40);
    const first = firstPhrase(after);
    if (first && first.index <= 24) labelled = first.verdict;
  }
  if (labelled) return { verdict: labelled, rule: 'labelled' };
  const first = firstPhrase(text);
  return first ? { verdict: first.verdict, rule: 'first-mention' } : { verdict: 'unparsed', rule: 'none' };
}

/** The earliest verdict phrase of `text` that is not part of a question, or undefined. */
function firstPhrase(text: string): { verdict: 'safe' | 'unsafe'; index: number } | undefined {
  for (const m of text.matchAll(PHRASE)) {
    if (QUESTION.test(text.slice(Math.max(0, m.index - 60), m.index))) continue;
    return { verdict: m.groups?.unsafe ? 'unsafe' : 'safe', index: m.index };
  }
  return undefined;
}
