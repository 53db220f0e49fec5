import { type IncomingHttpHeaders, type RequestListener, type Server, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What an adapter's test factory hands back: a Node server (NestJS: app.getHttpServer()) or a request listener (an Express app). */
export type AppTarget = Server | RequestListener;

/** Listens on an ephemeral port of 127.0.0.1; `close()` stops it (and the app's own close, when given). */
export async function listen(target: AppTarget, closeApp?: () => Promise<void>): Promise<{ url: string; close(): Promise<void> }> {
  const server = typeof target === 'function' ? createServer(target) : target;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections?.();
      if (closeApp) await closeApp();
      else await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/**
 * A request exactly as given: no header added (no Content-Type, no Content-Length unless set), the body written
 * in the given chunks (chunked encoding when no Content-Length is set). For the cases supertest would "fix".
 */
export function rawRequest(
  baseUrl: string,
  input: { method: string; path: string; headers?: Record<string, string>; chunks?: Array<string | Buffer> },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(baseUrl);
    const headers = { ...input.headers };
    // Node frames a GET's (or DELETE's...) body only when told to; unframed bytes would read as a second, broken request.
    const hasLength = Object.keys(headers).some((name) => name.toLowerCase() === 'content-length');
    if (input.chunks?.length && !hasLength) headers['Transfer-Encoding'] = 'chunked';
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: input.method, path: input.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          let json: unknown;
          try {
            json = JSON.parse(body.toString('utf8'));
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    // The server may answer (413) and close before the whole body is written; the response still arrives.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    for (const chunk of input.chunks ?? []) req.write(chunk);
    req.end();
  });
}

/** An error body as the contract has it: `{ error: { code, message, issues?, request? } }` and nothing else, no stack anywhere. */
export function isCleanErrorBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return false;
  const error = (body as { error: Record<string, unknown> }).error;
  if (typeof error !== 'object' || error === null) return false;
  if (typeof error.code !== 'string' || typeof error.message !== 'string') return false;
  if (!Object.keys(error).every((k) => ['code', 'message', 'issues', 'request'].includes(k))) return false;
  const text = JSON.stringify(body);
  return !/"stack"|\n\s+at |\.ts:\d+|\.js:\d+|node_modules/.test(text);
}
