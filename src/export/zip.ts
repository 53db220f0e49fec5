import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { PassThrough, type Transform, type Writable } from 'node:stream';
import zlib from 'node:zlib';
import { crc32 } from './crc32.js';
import { SPOOL_READ_CHUNK } from './spool.js';

/**
 * The export's ZIP writer: every entry is deflated before it is written (into a temporary file, on the libuv
 * pool, while the records are still being serialized), so the archive is assembled at the end by copying
 * compressed bytes whose CRC-32 and sizes are already known: no data descriptors, and ZIP64 fields only where a
 * size or an offset needs them (APPNOTE 6.3.x, sections 4.3 and 4.5.3). A general ZIP library (yazl) deflates
 * one entry at a time as it writes it; here the entries' deflate streams run side by side.
 */

/** A file being deflated as it is written (stored as it is at level 0), with the CRC-32 and size of what went in. */
export class DeflatedSpool {
  private readonly deflate: Transform;
  private readonly method: number;
  private readonly file: WriteStream;
  private readonly closed: Promise<unknown>;
  crc = 0;
  /** Uncompressed bytes written so far. */
  size = 0;

  constructor(
    readonly path: string,
    level: number,
    onError: (err: Error) => void,
  ) {
    this.method = level === 0 ? STORED : DEFLATE;
    this.deflate = level === 0 ? new PassThrough({ highWaterMark: SPOOL_READ_CHUNK }) : zlib.createDeflateRaw({ level, chunkSize: DEFLATE_CHUNK });
    this.file = createWriteStream(path, { highWaterMark: SPOOL_READ_CHUNK });
    this.deflate.on('error', onError);
    this.file.on('error', onError);
    this.closed = once(this.file, 'close');
    this.closed.catch(() => undefined);
    this.deflate.pipe(this.file);
  }

  /** Appends; false when the caller should wait for the writable's 'drain' before writing more. */
  write(chunk: Buffer): boolean {
    this.crc = crc32(chunk, this.crc);
    this.size += chunk.length;
    return this.deflate.write(chunk);
  }

  get writable(): Writable {
    return this.deflate;
  }

  /** Ends the stream; resolves once the compressed file is complete, with its size. */
  async close(): Promise<ZipEntrySource> {
    this.deflate.end();
    await this.closed;
    return { path: this.path, method: this.method, crc: this.crc, size: this.size, compressedSize: this.file.bytesWritten };
  }

  destroy(): void {
    this.deflate.destroy();
    this.file.destroy();
  }
}

/** A deflated entry's data in a file, with what the ZIP headers record of it. */
export interface ZipEntrySource {
  path: string;
  /** 8 (deflate) or 0 (stored). */
  method: number;
  crc: number;
  size: number;
  compressedSize: number;
}

interface Written {
  name: Buffer;
  source: ZipEntrySource;
  offset: number;
}

const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
const UTF8_NAMES = 0x0800;
const DEFLATE = 8;
/** zlib's output chunk (16 KiB by default): each one is a callback on the main thread. */
const DEFLATE_CHUNK = 1 << 16;
const STORED = 0;
/** Made by Unix (3), spec 2.0 (20): external attributes are Unix modes. */
const MADE_BY = (3 << 8) | 20;
const REGULAR_FILE_RW_R_R = (0o100644 << 16) >>> 0;

/** Writes a ZIP of deflated entries, in the order given, to `out` (backpressure honoured). */
export class ZipWriter {
  private offset = 0;
  private readonly entries: Written[] = [];
  private readonly dosTime: number;
  private readonly dosDate: number;
  private readonly unixTime: number;

  constructor(
    private readonly out: Writable,
    mtime: Date,
    private readonly signal: AbortSignal,
    /** Writes ZIP64 fields and records even where the sizes fit in 32 bits (for tests: real ones need 4 GiB). */
    private readonly forceZip64 = false,
  ) {
    ({ time: this.dosTime, date: this.dosDate } = dosDateTime(mtime));
    this.unixTime = Math.max(-0x80000000, Math.min(0x7fffffff, Math.floor(mtime.getTime() / 1000)));
  }

  /** Copies one deflated entry: its local header, then the compressed bytes. */
  async add(name: string, source: ZipEntrySource): Promise<void> {
    const entry: Written = { name: Buffer.from(name, 'utf8'), source, offset: this.offset };
    this.entries.push(entry);
    const zip64 = this.forceZip64 || source.size >= MAX32 || source.compressedSize >= MAX32;
    const extras = [this.timestampField()];
    if (zip64) extras.push(zip64Field([source.size, source.compressedSize]));
    const extra = Buffer.concat(extras);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    this.writeCommonFields(header, 4, source, zip64, entry.name.length, extra.length);
    await this.write(Buffer.concat([header, entry.name, extra]));
    if (source.compressedSize > 0) {
      for await (const chunk of createReadStream(source.path, { highWaterMark: SPOOL_READ_CHUNK, signal: this.signal })) await this.write(chunk as Buffer);
    }
  }

