import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import yazl from 'yazl';
import { ValidationError } from '../errors.js';
import { csvText, csvValue } from './csv.js';
import { categoryCsvPath, categoryFileBases, categoryJsonPath, README_MD, SUMMARY_CSV, SUMMARY_JSON } from './paths.js';
import { buildExportReadme } from './readme.js';
import { drained, padCsvRows, readRange, Spool } from './spool.js';
import type { ArchiveCategory, ArchiveResult, ExportArchive, ExportArchiveInput, ExportRecord } from './types.js';
import { EXPORT_FORMAT_VERSION } from './types.js';

/**
 * Deflate level of the archive's entries. bench/archive-writer.ts, 1M records of ~240 B, 2 cores:
 * level 1 ~60k records/s for a 90 MB archive, yazl's default 6 ~47k records/s for 78 MB. Deflate runs
 * on the libuv pool, but yazl feeds one entry at a time, so after the records are read the spooled
 * entries (~75% of the bytes) are bound by one deflate stream plus yazl's CRC-32 (native in dist: crc32.ts).
 */
export const EXPORT_COMPRESSION_LEVEL = 1;

/** Buffer of the live summary.json entry: a few batches, so serializing overlaps with deflate. */
const SUMMARY_JSON_BUFFER = 1 << 20;

const SUMMARY_CSV_HEADER = 'category,entity,record_id,field,value\n';

interface FieldColumn {
  index: number;
  /** The field name as a CSV cell, followed by a comma (summary.csv's `field,`). */
  head: string;
}

/** Bytes of a category's CSV body from `start` on whose rows have `cols` field cells. */
interface CsvRun {
  start: number;
  cols: number;
}

interface WrittenCategory {
  category: ArchiveCategory;
  base: string;
  json: Spool;
  csv: Spool;
  /** Header cells of the category's fields, first-seen order. */
  fieldCells: string[];
  runs: CsvRun[];
}

