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
