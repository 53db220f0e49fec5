import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { createExportArchive, type ArchiveCategory, type ExportRecord, type JsonValue } from '../../src/export/index.js';
import { category, collect, file, META, parseCsv, unzip } from './helpers.js';

const PROFILE: ExportRecord[] = [
  {
    _entity: 'Contact',
    _id: '42',
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada@example.com',
    phone: null,
    vip: true,
    score: -5,
    tags: ['a', 'b'],
    address: { city: 'London', zip: 'N1' },
  },
];

const ACTIVITIES: ExportRecord[] = [
  { _entity: 'Activity', _id: '1', subject: 'Call, "urgent"', body: 'line1\nline2', createdAt: '2024-01-02T03:04:05.000Z' },
  { _entity: 'Activity', _id: '2', subject: '=HYPERLINK("http://evil.example","x")', body: '+1 555 0100', createdAt: '2024-01-03T00:00:00.000Z' },
  { _entity: 'Note', _id: 'n-1', text: '@SUM(A1:A2)', pinned: false },
  { _entity: 'Activity', _id: '3', body: 'Ünïcödé ✓ 日本', subject: '-10', createdAt: '2024-01-04T00:00:00.000Z', extra: 'x\r\ny' },
  { _entity: 'Note', _id: 'n-2', text: '\tTabbed', pinned: true },
];

const FULL_FACTS = {
  purpose: 'Managing the customer relationship',
  legalBasis: 'Contract (Art. 6(1)(b))',
  recipients: ['Support team', 'Hosting provider (EU)'],
  retention: '3 years after the last contract ends',
  source: 'The data subject',
  description: 'Your contact record.',
};

/** What a CSV cell should read as once parsed: formula-like text gets an apostrophe. */
function expectedCell(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return /^[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]/.test(value) ? `'${value}` : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function summaryRows(name: string, records: ExportRecord[]): string[][] {
  const rows: string[][] = [];
  for (const r of records) {
    for (const [field, value] of Object.entries(r)) {
      if (field === '_entity' || field === '_id') continue;
      rows.push([name, r._entity, r._id, field, expectedCell(value)]);
    }
  }
  return rows;
}

async function build(categories: ArchiveCategory[], extra: { tmpDir?: string; compressionLevel?: number } = {}) {
  const archive = createExportArchive({ meta: META, categories, ...extra });
  const [zip, result] = await Promise.all([collect(archive.stream), archive.done]);
  return { entries: await unzip(zip), result, size: zip.length };
}

let tmpRoot: string;
beforeEach(async () => {
  tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'export-archive-test-'));
});
afterEach(async () => {
  await rm(tmpRoot, { recursive: true, force: true });
});

