import { Readable } from 'node:stream';

/**
 * A framework-neutral response. Exactly one of `json`, `text` or `stream` is set (or none, for an empty body);
 * `headers` already holds Content-Type and the security headers. Adapters copy it onto their response object.
 */
export interface PrivacyHttpResponse {
  status: number;
  headers: Record<string, string | string[]>;
  /** Serialize with JSON.stringify. */
  json?: unknown;
  text?: string;
  /** A ZIP or an audit export: pipe it, and destroy the connection if it fails midway (the status is already sent). */
  stream?: Readable;
}

/** On every response: nothing cached (bodies hold requests and personal exports), nothing sniffed or framed. */
const COMMON_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
} as const;

/** JSON needs no content policy beyond forbidding everything: opened in a tab, it runs nothing and cannot be framed. */
const API_HEADERS = { ...COMMON_HEADERS, 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'" } as const;

/** The dashboard page: its own script and style only (no inline code), same-origin fetches, never framed. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export const DASHBOARD_HEADERS = {
  ...COMMON_HEADERS,
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

export function jsonResponse(status: number, body: unknown, extra: Record<string, string | string[]> = {}): PrivacyHttpResponse {
  return { status, headers: { ...API_HEADERS, 'Content-Type': 'application/json; charset=utf-8', ...extra }, json: body };
}

/** A file name safe inside a quoted Content-Disposition parameter on every browser. */
export function safeFileName(name: string, fallback: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 150);
  return cleaned || fallback;
}

/** A download: `attachment`, never ranged, never cached. */
export function attachmentResponse(stream: Readable, file: { contentType: string; fileName: string; size?: number }): PrivacyHttpResponse {
  return {
    status: 200,
    headers: {
      ...API_HEADERS,
      'Content-Type': file.contentType,
      'Content-Disposition': `attachment; filename="${file.fileName}"`,
      'Accept-Ranges': 'none',
      ...(file.size !== undefined ? { 'Content-Length': String(file.size) } : {}),
    },
    stream,
  };
}

/** A JSON document streamed (the audit export), inline. */
export function jsonStreamResponse(stream: Readable): PrivacyHttpResponse {
  return { status: 200, headers: { ...API_HEADERS, 'Content-Type': 'application/json; charset=utf-8' }, stream };
}

export function redirectResponse(location: string): PrivacyHttpResponse {
  return { status: 308, headers: { ...API_HEADERS, Location: location } };
}

/**
 * Waits for a stream's first chunk before the response is committed: a failure at the start (a missing or
 * tampered archive, an unreadable audit table) still becomes a JSON error with its status, not a cut connection.
 */
export async function startedStream(stream: Readable): Promise<Readable> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const first = await iterator.next();
  return Readable.from(
    (async function* () {
      try {
        if (first.done) return;
        yield first.value;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield next.value;
        }
      } finally {
        // The client went away (or the copy ended): release the source.
        await iterator.return?.();
      }
    })(),
    { objectMode: false },
  );
}
