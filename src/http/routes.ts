import type { z } from 'zod';
import type { PrivacyEngine } from '../engine/privacy-engine.js';
import type { Actor } from '../engine/policy.js';
import type { PrivacyRequest } from '../request.js';
import { dashboardAssets } from './dashboard.js';
import {
  auditQuery,
  downloadLinkBody,
  emptyBody,
  extendDeadlineBody,
  listQuery,
  pageQuery,
  purgeBody,
  regulationBody,
  requestIdParam,
  restoreBody,
  subjectIdParam,
  tokenParam,
} from './schemas.js';
import { DASHBOARD_HEADERS, type PrivacyHttpResponse, attachmentResponse, jsonResponse, jsonStreamResponse, safeFileName, startedStream } from './responses.js';

/**
 * Who may call a route. `public`: anyone (the dashboard's page and assets, which hold no data); `actor`: anyone
 * `getActor` recognizes (the engine's policy then decides per request); `admin`: actors `isAdmin` accepts (the audit
 * trail and the data map, which the engine does not authorize per subject); `subject`: actors with a `subjectId`.
 */
export type RouteAccess = 'public' | 'actor' | 'admin' | 'subject';

/** What a route handler gets: inputs already authenticated and validated. */
export interface RouteContext {
  engine: PrivacyEngine;
  /** The authenticated actor (undefined on public routes only). */
  actor: Actor;
  params: Record<string, string>;
  query: any;
  body: any;
  /** Adds `subjectName` from `describeSubject` to a request. */
  named(request: PrivacyRequest): Promise<NamedRequest>;
  namedAll(requests: PrivacyRequest[]): Promise<NamedRequest[]>;
  /** The subject's name from `describeSubject`, if it gives one. */
  nameOf(subject: PrivacyRequest['subject']): Promise<string | undefined>;
  /** Whether `isAdmin` accepts the actor (what the dashboard shows depends on it). */
  isAdmin(): Promise<boolean>;
  /** Session and dashboard routes: the CSRF token to hand out, and the Set-Cookie header when it is new. */
  csrf(): { token: string; setCookie?: string };
}

/** A request as the HTTP API returns it: the engine's JSON plus the subject's display name when the host gives one. */
export type NamedRequest = PrivacyRequest & { subjectName?: string };

export interface RouteDefinition {
  method: 'GET' | 'POST';
  /** Relative to the mount point; `:name` segments are parameters. */
  path: string;
  access: RouteAccess;
  /** One schema per path parameter (strings, already percent-decoded). */
  params?: Record<string, z.ZodType<string>>;
  /** Defaults to no query parameters at all. */
  query?: z.ZodType;
  /** POST routes: the JSON body's schema. */
  body?: z.ZodType;
  /** Served only when the dashboard is on. */
  dashboard?: boolean;
  handle(ctx: RouteContext): Promise<PrivacyHttpResponse>;
}

const requestId = { id: requestIdParam };
const subjectId = { subjectId: subjectIdParam };

async function downloadResponse(result: { stream: import('node:stream').Readable; fileName: string; contentType: string; size: number }, fallback: string): Promise<PrivacyHttpResponse> {
  const stream = await startedStream(result.stream);
  return attachmentResponse(stream, { contentType: 'application/zip', fileName: safeFileName(result.fileName, fallback), size: result.size });
}

function erasureRoute(type: 'export' | 'anonymize' | 'delete'): RouteDefinition {
  return {
    method: 'POST',
    path: `/subjects/:subjectId/${type}`,
    access: 'actor',
    params: subjectId,
    body: regulationBody,
    async handle({ engine, actor, params, body, named }) {
      const input = { subjectId: params.subjectId, actor, ...(body.regulation ? { regulation: body.regulation } : {}) };
      const request = type === 'export' ? await engine.export(input) : type === 'anonymize' ? await engine.anonymize(input) : await engine.delete(input);
      return jsonResponse(202, { request: await named(request) });
    },
  };
}

