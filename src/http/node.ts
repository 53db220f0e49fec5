import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { PrivacyHttpRequest } from './core.js';
import type { PrivacyHttpResponse } from './responses.js';

/**
 * The neutral request from Node's IncomingMessage (Express, NestJS on Express, plain `http`). `url` is the URL below
 * the mount point (Express: `req.url` inside a router), path and query together.
 */
export function fromNodeRequest<TReq extends IncomingMessage>(req: TReq, at: { url: string; mountPath: string; secure?: boolean }): PrivacyHttpRequest<TReq> {
  const q = at.url.indexOf('?');
  const path = q >= 0 ? at.url.slice(0, q) : at.url;
  const query = q >= 0 ? at.url.slice(q + 1) : '';
  // A body parser the host mounted before the routes (express.json(), NestJS's) has read the stream already: use the
  // raw bytes it kept (NestJS with `rawBody: true`), else its result.
  const consumed = (req as { _body?: unknown })._body === true || req.readableEnded;
  const rawBody = (req as { rawBody?: unknown }).rawBody;
  const body = !consumed ? { raw: req } : Buffer.isBuffer(rawBody) ? { rawBody } : { parsed: (req as { body?: unknown }).body, hasParsed: true };
  return { method: req.method ?? 'GET', path: path.startsWith('/') ? path : `/${path}`, mountPath: at.mountPath, query, headers: req.headers, secure: at.secure, body, native: req };
}

/** Writes a neutral response to Node's ServerResponse; a stream that fails midway ends the connection (the status is already out). */
export function sendNodeResponse(res: ServerResponse, response: PrivacyHttpResponse): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  const { stream } = response;
  if (stream) {
    return new Promise<void>((resolve) => {
      pipeline(stream, res, () => resolve());
    });
  }
  const body = response.json !== undefined ? JSON.stringify(response.json) : (response.text ?? '');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
  return Promise.resolve();
}