describe('createExportArchive', () => {
  function fixture() {
    return [
      category('profile', PROFILE, { facts: FULL_FACTS, entities: ['Contact'] }),
      category('activities', ACTIVITIES, { facts: { purpose: 'Sales follow-up' }, entities: ['Activity', 'Note'] }),
      category('Empty Stuff / Ä', [], { facts: {}, entities: ['MailProvider'] }),
    ];
  }

  it('writes every file of format version 1, in order', async () => {
    const { entries, result } = await build(fixture(), { tmpDir: tmpRoot });
    expect(entries.map((e) => e.name)).toEqual([
      'summary.json',
      'summary.csv',
      'categories/profile.json',
      'categories/profile.csv',
      'categories/activities.json',
      'categories/activities.csv',
      'categories/empty_stuff_a.json',
      'categories/empty_stuff_a.csv',
      'README.md',
    ]);
    expect(entries.every((e) => e.compressionMethod === 8)).toBe(true);
    expect(result).toEqual({ counts: { profile: 1, activities: 5, 'Empty Stuff / Ä': 0 } });
    // The temporary directory is gone.
    expect(await readdir(tmpRoot)).toEqual([]);
  });

  it('summary.json: meta first, then every category with its facts and records', async () => {
    const { entries } = await build(fixture());
    const text = file(entries, 'summary.json');
    expect(text.startsWith('{"meta":{"formatVersion":1,')).toBe(true);
    expect(JSON.parse(text)).toStrictEqual({
      meta: {
        formatVersion: 1,
        exportedAt: '2025-03-04T05:06:07.000Z',
        requestId: 'req-123',
        subject: { type: 'Contact', id: '42', displayName: 'Ada Lovelace' },
        counts: { profile: 1, activities: 5, 'Empty Stuff / Ä': 0 },
        warnings: ['provider mail: 2 messages skipped'],
      },
      categories: {
        profile: {
          purpose: FULL_FACTS.purpose,
          legalBasis: FULL_FACTS.legalBasis,
          retention: FULL_FACTS.retention,
          recipients: FULL_FACTS.recipients,
          source: FULL_FACTS.source,
          records: PROFILE,
        },
        activities: { purpose: 'Sales follow-up', legalBasis: null, retention: null, recipients: null, source: null, records: ACTIVITIES },
        'Empty Stuff / Ä': { purpose: null, legalBasis: null, retention: null, recipients: null, source: null, records: [] },
      },
    });
    // Key order as documented.
    const parsed = JSON.parse(text) as { meta: object; categories: Record<string, object> };
    expect(Object.keys(parsed)).toEqual(['meta', 'categories']);
    expect(Object.keys(parsed.meta)).toEqual(['formatVersion', 'exportedAt', 'requestId', 'subject', 'counts', 'warnings']);
    expect(Object.keys(parsed.categories)).toEqual(['profile', 'activities', 'Empty Stuff / Ä']);
    expect(Object.keys(parsed.categories.profile)).toEqual(['purpose', 'legalBasis', 'retention', 'recipients', 'source', 'records']);
  });

  it('categories/<name>.json: the category, its facts and the same records', async () => {
    const { entries } = await build(fixture());
    const profile = JSON.parse(file(entries, 'categories/profile.json'));
    expect(profile).toStrictEqual({
      category: 'profile',
      purpose: FULL_FACTS.purpose,
      legalBasis: FULL_FACTS.legalBasis,
      retention: FULL_FACTS.retention,
      recipients: FULL_FACTS.recipients,
      source: FULL_FACTS.source,
      records: PROFILE,
    });
    expect(Object.keys(profile)).toEqual(['category', 'purpose', 'legalBasis', 'retention', 'recipients', 'source', 'records']);
    const activities = JSON.parse(file(entries, 'categories/activities.json'));
    expect(activities.records).toStrictEqual(ACTIVITIES);
    expect(activities.legalBasis).toBeNull();
    expect(JSON.parse(file(entries, 'categories/empty_stuff_a.json'))).toStrictEqual({
      category: 'Empty Stuff / Ä',
      purpose: null,
      legalBasis: null,
      retention: null,
      recipients: null,
      source: null,
      records: [],
    });
  });

  it('summary.csv: one row per field value, escaped', async () => {
    const { entries } = await build(fixture());
    const text = file(entries, 'summary.csv');
    const rows = parseCsv(text);
    expect(rows[0]).toEqual(['category', 'entity', 'record_id', 'field', 'value']);
    expect(rows.slice(1)).toEqual([...summaryRows('profile', PROFILE), ...summaryRows('activities', ACTIVITIES)]);
    // Raw escaping: quotes doubled, cells with commas / line breaks quoted, formulas neutralized.
    expect(text).toContain('activities,Activity,1,subject,"Call, ""urgent"""\n');
    expect(text).toContain('activities,Activity,1,body,"line1\nline2"\n');
    expect(text).toContain('activities,Activity,2,subject,"\'=HYPERLINK(""http://evil.example"",""x"")"\n');
    expect(text).toContain('activities,Activity,2,body,"\'+1 555 0100"\n');
    expect(text).toContain('activities,Note,n-1,text,"\'@SUM(A1:A2)"\n');
    expect(text).toContain('activities,Activity,3,subject,"\'-10"\n');
    expect(text).toContain('activities,Note,n-2,text,"\'\tTabbed"\n');
    expect(text).toContain('activities,Activity,3,extra,"x\r\ny"\n');
    expect(text).toContain('profile,Contact,42,score,-5\n'); // a number is no formula
    expect(text).toContain('profile,Contact,42,phone,\n');
    expect(text).toContain('profile,Contact,42,address,"{""city"":""London"",""zip"":""N1""}"\n');
    expect(text).toContain('profile,Contact,42,tags,"[""a"",""b""]"\n');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('categories/<name>.csv: _entity, _id, then the union of fields in first-seen order, rows padded', async () => {
    const { entries } = await build(fixture());
    const rows = parseCsv(file(entries, 'categories/activities.csv'));
    const header = ['_entity', '_id', 'subject', 'body', 'createdAt', 'text', 'pinned', 'extra'];
    expect(rows[0]).toEqual(header);
    expect(rows.slice(1)).toEqual(ACTIVITIES.map((r) => header.map((h) => (h === '_entity' || h === '_id' ? String(r[h]) : expectedCell(r[h])))));
    expect(rows.every((row) => row.length === header.length)).toBe(true);

    const profile = parseCsv(file(entries, 'categories/profile.csv'));
    expect(profile).toEqual([
      ['_entity', '_id', 'firstName', 'lastName', 'email', 'phone', 'vip', 'score', 'tags', 'address'],
      ['Contact', '42', 'Ada', 'Lovelace', 'ada@example.com', '', 'true', '-5', '["a","b"]', '{"city":"London","zip":"N1"}'],
    ]);
    expect(file(entries, 'categories/empty_stuff_a.csv')).toBe('_entity,_id\n');
  });

  it('README.md: files, facts, counts, sources and rights, but no record value nor display name', async () => {
    const { entries } = await build(fixture());
    const readme = file(entries, 'README.md');
    for (const expected of [
      'summary.json',
      'summary.csv',
      'categories/profile.json',
      'categories/activities.csv',
      'categories/empty_stuff_a.json',
      FULL_FACTS.purpose,
      FULL_FACTS.legalBasis,
      FULL_FACTS.retention,
      FULL_FACTS.source,
      FULL_FACTS.description,
      'Support team; Hosting provider (EU)',
      'Sales follow-up',
      '`Activity`, `Note`',
      '`MailProvider`',
      'Records: 1 record',
      'Records: 5 records',
      'Records: 0 records',
      '`Contact` `42`',
      'req-123',
      'Art. 15',
      'Art. 20',
      '§1798.100',
      '§1798.110',
      'rectification',
      'erasure',
      'restriction',
      'object',
      'portability',
      'supervisory authority',
      '1 warning',
    ]) {
      expect(readme).toContain(expected);
    }
    for (const secret of ['Ada', 'Lovelace', 'ada@example.com', 'urgent', 'HYPERLINK', 'SUM(', 'London', 'line1', 'Tabbed', 'messages skipped']) {
      expect(readme).not.toContain(secret);
    }
  });

  it('calls records() once per category, one category after the other', async () => {
    const events: string[] = [];
    const make = (name: string, n: number): ArchiveCategory & { calls: number } => {
      const c = {
        name,
        facts: {},
        entities: ['E'],
        count: n,
        calls: 0,
        async *records() {
          c.calls++;
          events.push(`start ${name}`);
          for (let i = 0; i < n; i++) {
            await new Promise((r) => setImmediate(r));
            yield [{ _entity: 'E', _id: `${name}-${i}`, v: i }];
          }
          events.push(`end ${name}`);
        },
      };
      return c;
    };
    const cats = [make('a', 3), make('b', 2), make('c', 0)];
    const { result } = await build(cats);
    expect(cats.map((c) => c.calls)).toEqual([1, 1, 1]);
    expect(events).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(result.counts).toEqual({ a: 3, b: 2, c: 0 });
  });

  it('an archive without categories is still complete', async () => {
    const { entries, result } = await build([]);
    expect(entries.map((e) => e.name)).toEqual(['summary.json', 'summary.csv', 'README.md']);
    expect(JSON.parse(file(entries, 'summary.json'))).toStrictEqual({
      meta: { ...META, formatVersion: 1, counts: {} },
      categories: {},
    });
    expect(file(entries, 'summary.csv')).toBe('category,entity,record_id,field,value\n');
    expect(file(entries, 'README.md')).toContain('No personal data was found.');
    expect(result.counts).toEqual({});
  });

  it('keeps planned counts in meta and reports the records actually written', async () => {
    const { entries, result } = await build([category('profile', PROFILE, { count: 3 })]);
    expect(JSON.parse(file(entries, 'summary.json')).meta.counts).toEqual({ profile: 3 });
    expect(result.counts).toEqual({ profile: 1 });
    expect(file(entries, 'README.md')).toContain('1 record (3 counted when the export started)');
  });

  it('skips empty batches and undefined fields the way JSON does', async () => {
    const c: ArchiveCategory = {
      name: 'x',
      facts: {},
      entities: ['E'],
      count: 1,
      async *records() {
        yield [];
        yield [{ _entity: 'E', _id: '1', a: 'A', gone: undefined as unknown as JsonValue, b: 0 }];
        yield [];
      },
    };
    const { entries } = await build([c]);
    expect(JSON.parse(file(entries, 'summary.json')).categories.x.records).toEqual([{ _entity: 'E', _id: '1', a: 'A', b: 0 }]);
    expect(parseCsv(file(entries, 'summary.csv')).slice(1)).toEqual([
      ['x', 'E', '1', 'a', 'A'],
      ['x', 'E', '1', 'b', '0'],
    ]);
    expect(file(entries, 'categories/x.csv')).toBe('_entity,_id,a,b\nE,1,A,0\n');
  });

  it('sanitizes category file names and keeps them unique', async () => {
    const { entries } = await build([
      category('Sales Notes', [{ _entity: 'N', _id: '1', t: 'x' }]),
      category('sales_notes', [{ _entity: 'N', _id: '2', t: 'y' }]),
      category('../../etc/passwd', []),
      category('😀', []),
    ]);
    expect(entries.map((e) => e.name)).toEqual([
      'summary.json',
      'summary.csv',
      'categories/sales_notes.json',
      'categories/sales_notes.csv',
      'categories/sales_notes-2.json',
      'categories/sales_notes-2.csv',
      'categories/etc_passwd.json',
      'categories/etc_passwd.csv',
      'categories/category.json',
      'categories/category.csv',
      'README.md',
    ]);
    expect(JSON.parse(file(entries, 'categories/sales_notes-2.json')).category).toBe('sales_notes');
    expect(JSON.parse(file(entries, 'categories/category.json')).category).toBe('😀');
    expect(file(entries, 'README.md')).toContain('`categories/sales_notes-2.json`');
  });

  it('uses the given compression level (0 stores)', async () => {
    const { entries } = await build([category('profile', PROFILE)], { compressionLevel: 0 });
    expect(entries.every((e) => e.compressionMethod === 0)).toBe(true);
    expect(JSON.parse(file(entries, 'categories/profile.json')).records).toEqual(PROFILE);
  });

  it('rejects invalid input at once', () => {
    expect(() => createExportArchive({ meta: META, categories: [category('a', []), category('a', [])] })).toThrow(ValidationError);
    expect(() => createExportArchive({ meta: META, categories: [category('a', [], { count: -1 })] })).toThrow(/non-negative integer/);
    expect(() => createExportArchive({ meta: META, categories: [], compressionLevel: 12 })).toThrow(ValidationError);
  });

  describe('failures', () => {
    async function expectFailure(categories: ArchiveCategory[], message: RegExp) {
      const archive = createExportArchive({ meta: META, categories, tmpDir: tmpRoot });
      const streamError = new Promise<Error>((resolve) => archive.stream.on('error', resolve));
      const sink = new Writable({ write: (_chunk, _enc, cb) => cb() });
      const piped = pipeline(archive.stream, sink).then(
        () => new Error('the pipeline did not fail'),
        (err: Error) => err,
      );
      await expect(archive.done).rejects.toThrow(message);
      expect((await piped).message).toMatch(message);
      expect((await streamError).message).toMatch(message);
      expect(archive.stream.destroyed).toBe(true);
      expect(await readdir(tmpRoot)).toEqual([]);
    }

    it('a source error rejects done and destroys the stream with it', async () => {
      let returned = false;
      const failing: ArchiveCategory = {
        name: 'broken',
        facts: {},
        entities: ['E'],
        count: 10,
        async *records() {
          try {
            yield [{ _entity: 'E', _id: '1', v: 'x' }];
            throw new Error('database went away');
          } finally {
            returned = true;
          }
        },
      };
      await expectFailure([category('ok', PROFILE), failing, category('never', PROFILE)], /database went away/);
      expect(returned).toBe(true);
    });

    it('a source that throws when called', async () => {
      const failing: ArchiveCategory = {
        name: 'broken',
        facts: {},
        entities: [],
        count: 0,
        records() {
          throw new Error('no cursor');
        },
      };
      await expectFailure([failing], /no cursor/);
    });

    it('a record that is not JSON-safe', async () => {
      await expectFailure([category('x', [{ _entity: 'E', _id: '1', n: 10n as unknown as JsonValue }])], /BigInt/);
    });

    it('a consumer that goes away stops the export and cleans up', async () => {
      let pulled = 0;
      const endless: ArchiveCategory = {
        name: 'endless',
        facts: {},
        entities: ['E'],
        count: 1_000_000,
        async *records() {
          for (let b = 0; ; b++) {
            pulled++;
            yield Array.from({ length: 100 }, (_, i) => ({ _entity: 'E', _id: `${b}-${i}`, text: 'x'.repeat(200) }));
          }
        },
      };
      const archive = createExportArchive({ meta: META, categories: [endless], tmpDir: tmpRoot });
      archive.stream.on('error', () => {});
      // The ZIP is assembled once the records are written: this consumer leaves while they still are.
      while (pulled < 20) await new Promise((r) => setTimeout(r, 5));
      archive.stream.destroy();
      await expect(archive.done).rejects.toThrow(/closed before it was complete/);
      const at = pulled;
      await new Promise((r) => setTimeout(r, 50));
      expect(pulled).toBe(at);
      expect(await readdir(tmpRoot)).toEqual([]);
    });
  });

  it('holds back a consumer that does not read with a bounded buffer, not the whole ZIP (backpressure)', async () => {
    const BATCHES = 100;
    let pulled = 0;
    const many: ArchiveCategory = {
      name: 'many',
      facts: {},
      entities: ['E'],
      count: BATCHES * 1000,
      async *records() {
        for (let b = 0; b < BATCHES; b++) {
          pulled++;
          yield Array.from({ length: 1000 }, (_, i) => ({ _entity: 'E', _id: `${b}-${i}`, text: `record ${b} ${i} ${'y'.repeat(100)}` }));
        }
      },
    };
    const archive = createExportArchive({ meta: META, categories: [many], tmpDir: tmpRoot, compressionLevel: 0 });
    archive.stream.on('error', () => {});
    let settled = false;
    archive.done.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The records go to compressed temporary files whatever the consumer does (~40 MB of entries here, stored)...
    while (pulled < BATCHES) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 500));
    // ...but nothing reads the stream: only a buffer's worth of the ZIP is produced, and the archive waits.
    expect(archive.stream.readableLength).toBeGreaterThan(0);
    expect(archive.stream.readableLength).toBeLessThanOrEqual(3 << 20);
    expect(settled).toBe(false);
    archive.stream.destroy();
    await expect(archive.done).rejects.toThrow();
    expect(await readdir(tmpRoot)).toEqual([]);
  });

  it('writes a category of 200k records with matching counts', async () => {
    const N = 200_000;
    const big: ArchiveCategory = {
      name: 'big',
      facts: { purpose: 'Load' },
      entities: ['Event', 'Other'],
      count: N,
      async *records() {
        for (let start = 0; start < N; start += 1000) {
          const batch: ExportRecord[] = [];
          for (let i = start; i < start + 1000; i++) {
            // A second entity with an extra field appears midway: the CSV rows before it get padded.
            batch.push(i === N / 2 ? { _entity: 'Other', _id: `o${i}`, n: i, late: 'L' } : { _entity: 'Event', _id: String(i), n: i, s: i % 7 === 0 ? 'a,b' : 's' });
          }
          yield batch;
        }
      },
    };
    const archive = createExportArchive({ meta: META, categories: [big, category('small', PROFILE)], tmpDir: tmpRoot });
    const sink: Buffer[] = [];
    const [result] = await Promise.all([
      archive.done,
      pipeline(archive.stream, new Writable({ write: (chunk: Buffer, _enc, cb) => (sink.push(chunk), cb()) })),
    ]);
    expect(result.counts).toEqual({ big: N, small: 1 });
    const entries = await unzip(Buffer.concat(sink));
    const summary = JSON.parse(file(entries, 'summary.json'));
    expect(summary.categories.big.records).toHaveLength(N);
    expect(summary.categories.big.records[N - 1]).toEqual({ _entity: 'Event', _id: String(N - 1), n: N - 1, s: 's' });
    expect(JSON.parse(file(entries, 'categories/big.json')).records).toHaveLength(N);
    const csv = parseCsv(file(entries, 'categories/big.csv'));
    expect(csv[0]).toEqual(['_entity', '_id', 'n', 's', 'late']);
    expect(csv).toHaveLength(N + 1);
    expect(csv.every((row) => row.length === 5)).toBe(true);
    expect(csv[1]).toEqual(['Event', '0', '0', 'a,b', '']);
    expect(csv[N / 2 + 1]).toEqual(['Other', `o${N / 2}`, String(N / 2), '', 'L']);
    expect(csv[N]).toEqual(['Event', String(N - 1), String(N - 1), 's', '']);
    const summaryCsv = file(entries, 'summary.csv');
    let lines = 0;
    for (let i = summaryCsv.indexOf('\n'); i !== -1; i = summaryCsv.indexOf('\n', i + 1)) lines++;
    // header + 2 fields per record + the profile's 8 fields
    expect(lines).toBe(1 + 2 * N + 8);
    expect(await readdir(tmpRoot)).toEqual([]);
  });
});