  /** The central directory and its end records. */
  async end(): Promise<void> {
    const start = this.offset;
    let anyZip64 = false;
    for (const { name, source, offset } of this.entries) {
      const zip64 = this.forceZip64 || source.size >= MAX32 || source.compressedSize >= MAX32 || offset >= MAX32;
      anyZip64 ||= zip64;
      const extras = [this.timestampField()];
      if (zip64) extras.push(zip64Field([source.size, source.compressedSize, offset]));
      const extra = Buffer.concat(extras);
      const header = Buffer.alloc(46);
      header.writeUInt32LE(0x02014b50, 0);
      header.writeUInt16LE(MADE_BY, 4);
      this.writeCommonFields(header, 6, source, zip64, name.length, extra.length);
      // comment length, disk number start, internal attributes: 0
      header.writeUInt32LE(REGULAR_FILE_RW_R_R, 38);
      header.writeUInt32LE(zip64 ? MAX32 : offset, 42);
      await this.write(Buffer.concat([header, name, extra]));
    }
    const size = this.offset - start;
    const count = this.entries.length;
    if (anyZip64 || count >= MAX16 || size >= MAX32 || start >= MAX32) {
      const record = Buffer.alloc(56);
      record.writeUInt32LE(0x06064b50, 0);
      record.writeBigUInt64LE(44n, 4); // size of the rest of the record
      record.writeUInt16LE(MADE_BY, 12);
      record.writeUInt16LE(45, 14);
      // this disk, the central directory's disk: 0
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(size), 40);
      record.writeBigUInt64LE(BigInt(start), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(this.offset), 8);
      locator.writeUInt32LE(1, 16); // total disks
      await this.write(Buffer.concat([record, locator]));
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(Math.min(count, MAX16), 8);
    eocd.writeUInt16LE(Math.min(count, MAX16), 10);
    eocd.writeUInt32LE(Math.min(size, MAX32), 12);
    eocd.writeUInt32LE(Math.min(start, MAX32), 16);
    await this.write(eocd);
  }

  /**
   * The fields the local and the central header share, in the same order from `at` (4 and 6): version needed,
   * flags, method, DOS time and date, CRC-32, sizes (0xFFFFFFFF where the ZIP64 field has them), name and extra lengths.
   */
  private writeCommonFields(header: Buffer, at: number, source: ZipEntrySource, zip64: boolean, nameLength: number, extraLength: number): void {
    header.writeUInt16LE(zip64 ? 45 : 20, at);
    header.writeUInt16LE(UTF8_NAMES, at + 2);
    header.writeUInt16LE(source.method, at + 4);
    header.writeUInt16LE(this.dosTime, at + 6);
    header.writeUInt16LE(this.dosDate, at + 8);
    header.writeUInt32LE(source.crc >>> 0, at + 10);
    header.writeUInt32LE(zip64 ? MAX32 : source.compressedSize, at + 14);
    header.writeUInt32LE(zip64 ? MAX32 : source.size, at + 18);
    header.writeUInt16LE(nameLength, at + 22);
    header.writeUInt16LE(extraLength, at + 24);
  }

  /** Info-ZIP's universal timestamp (0x5455): the modification time in UTC, which DOS times cannot say. */
  private timestampField(): Buffer {
    const field = Buffer.alloc(9);
    field.writeUInt16LE(0x5455, 0);
    field.writeUInt16LE(5, 2);
    field.writeUInt8(1, 4); // modification time present
    field.writeInt32LE(this.unixTime, 5);
    return field;
  }

  private async write(chunk: Buffer): Promise<void> {
    this.offset += chunk.length;
    if (!this.out.write(chunk)) await once(this.out, 'drain', { signal: this.signal });
  }
}

/** The ZIP64 extended information field (0x0001) with the given 8-byte values. */
function zip64Field(values: number[]): Buffer {
  const field = Buffer.alloc(4 + 8 * values.length);
  field.writeUInt16LE(0x0001, 0);
  field.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => field.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return field;
}

/** MS-DOS date and time fields (local time, two-second precision), clamped to 1980–2107. */
function dosDateTime(date: Date): { date: number; time: number } {
  const year = date.getFullYear();
  if (year < 1980) return { date: (1 << 5) | 1, time: 0 };
  if (year > 2107) return { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29 };
  return {
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2),
  };
}