/** The facts as written in summary.json and the category file: missing ones are null. */
function factsJson(category: ArchiveCategory): string {
  const f = category.facts ?? {};
  return (
    `"purpose":${JSON.stringify(f.purpose ?? null)},"legalBasis":${JSON.stringify(f.legalBasis ?? null)},` +
    `"retention":${JSON.stringify(f.retention ?? null)},"recipients":${JSON.stringify(f.recipients ?? null)},` +
    `"source":${JSON.stringify(f.source ?? null)}`
  );
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function entryDate(iso: string): Date {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? new Date() : date;
}

function validate(input: ExportArchiveInput): void {
  const issues: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  input.categories.forEach((c, i) => {
    if (typeof c.name !== 'string') issues.push({ path: `categories.${i}.name`, message: 'must be a string' });
    else if (seen.has(c.name)) issues.push({ path: `categories.${i}.name`, message: `duplicate category '${c.name}'` });
    seen.add(c.name);
    if (typeof c.records !== 'function') issues.push({ path: `categories.${i}.records`, message: 'must be a function' });
    if (!Number.isSafeInteger(c.count) || c.count < 0) issues.push({ path: `categories.${i}.count`, message: 'must be a non-negative integer' });
  });
  const level = input.compressionLevel;
  if (level !== undefined && !(Number.isInteger(level) && level >= 0 && level <= 9)) {
    issues.push({ path: 'compressionLevel', message: 'must be an integer from 0 to 9' });
  }
  if (issues.length > 0) {
    throw new ValidationError(`Invalid export archive input: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  }
}

/**
 * Streams the export ZIP (format version 1; see DESIGN.md "Export archive").
 *
 * summary.json is the first entry and is written into the ZIP while the records arrive; every record is
 * serialized to JSON once, and that text plus its CSV rows are appended to temporary files (the category's
 * JSON and CSV bodies, summary.csv) that become the following entries once summary.json is complete,
 * then README.md. Memory stays flat: one batch at a time, backpressure honoured on every stream. The
 * temporary directory (under `tmpDir`, default os.tmpdir()) is removed when `done` settles.
 *
 * The stream must be consumed while `done` is awaited. On any failure (a source throwing, a record that is
 * not JSON-safe, a disk error, the stream destroyed by its consumer), `done` rejects and `stream` is
 * destroyed with that error, so consume it with `pipeline()` or listen for 'error'. If a source never
 * settles, neither does `done`.
 *
 * Throws a ValidationError at once for duplicate category names or invalid counts.
 */
export function createExportArchive(input: ExportArchiveInput): ExportArchive {
  validate(input);
  const { meta, categories } = input;
  const level = input.compressionLevel ?? EXPORT_COMPRESSION_LEVEL;
  const entryOptions = { mtime: entryDate(meta.exportedAt), compressionLevel: level };

  const zip = new yazl.ZipFile();
  // yazl's outputStream is a PassThrough (typed as NodeJS.ReadableStream by @types/yazl).
  const output = zip.outputStream as PassThrough;
  const summaryJson = new PassThrough({ highWaterMark: SUMMARY_JSON_BUFFER });
  const controller = new AbortController();
  const { signal } = controller;
  const openSpools = new Set<Spool>();
  const openReads = new Set<Readable>();
  let failure: Error | undefined;
  let finished = false;

  const fail = (err: unknown): void => {
    if (failure !== undefined || finished) return;
    failure = toError(err);
    controller.abort(failure);
    output.destroy(failure);
    summaryJson.destroy();
    for (const spool of openSpools) spool.destroy();
    for (const read of openReads) read.destroy();
  };
  const check = (): void => {
    if (failure !== undefined) throw failure;
  };

  zip.on('error', fail);
  const outputFinished = once(output, 'finish', { signal });
  outputFinished.catch(() => {});
  output.on('finish', () => {
    finished = true;
  });
  output.on('close', () => {
    if (!finished) fail(new Error('The export archive stream was closed before it was complete'));
  });
  zip.addReadStream(summaryJson, SUMMARY_JSON, entryOptions);

  /** Adds a spooled entry, opened only when yazl gets to it. */
  const addLazy = (name: string, open: () => Readable): void => {
    zip.addReadStreamLazy(name, entryOptions, (cb) => {
      if (failure !== undefined) {
        cb(failure, undefined as never);
        return;
      }
      const stream = open();
      openReads.add(stream);
      stream.on('error', fail);
      stream.on('close', () => openReads.delete(stream));
      cb(null, stream);
    });
  };

  const openSpool = (file: string): Spool => {
    const spool = new Spool(file, fail);
    openSpools.add(spool);
    return spool;
  };

  const closeSpool = async (spool: Spool): Promise<void> => {
    await spool.close(signal);
    openSpools.delete(spool);
  };

  async function generate(dir: string): Promise<Record<string, number>> {
    const bases = categoryFileBases(categories.map((c) => c.name));
    const counts: Record<string, number> = {};
    const written: WrittenCategory[] = [];
    const entityCells = new Map<string, string>();
    const waits: Promise<void>[] = [];
    // A batch's text for summary.json and the category JSON, summary.csv, the category CSV.
    const jsonText = new Utf8Text();
    const sumText = new Utf8Text();
    const csvBody = new Utf8Text();

    const metaJson = JSON.stringify({
      formatVersion: EXPORT_FORMAT_VERSION,
      exportedAt: meta.exportedAt,
      requestId: meta.requestId,
      subject: { type: meta.subject.type, id: meta.subject.id, displayName: meta.subject.displayName ?? null },
      counts: Object.fromEntries(categories.map((c) => [c.name, c.count])),
      warnings: meta.warnings ?? [],
    });
    const summaryCsv = openSpool(path.join(dir, 'summary.csv'));
    summaryCsv.write(Buffer.from(SUMMARY_CSV_HEADER));
    if (!summaryJson.write(`{"meta":${metaJson},\n"categories":{`)) await drained(summaryJson, signal);

    for (let c = 0; c < categories.length; c++) {
      const category = categories[c];
      const base = bases[c];
      const nameJson = JSON.stringify(category.name);
      const facts = factsJson(category);
      const json = openSpool(path.join(dir, `${c}.json`));
      const csv = openSpool(path.join(dir, `${c}.csv`));
      const entry: WrittenCategory = { category, base, json, csv, fieldCells: [], runs: [] };
      written.push(entry);
      json.write(Buffer.from(`{"category":${nameJson},${facts},"records":[`));
      if (!summaryJson.write(`${c === 0 ? '' : ','}\n${nameJson}:{${facts},"records":[`)) await drained(summaryJson, signal);

      const categoryCell = csvText(category.name);
      const fields = new Map<string, FieldColumn>();
      const row: string[] = [];
      let runCols = -1;
      let count = 0;

      for await (const batch of category.records()) {
        check();
        const before = count;
        for (let r = 0; r < batch.length; r++) {
          const record: ExportRecord = batch[r];
          jsonText.add(count === 0 ? '\n' : ',\n');
          jsonText.add(JSON.stringify(record));
          count++;
          const entity = String(record._entity);
          let entityCell = entityCells.get(entity);
          if (entityCell === undefined) {
            entityCell = csvText(entity);
            entityCells.set(entity, entityCell);
          }
          const idCell = csvValue(record._id);
          const prefix = `${categoryCell},${entityCell},${idCell},`;
          for (const key in record) {
            if (key === '_entity' || key === '_id') continue;
            const value = record[key];
            if (value === undefined) continue;
            let column = fields.get(key);
            if (column === undefined) {
              const nameCell = csvText(key);
              column = { index: fields.size, head: nameCell + ',' };
              fields.set(key, column);
              entry.fieldCells.push(nameCell);
              row.push('');
            }
            const cell = csvValue(value);
            sumText.add(prefix);
            sumText.add(column.head);
            sumText.add(cell);
            sumText.add('\n');
            row[column.index] = cell;
          }
          if (row.length !== runCols) {
            // A new field appeared: rows from here on have more cells. Flush so the run starts at a known offset.
            if (csvBody.length > 0) csv.write(csvBody.take());
            runCols = row.length;
            entry.runs.push({ start: csv.bytes, cols: runCols });
          }
          csvBody.add(entityCell);
          csvBody.add(',');
          csvBody.add(idCell);
          csvBody.add(row.length === 0 ? '\n' : ',' + row.join(',') + '\n');
          row.fill('');
        }
        if (count === before) continue;
        const jsonBuf = jsonText.take();
        if (!summaryJson.write(jsonBuf)) waits.push(drained(summaryJson, signal));
        if (!json.write(jsonBuf)) waits.push(drained(json.stream, signal));
        if (!summaryCsv.write(sumText.take())) waits.push(drained(summaryCsv.stream, signal));
        if (csvBody.length > 0 && !csv.write(csvBody.take())) waits.push(drained(csv.stream, signal));
        if (waits.length > 0) {
          await Promise.all(waits);
          waits.length = 0;
        }
        check();
      }
      check();
      counts[category.name] = count;
      const close = count === 0 ? ']}' : '\n]}';
      json.write(Buffer.from(close + '\n'));
      if (!summaryJson.write(close)) await drained(summaryJson, signal);
      await Promise.all([closeSpool(json), closeSpool(csv)]);
      check();
    }

    summaryJson.end('\n}}\n');
    await closeSpool(summaryCsv);
    check();

    // The rest of the entries, in order; yazl pulls each once summary.json is complete.
    addLazy(SUMMARY_CSV, () => readRange(summaryCsv.path, 0, summaryCsv.bytes));
    for (const entry of written) {
      addLazy(categoryJsonPath(entry.base), () => readRange(entry.json.path, 0, entry.json.bytes));
      addLazy(categoryCsvPath(entry.base), () => Readable.from(categoryCsv(entry)));
    }
    const readme = buildExportReadme(meta, categories, { writtenCounts: counts });
    zip.addBuffer(Buffer.from(readme), README_MD, entryOptions);
    zip.end();
    return counts;
  }

  const done = (async (): Promise<ArchiveResult> => {
    let dir: string | undefined;
    try {
      dir = await mkdtemp(path.join(input.tmpDir ?? os.tmpdir(), 'privacy-export-'));
      check();
      const counts = await generate(dir);
      await outputFinished;
      return { counts };
    } catch (err) {
      fail(err);
      throw failure ?? toError(err);
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  })();
  // The failure also reaches the stream's consumer; a caller using only the stream gets no unhandled rejection.
  done.catch(() => {});
  return { stream: output, done };
}

/**
 * Text encoded to UTF-8 piece by piece into one reused buffer, handed out as a copy per batch. Concatenating
 * a batch's strings and then Buffer.from() costs V8 a flattening of the long string: ~2.5x the time of writing
 * the pieces (1000 records: 1.5 against 2.5 ms, JSON.stringify included). Grows to the largest batch, no more.
 */
class Utf8Text {
  private buf = Buffer.allocUnsafe(1 << 16);
  length = 0;

  add(text: string): void {
    // At most 3 bytes per UTF-16 code unit.
    if (this.buf.length - this.length < text.length * 3) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + text.length * 3));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    this.length += this.buf.write(text, this.length);
  }

  /** The bytes so far, as a buffer of their own (streams keep what they are given); empties the text. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.length);
    this.buf.copy(out, 0, 0, this.length);
    this.length = 0;
    return out;
  }
}

/** categories/<name>.csv: the header (now that every field is known), then the rows padded to its width. */
async function* categoryCsv(entry: WrittenCategory): AsyncGenerator<Buffer> {
  const width = entry.fieldCells.length;
  yield Buffer.from(['_entity', '_id', ...entry.fieldCells].join(',') + '\n');
  const { runs, csv } = entry;
  for (let i = 0; i < runs.length; i++) {
    const end = i + 1 < runs.length ? runs[i + 1].start : csv.bytes;
    const body = readRange(csv.path, runs[i].start, end);
    if (runs[i].cols === width) yield* body;
    else yield* padCsvRows(body, Buffer.from(','.repeat(width - runs[i].cols)));
  }
}
