/**
 * The framework-neutral HTTP layer: one route table (routes.ts) and one `handle()` that takes a neutral request and
 * returns a neutral response. The Express router and the NestJS module are thin adapters over it; a host on another
 * framework can write its own from `fromNodeRequest` / `sendNodeResponse` (node.ts) or from these types alone.
 *
 * Per request, in this order: route match (404, 405) → actor from `getActor` (401) → role (403) → CSRF on POST
 * (403 CSRF) → path parameters and query (400) → content type, size and JSON body (415, 413, 400) → the engine
 * call (its errors mapped by code, errors.ts). `handle()` never throws: every failure is a JSON error response.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { type ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import type { PrivacyEngine } from '../engine/privacy-engine.js';
import { parseInput } from '../engine/options.js';
import { ADMIN_ROLE, type Actor, actorSchema } from '../engine/policy.js';
import type { PrivacyRequest } from '../request.js';
import { type BodySource, readJsonBody } from './body.js';
import { CSRF_COOKIE, CSRF_HEADER, csrfCookie, csrfMatches, newCsrfToken, parseCookies, wellFormedToken } from './csrf.js';
import { CsrfError, MethodNotAllowedError, UnauthenticatedError, asEngineError, errorResponse } from './errors.js';
import { type PrivacyHttpResponse, jsonResponse, redirectResponse } from './responses.js';
import { type NamedRequest, ROUTES, type RouteContext, type RouteDefinition } from './routes.js';
import { noQuery, parseHttpInput } from './schemas.js';

export type { PrivacyHttpResponse } from './responses.js';
export type { NamedRequest, RouteAccess, RouteDefinition } from './routes.js';
export { privacyRoutes } from './routes.js';

/** A subject as the engine names it in requests. */
export interface SubjectRef {
  type: string;
  id: string;
  tenantId: string | null;
}

/** Options of `createPrivacyRouter` (Express), the NestJS module and `createPrivacyHttpHandler`. `TReq` is the framework's request type. */
export interface PrivacyHttpOptions<TReq = unknown> {
  /**
   * Who is calling, from the host's own authentication (session, JWT, Passport's `req.user`). Return undefined for
   * an anonymous request (401). Called once per request, after the route matched.
   */
  getActor(req: TReq): Actor | undefined | null | Promise<Actor | undefined | null>;
  /**
   * The subject's display name, shown by the dashboard and in confirmations ("... for Ada Lovelace ..."). Called
   * with the requests the actor is already allowed to read; undefined for no name. Its errors are reported to
   * `onError` and leave the name out.
   */
  describeSubject?(subject: SubjectRef, actor: Actor): { name: string } | undefined | Promise<{ name: string } | undefined>;
  /** Largest JSON body accepted, in bytes (default 100 kB); larger is a 413. */
  maxBodyBytes?: number;
  /** The double-submit CSRF check on POST (default true). Turn it off only when no browser sends cookies to these routes. */
  csrf?: boolean;
  /** Serve the admin dashboard at /dashboard (default true). */
  dashboard?: boolean;
  /** Who may read the audit trail and the data map (default: actors with the 'admin' role). */
  isAdmin?(actor: Actor): boolean | Promise<boolean>;
  /** Unexpected (5xx) failures, for the host's log; the client gets only a code. Default: logs the error's name and code. */
  onError?(error: unknown): void;
}

/** A framework-neutral request. Adapters fill it from their own request object. */
export interface PrivacyHttpRequest<TReq = unknown> {
  method: string;
  /** The path below the mount point, as in the URL (still percent-encoded), starting with '/'. */
  path: string;
  /** Where the routes are mounted ('/privacy', or '' at the root): the CSRF cookie's Path. */
  mountPath?: string;
  /** The query: the raw query string (without '?'), URLSearchParams, or a map of strings (or arrays of strings). */
  query?: string | URLSearchParams | Record<string, unknown>;
  /** Header names in lower case, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** Cookies already parsed by the framework; otherwise the Cookie header is parsed. */
  cookies?: Record<string, string | undefined>;
  /** Whether the connection is HTTPS (the CSRF cookie gets `Secure`). */
  secure?: boolean;
  /** The body: the unread stream (preferred: size limit and content type checked here), raw bytes, or a parsed value. */
  body?: BodySource;
  /** The framework's request, handed to getActor. */
  native: TReq;
}

export interface PrivacyHttpHandler<TReq = unknown> {
  /** Answers one request. Never throws. */
  handle(request: PrivacyHttpRequest<TReq>): Promise<PrivacyHttpResponse>;
  /** The routes this handler serves (without the dashboard's when it is off). */
  readonly routes: ReadonlyArray<Pick<RouteDefinition, 'method' | 'path' | 'access'>>;
}

export const DEFAULT_MAX_BODY_BYTES = 100 * 1024;

const fn = (what: string) => z.custom<(...args: any[]) => unknown>((v) => typeof v === 'function', { message: `${what} must be a function` });

