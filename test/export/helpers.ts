import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import type { ArchiveCategory, ArchiveMeta, ExportRecord } from '../../src/export/index.js';

export interface ZipEntry {
  name: string;
  text: string;
  compressionMethod: number;
}

/** Every entry of a ZIP, in archive order, as UTF-8 text (CRCs are checked by yauzl). */
export async function unzip(buffer: Buffer): Promise<ZipEntry[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(buffer, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, file) =>
      err ? reject(err) : resolve(file),
    ),
  );
  const entries: ZipEntry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          entries.push({ name: entry.fileName, text: Buffer.concat(chunks).toString('utf8'), compressionMethod: entry.compressionMethod });
          zip.readEntry();
        });
      });
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return entries;
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function file(entries: ZipEntry[], name: string): string {
  const entry = entries.find((e) => e.name === name);
  if (!entry) throw new Error(`no ${name} in the archive (has ${entries.map((e) => e.name).join(', ')})`);
  return entry.text;
}

/** A strict RFC 4180 parser (LF or CRLF rows); throws on malformed quoting. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  let cellStarted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') throw new Error(`garbage after quote at ${i}`);
        continue;
      }
      cell += ch;
      i++;
      continue;
    }
    if (ch === '"') {
      if (cellStarted && cell !== '') throw new Error(`quote inside unquoted cell at ${i}`);
      quoted = true;
      cellStarted = true;
      i++;
    } else if (ch === ',') {
      row.push(cell);
      cell = '';
      cellStarted = false;
      i++;
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      cellStarted = false;
      i += ch === '\r' ? 2 : 1;
    } else {
      if (ch === '\r') throw new Error(`bare CR outside quotes at ${i}`);
      cell += ch;
      cellStarted = true;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quote');
  if (cellStarted || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

export const META: ArchiveMeta = {
  exportedAt: '2025-03-04T05:06:07.000Z',
  requestId: 'req-123',
  subject: { type: 'Contact', id: '42', displayName: 'Ada Lovelace' },
  warnings: ['provider mail: 2 messages skipped'],
};

/** A category over fixed records, in batches of `batchSize`; counts calls of records(). */
export function category(
  name: string,
  records: ExportRecord[],
  options: Partial<Omit<ArchiveCategory, 'name' | 'records'>> & { batchSize?: number } = {},
): ArchiveCategory & { calls: number } {
  const batchSize = options.batchSize ?? 2;
  const result = {
    name,
    facts: options.facts ?? {},
    entities: options.entities ?? [...new Set(records.map((r) => r._entity))],
    count: options.count ?? records.length,
    calls: 0,
    async *records() {
      result.calls++;
      for (let i = 0; i < records.length; i += batchSize) {
        await new Promise((resolve) => setImmediate(resolve));
        yield records.slice(i, i + batchSize);
      }
    },
  };
  return result;
}