function asset(name: 'app.js' | 'app.css', contentType: string): RouteDefinition {
  return {
    method: 'GET',
    path: `/dashboard/${name}`,
    access: 'public',
    dashboard: true,
    async handle() {
      return { status: 200, headers: { 'Content-Type': contentType, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' }, text: dashboardAssets()[name] };
    },
  };
}

/**
 * Every endpoint, in the order they are matched. The same table serves the Express router and the NestJS module;
 * docs/http.md describes each.
 */
export const ROUTES: readonly RouteDefinition[] = [
  {
    method: 'GET',
    path: '/session',
    access: 'actor',
    async handle({ actor, csrf, isAdmin }) {
      const { token, setCookie } = csrf();
      const { id, roles, tenantId, subjectId: self } = actor;
      const body = { actor: { id, roles: roles ?? [], ...(tenantId !== undefined ? { tenantId } : {}), ...(self !== undefined ? { subjectId: self } : {}) }, admin: await isAdmin(), csrfToken: token };
      return jsonResponse(200, body, setCookie ? { 'Set-Cookie': setCookie } : {});
    },
  },
  erasureRoute('export'),
  erasureRoute('anonymize'),
  erasureRoute('delete'),
  {
    method: 'GET',
    path: '/subjects/:subjectId',
    access: 'actor',
    params: subjectId,
    async handle({ engine, actor, params, nameOf }) {
      const subject = await engine.findSubject({ subjectId: params.subjectId, actor });
      const name = await nameOf(subject);
      return jsonResponse(200, { subject: { ...subject, ...(name !== undefined ? { name } : {}) } });
    },
  },
  {
    method: 'GET',
    path: '/requests',
    access: 'actor',
    query: listQuery,
    async handle({ engine, actor, query, namedAll }) {
      const page = await engine.listRequestsPage({ ...query, actor });
      return jsonResponse(200, { requests: await namedAll(page.requests), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
    },
  },
  {
    method: 'GET',
    path: '/requests/:id',
    access: 'actor',
    params: requestId,
    async handle({ engine, actor, params, named }) {
      return jsonResponse(200, { request: await named(await engine.getRequest(params.id, actor)) });
    },
  },
  {
    method: 'POST',
    path: '/requests/:id/cancel',
    access: 'actor',
    params: requestId,
    body: emptyBody,
    async handle({ engine, actor, params, named }) {
      return jsonResponse(200, { request: await named(await engine.cancel({ requestId: params.id, actor })) });
    },
  },
  {
    method: 'POST',
    path: '/requests/:id/retry',
    access: 'actor',
    params: requestId,
    body: emptyBody,
    async handle({ engine, actor, params, named }) {
      return jsonResponse(202, { request: await named(await engine.retry({ requestId: params.id, actor })) });
    },
  },
  {
    method: 'POST',
    path: '/requests/:id/restore',
    access: 'actor',
    params: requestId,
    body: restoreBody,
    async handle({ engine, actor, params, body, named }) {
      return jsonResponse(202, { request: await named(await engine.restore({ requestId: params.id, actor, ...body })) });
    },
  },
  {
    method: 'POST',
    path: '/requests/:id/purge',
    access: 'actor',
    params: requestId,
    body: purgeBody,
    async handle({ engine, actor, params, body, named }) {
      return jsonResponse(202, { request: await named(await engine.purge({ requestId: params.id, actor, ...body })) });
    },
  },
  {
    method: 'POST',
    path: '/requests/:id/extend-deadline',
    access: 'actor',
    params: requestId,
    body: extendDeadlineBody,
    async handle({ engine, actor, params, body, named }) {
      return jsonResponse(200, { request: await named(await engine.extendDeadline({ requestId: params.id, actor, days: body.days, reason: body.reason })) });
    },
  },
  {
    method: 'POST',
    path: '/requests/:id/download-link',
    access: 'actor',
    params: requestId,
    body: downloadLinkBody,
    async handle({ engine, actor, params, body }) {
      const link = await engine.createDownloadLink({ requestId: params.id, actor, ...body });
      // Relative to the mount point, where GET /download/:token serves it; the engine's own url (downloadLinkBaseUrl) is not this router's.
      return jsonResponse(201, { url: `download/${link.token}`, token: link.token, expiresAt: link.expiresAt });
    },
  },
  {
    method: 'GET',
    path: '/download/:token',
    access: 'actor',
    params: { token: tokenParam },
    async handle({ engine, actor, params }) {
      return downloadResponse(await engine.openDownload({ token: params.token, actor }), 'export.zip');
    },
  },
  {
    method: 'GET',
    path: '/audit',
    access: 'admin',
    query: auditQuery,
    async handle({ engine, actor, query }) {
      const stream = await startedStream(engine.audit.export({ format: query.format, from: query.from, to: query.to, tenantId: actor.tenantId ?? null }));
      if (query.format === 'json') return jsonStreamResponse(stream);
      return attachmentResponse(stream, { contentType: 'text/csv; charset=utf-8', fileName: 'audit.csv' });
    },
  },
  {
    method: 'GET',
    path: '/audit/verify',
    access: 'admin',
    async handle({ engine, actor }) {
      return jsonResponse(200, await engine.audit.verify({ tenantId: actor.tenantId ?? null }));
    },
  },
  {
    method: 'GET',
    path: '/data-map',
    access: 'admin',
    async handle({ engine }) {
      return jsonResponse(200, engine.dataMap());
    },
  },
  {
    method: 'GET',
    path: '/me/requests',
    access: 'subject',
    query: pageQuery,
    async handle({ engine, actor, query, namedAll }) {
      const page = await engine.listRequestsPage({ ...query, subjectId: actor.subjectId, actor });
      return jsonResponse(200, { requests: await namedAll(page.requests), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
    },
  },
  {
    method: 'POST',
    path: '/me/export',
    access: 'subject',
    body: emptyBody,
    async handle({ engine, actor, named }) {
      return jsonResponse(202, { request: await named(await engine.export({ subjectId: actor.subjectId!, actor })) });
    },
  },
  {
    method: 'GET',
    path: '/me/export/:id/download',
    access: 'subject',
    params: requestId,
    async handle({ engine, actor, params }) {
      return downloadResponse(await engine.download({ requestId: params.id, actor }), 'export.zip');
    },
  },
  {
    method: 'GET',
    path: '/dashboard',
    access: 'public',
    dashboard: true,
    async handle({ csrf }) {
      // The page's script reads the token from the cookie (or from /session), so the page itself holds no secret.
      const { setCookie } = csrf();
      return {
        status: 200,
        headers: { ...DASHBOARD_HEADERS, 'Content-Type': 'text/html; charset=utf-8', ...(setCookie ? { 'Set-Cookie': setCookie } : {}) },
        text: dashboardAssets()['index.html'],
      };
    },
  },
  asset('app.js', 'text/javascript; charset=utf-8'),
  asset('app.css', 'text/css; charset=utf-8'),
];

/** The route table as data (method, path, access), for documentation and for adapters that register routes one by one. */
export const privacyRoutes: ReadonlyArray<Pick<RouteDefinition, 'method' | 'path' | 'access'>> = ROUTES.map(({ method, path, access }) => ({ method, path, access }));