const optionsSchema = z.strictObject({
  getActor: fn('getActor'),
  describeSubject: fn('describeSubject').optional(),
  maxBodyBytes: z.number().int().min(1).max(64 * 1024 * 1024).default(DEFAULT_MAX_BODY_BYTES),
  csrf: z.boolean().default(true),
  dashboard: z.boolean().default(true),
  isAdmin: fn('isAdmin').optional(),
  onError: fn('onError').optional(),
});

function defaultOnError(error: unknown): void {
  // Name and code only: a driver's message may quote a value. Pass onError to log more.
  const name = error instanceof Error ? error.name : typeof error;
  const code = (error as { code?: unknown } | null)?.code;
  console.error(`[privacy-engine/http] unexpected ${name}${typeof code === 'string' ? ` (${code})` : ''}`);
}

interface CompiledRoute {
  route: RouteDefinition;
  segments: string[];
}

function compile(route: RouteDefinition): CompiledRoute {
  return { route, segments: route.path.split('/').slice(1) };
}

/** Matches literal segments exactly and `:name` segments to anything non-empty; returns the still-encoded parameters. */
function match(compiled: CompiledRoute, segments: string[]): Record<string, string> | undefined {
  if (compiled.segments.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const pattern = compiled.segments[i];
    if (pattern.startsWith(':')) {
      if (segments[i] === '') return undefined;
      params[pattern.slice(1)] = segments[i];
    } else if (pattern !== segments[i]) return undefined;
  }
  return params;
}

