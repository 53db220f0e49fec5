import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';

/** Chunk size for reading spooled files back (fewer, larger chunks for CRC and deflate). */
export const SPOOL_READ_CHUNK = 1 << 20;

/** Resolves when `stream` drains; rejects when it errors or `signal` aborts. */
export async function drained(stream: Writable, signal: AbortSignal): Promise<void> {
  await once(stream, 'drain', { signal });
}

/** An append-only temporary file: counts its bytes, reports errors once, closes on demand. */
export class Spool {
  readonly stream: WriteStream;
  /** Bytes handed to write() so far (the file's size once closed). */
  bytes = 0;

  constructor(readonly path: string, onError: (err: Error) => void) {
    this.stream = createWriteStream(path, { highWaterMark: SPOOL_READ_CHUNK });
    this.stream.on('error', onError);
  }

  /** Appends; false when the caller should wait for drained() before writing more. */
  write(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return this.stream.write(chunk);
  }

  async close(signal: AbortSignal): Promise<void> {
    const closed = once(this.stream, 'close', { signal });
    this.stream.end();
    await closed;
  }

  destroy(): void {
    this.stream.destroy();
  }
}

/** Reads bytes [start, end) of a file in large chunks. */
export function readRange(path: string, start: number, end: number): Readable {
  if (end <= start) return Readable.from([]);
  // createReadStream's `end` is inclusive.
  return createReadStream(path, { start, end: end - 1, highWaterMark: SPOOL_READ_CHUNK });
}

const QUOTE = 0x22;
const LF = 0x0a;

/**
 * Copies CSV text, inserting `pad` before every row delimiter (an LF outside quotes). The input must be
 * whole, correctly quoted rows; LFs inside quoted cells are kept as they are. UTF-8 continuation bytes
 * never equal '"' or LF, so scanning bytes is safe.
 */
export async function* padCsvRows(chunks: AsyncIterable<Buffer>, pad: Buffer): AsyncGenerator<Buffer> {
  let inQuotes = false;
  for await (const buf of chunks) {
    const parts: Buffer[] = [];
    let start = 0;
    let pos = 0;
    let nextQuote = buf.indexOf(QUOTE, 0);
    let nextLf = buf.indexOf(LF, 0);
    for (;;) {
      if (inQuotes) {
        if (nextQuote === -1) break;
        inQuotes = false;
        pos = nextQuote + 1;
        nextQuote = buf.indexOf(QUOTE, pos);
        continue;
      }
      if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf(LF, pos);
      if (nextQuote !== -1 && (nextLf === -1 || nextQuote < nextLf)) {
        inQuotes = true;
        pos = nextQuote + 1;
        nextQuote = buf.indexOf(QUOTE, pos);
        continue;
      }
      if (nextLf === -1) break;
      parts.push(buf.subarray(start, nextLf), pad);
      start = nextLf;
      pos = nextLf + 1;
      nextLf = buf.indexOf(LF, pos);
    }
    if (parts.length === 0) {
      yield buf;
    } else {
      parts.push(buf.subarray(start));
      yield Buffer.concat(parts);
    }
  }
}
