import type { Readable } from 'node:stream';
import { ValidationError } from '../errors.js';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js';

/** Where a request body comes from: the unread stream (preferred), or what a host's body parser already made of it. */
export interface BodySource {
  /** The unread request stream (Node's IncomingMessage); read here with the size limit. */
  raw?: Readable | AsyncIterable<Uint8Array | string>;
  /** Raw bytes already read by the framework (Nest's `rawBody`). */
  rawBody?: Uint8Array | string;
  /** A value a body parser already produced (express.json() before the router); used when neither of the above is there. */
  parsed?: unknown;
  /** Whether `parsed` is set (a parser may have produced `undefined`). */
  hasParsed?: boolean;
}

/**
 * JSON only, as UTF-8. Parameters other than charset are tolerated (`application/json; charset=utf-8` is what
 * fetch sends); `application/*+json` and form encodings are refused, so a cross-site HTML form cannot post here.
 */
export function assertJsonContentType(header: string | undefined): void {
  if (header === undefined) throw new UnsupportedMediaTypeError();
  const [type, ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') throw new UnsupportedMediaTypeError();
  for (const param of params) {
    const [name, value] = param.split('=').map((s) => s.trim());
    if (name === 'charset' && value?.replace(/^"|"$/g, '') !== 'utf-8') throw new UnsupportedMediaTypeError('Only UTF-8 JSON is accepted (charset=utf-8)');
  }
}

function isNodeReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).on === 'function' && typeof (value as Readable).resume === 'function';
}

/**
 * Reads at most `limit` bytes. Past the limit it stops keeping bytes and lets the rest drain unread (the stream is
 * not destroyed, so the 413 still reaches the client).
 */
export function readLimited(raw: Readable | AsyncIterable<Uint8Array | string>, limit: number): Promise<Buffer> {
  if (!isNodeReadable(raw)) return readIterable(raw, limit);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      raw.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > limit) {
        cleanup();
        raw.on('error', () => undefined);
        raw.resume();
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(buffer);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = () => {
      cleanup();
      reject(new ValidationError('The request body could not be read', [{ path: '(body)', message: 'incomplete body' }]));
    };
    const onAborted = onError;
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.on('aborted', onAborted);
    raw.resume();
  });
}

async function readIterable(raw: AsyncIterable<Uint8Array | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of raw) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    size += buffer.length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Parses JSON text; malformed JSON or bytes that are not UTF-8 are a 400 naming the body, never echoing it. */
export function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ValidationError('The request body is not valid UTF-8', [{ path: '(body)', message: 'not UTF-8' }]);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('The request body is not valid JSON', [{ path: '(body)', message: 'malformed JSON' }]);
  }
}

/**
 * The body of a POST as a JSON value. An empty body is `{}` (a client may send none for `cancel`); a non-empty
 * one needs the JSON content type, checked before the body is read. A Content-Length over the limit is refused
 * before any byte is read.
 */
export async function readJsonBody(source: BodySource, headers: { contentType?: string; contentLength?: string }, limit: number): Promise<unknown> {
  const declared = headers.contentLength === undefined ? undefined : Number(headers.contentLength);
  if (declared !== undefined && Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit);

  let bytes: Buffer | undefined;
  if (source.rawBody !== undefined) bytes = Buffer.from(source.rawBody);
  else if (source.raw !== undefined) {
    if (headers.contentType !== undefined) assertJsonContentType(headers.contentType);
    bytes = await readLimited(source.raw, limit);
  }
  if (bytes !== undefined) {
    if (bytes.length > limit) throw new PayloadTooLargeError(limit);
    if (bytes.length === 0) return {};
    assertJsonContentType(headers.contentType);
    return parseJson(bytes);
  }
  // Parsed upstream (express.json() before the router): that parser applied its own limit; this one is applied to the value's JSON size.
  if (source.hasParsed && source.parsed !== undefined) {
    assertJsonContentType(headers.contentType);
    if (Buffer.byteLength(JSON.stringify(source.parsed) ?? '') > limit) throw new PayloadTooLargeError(limit);
    return source.parsed;
  }
  return {};
}
