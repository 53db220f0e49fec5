import { Readable } from 'node:stream';
import { writeToString } from '@fast-csv/format';
import { describe, expect, it } from 'vitest';
import { csvText, csvValue, isFormulaLike } from '../../src/export/csv.js';
import { padCsvRows } from '../../src/export/spool.js';
import { parseCsv } from './helpers.js';

describe('csvText', () => {
  it('leaves plain text alone and quotes per RFC 4180', () => {
    expect(csvText('')).toBe('');
    expect(csvText('plain text')).toBe('plain text');
    expect(csvText('a,b')).toBe('"a,b"');
    expect(csvText('say "hi"')).toBe('"say ""hi"""');
    expect(csvText('"')).toBe('""""');
    expect(csvText('two\nlines')).toBe('"two\nlines"');
    expect(csvText('cr\rlf')).toBe('"cr\rlf"');
    expect(csvText('Ünïcödé ✓ 日本')).toBe('Ünïcödé ✓ 日本');
    expect(csvText("it's")).toBe("it's");
  });

  it('neutralizes formula-like text with an apostrophe, and quotes it', () => {
    expect(csvText('=1+2')).toBe(`"'=1+2"`);
    expect(csvText('+49 30 1234')).toBe(`"'+49 30 1234"`);
    expect(csvText('-2')).toBe(`"'-2"`);
    expect(csvText('@SUM(A1)')).toBe(`"'@SUM(A1)"`);
    expect(csvText('\tx')).toBe(`"'\tx"`);
    expect(csvText('\rx')).toBe(`"'\rx"`);
    expect(csvText('＝1+2')).toBe(`"'＝1+2"`);
    expect(csvText('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvText('a=b')).toBe('a=b');
    expect(isFormulaLike('x=1')).toBe(false);
    expect(isFormulaLike('')).toBe(false);
  });

  it('matches @fast-csv/format for every text that is not formula-like', async () => {
    const samples = ['', 'a', 'a b', 'a,b', 'a"b', '"', '""', 'a\nb', 'a\r\nb', 'a\rb', ' lead', 'trail ', "quo'te", 'ü,"ß"\n', '{"k":[1,2]}', '1.5', 'x'.repeat(300)];
    const ours = samples.map(csvText).join(',');
    const theirs = await writeToString([samples]);
    expect(ours).toBe(theirs);
    expect(parseCsv(ours + '\n')).toEqual([samples]);
  });
});

describe('csvValue', () => {
  it('writes JSON values', () => {
    expect(csvValue(null)).toBe('');
    expect(csvValue(undefined)).toBe('');
    expect(csvValue(0)).toBe('0');
    expect(csvValue(-5)).toBe('-5');
    expect(csvValue(-1.5e-7)).toBe('-1.5e-7');
    expect(csvValue(Number.NaN)).toBe('');
    expect(csvValue(true)).toBe('true');
    expect(csvValue(false)).toBe('false');
    expect(csvValue([1, 'a'])).toBe('"[1,""a""]"');
    expect(csvValue({ a: { b: null } })).toBe('"{""a"":{""b"":null}}"');
    expect(csvValue([])).toBe('[]');
    expect(csvValue(new Date('2024-01-02T03:04:05.000Z'))).toBe('2024-01-02T03:04:05.000Z');
    expect(csvValue('-x')).toBe(`"'-x"`);
  });
});

describe('padCsvRows', () => {
  async function pad(chunks: string[], padding: string): Promise<string> {
    const out: Buffer[] = [];
    for await (const b of padCsvRows(Readable.from(chunks.map((c) => Buffer.from(c))), Buffer.from(padding))) out.push(b);
    return Buffer.concat(out).toString();
  }

  it('adds the padding at the end of every row, not inside quoted line breaks', async () => {
    const body = 'a,b\n"x\ny",2\n"q""\n",3\nlast,"ü\n"\n';
    expect(await pad([body], ',,')).toBe('a,b,,\n"x\ny",2,,\n"q""\n",3,,\nlast,"ü\n",,\n');
    // Any split of the same bytes gives the same result (quote state carried across chunks).
    const bytes = Buffer.from(body);
    for (let cut = 1; cut < bytes.length; cut++) {
      const out: Buffer[] = [];
      for await (const b of padCsvRows(Readable.from([bytes.subarray(0, cut), bytes.subarray(cut)]), Buffer.from(',,'))) out.push(b);
      expect(Buffer.concat(out).toString()).toBe('a,b,,\n"x\ny",2,,\n"q""\n",3,,\nlast,"ü\n",,\n');
    }
  });

  it('handles rows without quotes and empty input', async () => {
    expect(await pad(['1\n2\n', '3\n'], ',')).toBe('1,\n2,\n3,\n');
    expect(await pad([], ',')).toBe('');
  });
});