function headerOf(headers: PrivacyHttpRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Query parameters as one string each; a repeated or non-string parameter is a 400 (a filter must not be ambiguous). */
function queryRecord(query: PrivacyHttpRequest['query']): Record<string, string> {
  // No prototype: `__proto__` or `constructor` is a key like any other (and then an unknown field).
  const out: Record<string, string> = Object.create(null);
  const issues: Array<{ path: string; message: string }> = [];
  const add = (key: string, value: unknown) => {
    if (Object.prototype.hasOwnProperty.call(out, key)) issues.push({ path: key, message: 'given more than once' });
    else if (typeof value === 'string') out[key] = value;
    else if (Array.isArray(value)) issues.push({ path: key, message: 'given more than once' });
    else issues.push({ path: key, message: 'must be a plain string' });
  };
  if (query === undefined) return out;
  if (typeof query === 'string' || query instanceof URLSearchParams) {
    for (const [key, value] of new URLSearchParams(query)) add(key, value);
  } else {
    for (const [key, value] of Object.entries(query)) add(key, value);
  }
  if (issues.length) throw new ValidationError(`Invalid query: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
  return out;
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    try {
      decoded[name] = decodeURIComponent(value);
    } catch {
      throw new ValidationError(`Invalid path: ${name} is not valid percent-encoding`, [{ path: name, message: 'malformed percent-encoding' }]);
    }
  }
  return decoded;
}

/**
 * The handler behind every adapter. `engine` is a started PrivacyEngine; options are validated here (a bad option
 * throws a ValidationError at once, not on the first request).
 */
export function createPrivacyHttpHandler<TReq = unknown>(engine: PrivacyEngine, options: PrivacyHttpOptions<TReq>): PrivacyHttpHandler<TReq> {
  const opts = parseInput(optionsSchema, options, 'privacy HTTP options');
  const getActor = opts.getActor as PrivacyHttpOptions<TReq>['getActor'];
  const describeSubject = opts.describeSubject as PrivacyHttpOptions<TReq>['describeSubject'];
  const isAdmin = (opts.isAdmin as PrivacyHttpOptions<TReq>['isAdmin']) ?? ((actor: Actor) => (actor.roles ?? []).includes(ADMIN_ROLE));
  const onError = (opts.onError as PrivacyHttpOptions<TReq>['onError']) ?? defaultOnError;
  const routes = ROUTES.filter((r) => opts.dashboard || !r.dashboard).map(compile);

  const report = (error: unknown) => {
    try {
      onError(error);
    } catch {
      // A failing logger must not turn a response into a crash.
    }
  };

  /** Names are looked up once per subject per response. */
  const namer = (actor: Actor) => {
    const cache = new Map<string, Promise<string | undefined>>();
    const nameOf = (subject: SubjectRef): Promise<string | undefined> => {
      if (!describeSubject) return Promise.resolve(undefined);
      const key = JSON.stringify([subject.type, subject.tenantId, subject.id]);
      let name = cache.get(key);
      if (!name) {
        name = Promise.resolve()
          .then(() => describeSubject({ type: subject.type, id: subject.id, tenantId: subject.tenantId }, actor))
          .then(
            (described) => (described && typeof described.name === 'string' ? described.name : undefined),
            (error: unknown) => {
              report(error);
              return undefined;
            },
          );
        cache.set(key, name);
      }
      return name;
    };
    const named = async (request: PrivacyRequest): Promise<NamedRequest> => {
      const name = await nameOf(request.subject);
      return name === undefined ? request : { ...request, subjectName: name };
    };
    // A page holds up to 1000 requests: the host's lookups run a few at a time.
    const limit = pLimit(8);
    return { nameOf, named, namedAll: (requests: PrivacyRequest[]) => Promise.all(requests.map((request) => limit(() => named(request)))) };
  };

  async function authenticate(native: TReq): Promise<Actor> {
    const found = await getActor(native);
    if (found === undefined || found === null) throw new UnauthenticatedError();
    const parsed = actorSchema.safeParse(found);
    // The host's getActor returned something that is not an actor: a server bug, not the client's.
    if (!parsed.success) throw new Error('getActor returned a value that is not an Actor ({ id, roles, tenantId?, subjectId? })');
    return found;
  }

  /** Double-submit: the header must equal the cookie. API clients with a bearer token and no cookies are exempt (no ambient credential to ride on). */
  function assertCsrf(request: PrivacyHttpRequest<TReq>, cookies: Record<string, string | undefined>): void {
    if (!opts.csrf) return;
    const authorization = headerOf(request.headers, 'authorization');
    const hasCookies = headerOf(request.headers, 'cookie') !== undefined || (request.cookies !== undefined && Object.keys(request.cookies).length > 0);
    if (authorization !== undefined && /^bearer\s+\S/i.test(authorization) && !hasCookies) return;
    if (!csrfMatches(headerOf(request.headers, CSRF_HEADER), cookies[CSRF_COOKIE])) throw new CsrfError();
  }

  async function run(request: PrivacyHttpRequest<TReq>, actorBox: { actor?: Actor }): Promise<PrivacyHttpResponse> {
    const method = request.method.toUpperCase();
    const path = request.path || '/';
    if (path === '/dashboard/' && opts.dashboard) return redirectResponse('../dashboard');
    // A trailing slash is ignored, as Express does by default.
    const segments = (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).split('/').slice(1);
    const matches = routes.map((c) => ({ c, params: match(c, segments) })).filter((m) => m.params !== undefined);
    if (matches.length === 0) throw new NotFoundError('No such endpoint');
    const hit = matches.find((m) => m.c.route.method === method);
    if (!hit) throw new MethodNotAllowedError([...new Set(matches.map((m) => m.c.route.method))]);
    const { route } = hit.c;

    const cookies = request.cookies ?? parseCookies(headerOf(request.headers, 'cookie'));
    let actor: Actor | undefined;
    if (route.access !== 'public') {
      actor = await authenticate(request.native);
      actorBox.actor = actor;
      if (route.access === 'admin' && (await isAdmin(actor)) !== true) {
        throw new ForbiddenError('Only administrators may use this endpoint');
      }
      if (route.access === 'subject' && actor.subjectId === undefined) {
        throw new ForbiddenError('This endpoint is for data subjects (an actor with a subjectId)');
      }
    }
    if (method === 'POST') assertCsrf(request, cookies);

    const rawParams = decodeParams(hit.params!);
    const params = parseHttpInput(z.object(route.params ?? {}), rawParams, 'path') as Record<string, string>;
    const query = route.access === 'public' ? {} : parseHttpInput(route.query ?? noQuery, queryRecord(request.query), 'query');
    let body: unknown;
    if (route.body) {
      const raw = await readJsonBody(
        request.body ?? {},
        { contentType: headerOf(request.headers, 'content-type'), contentLength: headerOf(request.headers, 'content-length') },
        opts.maxBodyBytes,
      );
      body = parseHttpInput(route.body, raw, 'request body');
    }

    let issued: { token: string; setCookie?: string } | undefined;
    const csrf = () => {
      if (issued) return issued;
      const existing = wellFormedToken(cookies[CSRF_COOKIE]);
      if (existing) return (issued = { token: existing });
      const token = newCsrfToken();
      return (issued = { token, setCookie: csrfCookie(token, request.mountPath || '/', request.secure === true) });
    };
    const names = namer(actor ?? { id: 'anonymous', roles: [] });
    const ctx: RouteContext = {
      engine,
      actor: actor!,
      params,
      query,
      body,
      ...names,
      isAdmin: async () => actor !== undefined && (await isAdmin(actor)) === true,
      csrf,
    };
    return route.handle(ctx);
  }

  /** A duplicate request's 409 carries the request already active, when the actor may read it. */
  async function conflictBody(error: unknown, actor: Actor | undefined): Promise<unknown> {
    const existingId = (error as ConflictError).existingRequestId;
    if (!actor || typeof existingId !== 'string') return undefined;
    try {
      return await namer(actor).named(await engine.getRequest(existingId, actor));
    } catch {
      return undefined;
    }
  }

  return {
    routes: routes.map(({ route: { method, path, access } }) => ({ method, path, access })),
    async handle(request) {
      const actorBox: { actor?: Actor } = {};
      try {
        return await run(request, actorBox);
      } catch (error) {
        const { status, body, headers } = errorResponse(error);
        if (status >= 500 || !asEngineError(error)) report(error);
        if (body.error.code === 'CONFLICT') {
          const existing = await conflictBody(error, actorBox.actor);
          if (existing !== undefined) body.error.request = existing;
        }
        if (body.error.code === 'PAYLOAD_TOO_LARGE') headers.Connection = 'close';
        return jsonResponse(status, body, headers);
      }
    },
  };
}
