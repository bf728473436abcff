// The RFC-4180 CSV reader: quoted fields, embedded line breaks, doubled quotes, line numbers in errors.
import { describe, expect, it } from 'vitest';
import { parseCsv, parseCsvTable } from '../../../src/aligncot/build/index.js';

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, and numbers records by start line', () => {
    const text =
      '\uFEFFgoal,target\r\nplain,"with, comma"\r\n"say ""hi""",x\n\n"two\nlines",y\n"",\nlast,no newline';
    expect(parseCsv(text, 'f.csv')).toEqual([
      { line: 1, fields: ['goal', 'target'] },
      { line: 2, fields: ['plain', 'with, comma'] },
      { line: 3, fields: ['say "hi"', 'x'] },
      { line: 5, fields: ['two\nlines', 'y'] },
      { line: 7, fields: ['', ''] },
      { line: 8, fields: ['last', 'no newline'] },
    ]);
  });

  it.each([
    [
      'a,b\n"open,x\nmore',
      /^f\.csv:2: field 1: expected a closing quote for the quoted field opened on this line, got end of file$/,
    ],
    ['a,b\nx,y"z\n', /^f\.csv:2: field 2: unexpected quote inside an unquoted field/],
    ['a,b\n"x"y,z\n', /^f\.csv:2: field 1: expected a comma or a line end after the closing quote, got "y"$/],
  ])('rejects %j naming the line', (text, message) => {
    expect(() => parseCsv(text, 'f.csv')).toThrow(message);
  });

  it('rejects a line over maxLineBytes before parsing it; LF, CRLF and CR each end a line', () => {
    const long = `"${'x'.repeat(100)}",2`; // 104 bytes
    for (const br of ['\n', '\r\n', '\r']) {
      const text = ['goal,t', 'a,1', long, 'b,3'].join(br);
      expect(() => parseCsv(text, 'f.csv', 103)).toThrow(
        'f.csv:3: line of 104 bytes exceeds the 103-byte limit',
      );
      expect(parseCsv(text, 'f.csv', 104)).toHaveLength(4);
    }
    // many short CR-ended lines are not one long line
    const crOnly = Array.from({ length: 50_000 }, (_, i) => `q${i},${i}`).join('\r');
    expect(crOnly.length).toBeGreaterThan(400_000);
    expect(parseCsv(crOnly, 'cr.csv', 1000)).toHaveLength(50_000);
    // the default cap is 1 MiB
    expect(() => parseCsv(`a\n${'y'.repeat(2 ** 20 + 1)}\n`, 'big.csv')).toThrow(
      `big.csv:2: line of ${2 ** 20 + 1} bytes exceeds the 1 MiB limit`,
    );
  });
});

describe('parseCsvTable', () => {
  it('checks the field count of every row against the header', () => {
    expect(() => parseCsvTable('goal,target\na,b\n"multi\nline",b,c\n', 'f.csv')).toThrow(
      /^f\.csv:3: expected 2 field\(s\) \(goal, target\), got 3$/,
    );
  });

  it('rejects an empty file and repeated column names', () => {
    expect(() => parseCsvTable('', 'f.csv')).toThrow(
      /^f\.csv: expected a CSV header row, got an empty file$/,
    );
    expect(() => parseCsvTable('a,a\n1,2\n', 'f.csv')).toThrow(
      /^f\.csv:1: expected unique column names, got "a" twice$/,
    );
  });
});
