/**
 * The HTTP contract as one table of cases, run against any adapter: `describeEndpointCases(title, factory)` builds
 * an engine on every database (SQLite, PostgreSQL, MariaDB), hands it to `factory` with the router options, and runs
 * every case against the server the factory returns. The factory mounts the privacy routes at `mountPath`
 * ('/privacy'). Express: test/http/express.test.ts; the NestJS module runs the same table with its own factory.
 */
import type { IncomingHttpHeaders } from 'node:http';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Actor, PrivacyEngine, type PrivacyRequest, createInProcessQueue, createMemoryStorage } from '../../src/index.js';
import type { PrivacyHttpOptions } from '../../src/http/index.js';
import { dashboardAssets } from '../../src/http/dashboard.js';
import type { QueueJob, QueuePort } from '../../src/ports/queue.js';
import { readZip } from '../support/archive.js';
import { type DatabaseKind, type TestDatabase, describeEachDatabase } from '../support/databases.js';
import { createTestLogger } from '../support/test-logger.js';
import { Contact, crmEntities } from '../fixtures/crm.js';
import { type SeededContact, seedContact } from '../fixtures/crm-seed.js';
import { type AppTarget, isCleanErrorBody, listen, rawRequest } from './http-client.js';

export const MOUNT = '/privacy';
const SECRET = 'http-endpoint-cases-secret-0123456789-abcdef';
const DAY = 24 * 60 * 60 * 1000;
const EXPIRED_MESSAGE = 'This download link has expired. Please generate a new export';

/** Builds the app under test: mount the privacy routes made from `engine` and `options` at `mountPath`. */
export type PrivacyAppFactory = (
  engine: PrivacyEngine,
  options: PrivacyHttpOptions<any>,
  mountPath: string,
) => AppTarget | { target: AppTarget; close(): Promise<void> } | Promise<AppTarget | { target: AppTarget; close(): Promise<void> }>;

const PEOPLE = ['ada', 'ben', 'cal', 'dan', 'eve', 'fay', 'gus', 'hal', 'ivy', 'jon', 'kay', 'lou'] as const;
type Person = (typeof PEOPLE)[number];

/** Callers, by the bearer token (or `sid` cookie) the test's getActor recognizes. */
type Who = 'admin' | 'adminB' | 'agent' | 'anonymous' | `self:${Person}`;

/**
 * The in-process queue, with a hold: while held, new jobs wait here instead of running, so a case can act on a
 * request that is still queued (cancel it, extend its deadline). Released jobs run on the real queue.
 */
function createHoldableQueue(): QueuePort & { hold(): void; release(): Promise<void> } {
  const inner = createInProcessQueue({ concurrency: 2 });
  let held: QueueJob[] | undefined;
  return {
    name: 'holdable-in-process',
    start: (handler) => inner.start(handler),
    async enqueue(job) {
      if (held) held.push(job);
      else await inner.enqueue(job);
    },
    drain: () => inner.drain(),
    close: () => inner.close(),
    hold() {
      held ??= [];
    },
    async release() {
      const jobs = held ?? [];
      held = undefined;
      for (const job of jobs) await inner.enqueue(job);
    },
  };
}

export interface EndpointFixture {
  kind: DatabaseKind;
  url: string;
  engine: PrivacyEngine;
  dataSource: DataSource;
  people: Record<Person, SeededContact>;
  /** A contact of org-b. */
  outsider: SeededContact;
  /** Errors the router reported to onError. */
  reported: unknown[];
  id(person: Person): number;
  get(who: Who, path: string): request.Test;
  post(who: Who, path: string, body?: unknown): request.Test;
  /** Holds new jobs (they stay queued) until the returned release() is awaited. */
  hold(): () => Promise<void>;
  /** Moves the engine's clock. */
  shiftClock(ms: number): void;
  waitFor(id: string, who?: Who): Promise<PrivacyRequest>;
  /** Another app from the same factory with other options, for the options' cases. */
  withApp(overrides: Partial<PrivacyHttpOptions<any>>, fn: (url: string) => Promise<void>): Promise<void>;
}

function tokenOf(who: Who): string | undefined {
  if (who === 'anonymous') return undefined;
  return who === 'admin' ? 'admin-a' : who === 'adminB' ? 'admin-b' : who === 'agent' ? 'agent-a' : who.replace(':', '-');
}

async function setUp(db: TestDatabase, factory: PrivacyAppFactory): Promise<EndpointFixture & { tearDown(): Promise<void> }> {
  const dataSource = await db.createDataSource(crmEntities);
  const people = {} as Record<Person, SeededContact>;
  for (const person of PEOPLE) people[person] = await seedContact(dataSource, 'org-a', `${person}http0001`);
  const outsider = await seedContact(dataSource, 'org-b', 'zedhttp0001');
  const queue = createHoldableQueue();
  let offset = 0;
  const engine = new PrivacyEngine({
    dataSource,
    subject: Contact,
    tenantColumn: 'organizationId',
    secret: SECRET,
    queue,
    storage: createMemoryStorage(),
    clock: { now: () => new Date(Date.now() + offset) },
    logger: createTestLogger(),
  });
  await engine.start();

  const actors: Record<string, Actor> = {
    'admin-a': { id: 'admin-a', roles: ['admin'], tenantId: 'org-a' },
    'admin-b': { id: 'admin-b', roles: ['admin'], tenantId: 'org-b' },
    'agent-a': { id: 'agent-a', roles: ['agent'], tenantId: 'org-a' },
  };
  for (const person of PEOPLE) actors[`self-${person}`] = { id: `self-${person}`, roles: [], tenantId: 'org-a', subjectId: people[person].contact.id };

  // The host's authentication: a bearer token (API clients) or a session cookie (the dashboard), either naming an actor.
  const getActor = (req: { headers: IncomingHttpHeaders }): Actor | undefined => {
    const bearer = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const session = /(?:^|;\s*)sid=([^;]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    if (bearer === 'explode') throw new Error('session store unreachable: db password hunter2');
    return actors[bearer ?? session ?? ''];
  };
  const reported: unknown[] = [];
  const describeSubject = async (subject: { id: string; tenantId: string | null }) => {
    if (subject.tenantId === 'org-a' && subject.id === String(people.lou.contact.id)) throw new Error('CRM lookup failed');
    const contact = await dataSource.getRepository(Contact).findOneBy({ id: Number(subject.id) });
    return contact ? { name: `${contact.firstName} ${contact.lastName}` } : undefined;
  };
  const baseOptions: PrivacyHttpOptions<any> = { getActor, describeSubject, onError: (error) => reported.push(error) };

  const start = async (options: PrivacyHttpOptions<any>) => {
    const made = await factory(engine, options, MOUNT);
    return typeof made === 'object' && made !== null && 'target' in made ? listen(made.target, made.close) : listen(made as AppTarget);
  };
  const server = await start(baseOptions);

  const authorize = (test: request.Test, who: Who) => {
    const token = tokenOf(who);
    return token ? test.set('Authorization', `Bearer ${token}`) : test;
  };
  const get = (who: Who, path: string) => authorize(request(server.url).get(MOUNT + path), who);
  const post = (who: Who, path: string, body?: unknown) => {
    const test = authorize(request(server.url).post(MOUNT + path), who);
    return body === undefined ? test : test.send(body as object);
  };

  return {
    kind: db.kind,
    url: server.url,
    engine,
    dataSource,
    people,
    outsider,
    reported,
    id: (person) => people[person].contact.id,
    get,
    post,
    hold() {
      queue.hold();
      return () => queue.release();
    },
    shiftClock(ms) {
      offset = ms;
    },
    async waitFor(id, who = 'admin') {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const res = await get(who, `/requests/${id}`);
        expect(res.status).toBe(200);
        const current = res.body.request as PrivacyRequest;
        if (['completed', 'failed'].includes(current.status) || (current.status === 'cancelled' && current.finishedAt)) return current;
        if (Date.now() > deadline) throw new Error(`request ${id} still ${current.status}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async withApp(overrides, fn) {
      const other = await start({ ...baseOptions, ...overrides });
      try {
        await fn(other.url);
      } finally {
        await other.close();
      }
    },
    async tearDown() {
      await server.close();
      await engine.stop();
    },
  };
}

/** Reads a binary body (a ZIP) whole. */
function binary(test: request.Test): request.Test {
  return test.buffer(true).parse((res, done) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => done(null, Buffer.concat(chunks)));
  });
}

function expectError(res: { status: number; body: unknown; headers: Record<string, string> }, status: number, code: string): void {
  // binary() leaves the body as bytes.
  if (Buffer.isBuffer(res.body)) res = { ...res, body: JSON.parse(res.body.toString('utf8')) };
  expect({ status: res.status, code: (res.body as { error?: { code?: string } })?.error?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(isCleanErrorBody(res.body)).toBe(true);
}

// ---------------------------------------------------------------------------------------------------------------
// The error table: one request each, with the status, code and (for 400s) the issue paths it must answer with.

interface ErrorCase {
  title: string;
  who: Who;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: (f: EndpointFixture) => string;
  /** JSON-encoded unless `contentType` says otherwise (then sent as is). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  status: number;
  code: string;
  issues?: string[];
  message?: string;
}

const junkToken = 'A'.repeat(43);

export const ERROR_CASES: ErrorCase[] = [
  { title: 'an unknown body field', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: { regulation: 'gdpr', priority: 'high' }, status: 400, code: 'VALIDATION', issues: ['priority'] },
  { title: 'a field of the wrong type', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: { regulation: 5 }, status: 400, code: 'VALIDATION', issues: ['regulation'] },
  { title: 'a value outside the enum', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/anonymize`, body: { regulation: 'hipaa' }, status: 400, code: 'VALIDATION', issues: ['regulation'] },
  { title: 'malformed JSON', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/delete`, body: '{"regulation":', contentType: 'application/json', status: 400, code: 'VALIDATION', issues: ['(body)'] },
  { title: 'a JSON array instead of an object', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: '[]', contentType: 'application/json', status: 400, code: 'VALIDATION', issues: ['(root)'] },
  { title: 'bytes that are not UTF-8', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), contentType: 'application/json', status: 400, code: 'VALIDATION', issues: ['(body)'] },
  { title: 'a subject id that is not an integer', who: 'admin', method: 'POST', path: () => '/subjects/abc/export', body: {}, status: 400, code: 'VALIDATION', issues: ['subjectId'] },
  { title: 'an unknown status filter', who: 'admin', method: 'GET', path: () => '/requests?status=done', status: 400, code: 'VALIDATION', issues: ['status'] },
  { title: 'an unknown query parameter', who: 'admin', method: 'GET', path: () => '/requests?color=red', status: 400, code: 'VALIDATION', issues: ['color'] },
  { title: 'a __proto__ query parameter (an unknown field, not a prototype)', who: 'admin', method: 'GET', path: () => '/requests?__proto__=x', status: 400, code: 'VALIDATION', issues: ['__proto__'] },
  { title: 'a repeated query parameter', who: 'admin', method: 'GET', path: () => '/requests?status=queued&status=failed', status: 400, code: 'VALIDATION', issues: ['status'] },
  { title: 'a limit of 0', who: 'admin', method: 'GET', path: () => '/requests?limit=0', status: 400, code: 'VALIDATION', issues: ['limit'] },
  { title: 'a limit that is not a number', who: 'admin', method: 'GET', path: () => '/requests?limit=ten', status: 400, code: 'VALIDATION', issues: ['limit'] },
  { title: 'overdue other than true/false', who: 'admin', method: 'GET', path: () => '/requests?overdue=yes', status: 400, code: 'VALIDATION', issues: ['overdue'] },
  { title: 'a cursor the engine never returned', who: 'admin', method: 'GET', path: () => '/requests?cursor=bm90LWEtY3Vyc29y', status: 400, code: 'VALIDATION', issues: ['cursor'] },
  { title: 'an audit date that is not ISO 8601', who: 'admin', method: 'GET', path: () => '/audit?from=yesterday', status: 400, code: 'VALIDATION', issues: ['from'] },
  { title: 'an audit format other than json/csv', who: 'admin', method: 'GET', path: () => '/audit?format=xml', status: 400, code: 'VALIDATION', issues: ['format'] },
  { title: 'extend-deadline without a reason and with days as text', who: 'admin', method: 'POST', path: () => '/requests/00000000-0000-4000-8000-000000000000/extend-deadline', body: { days: 'ten' }, status: 400, code: 'VALIDATION', issues: ['days', 'reason'] },
  { title: 'restore with an empty category list', who: 'admin', method: 'POST', path: () => '/requests/00000000-0000-4000-8000-000000000000/restore', body: { categories: [] }, status: 400, code: 'VALIDATION', issues: ['categories'] },
  { title: 'purge with force as a string', who: 'admin', method: 'POST', path: () => '/requests/00000000-0000-4000-8000-000000000000/purge', body: { force: 'yes' }, status: 400, code: 'VALIDATION', issues: ['force'] },
  { title: 'a request id longer than any id', who: 'admin', method: 'GET', path: () => `/requests/${'x'.repeat(65)}`, status: 400, code: 'VALIDATION', issues: ['id'] },
  { title: 'malformed percent-encoding in a path parameter', who: 'admin', method: 'GET', path: () => '/requests/%E0%A4%A', status: 400, code: 'VALIDATION', issues: ['id'] },

  { title: 'no actor on a read', who: 'anonymous', method: 'GET', path: () => '/requests', status: 401, code: 'UNAUTHENTICATED' },
  { title: 'no actor on a submit', who: 'anonymous', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: {}, status: 401, code: 'UNAUTHENTICATED' },
  { title: 'no actor on the session', who: 'anonymous', method: 'GET', path: () => '/session', status: 401, code: 'UNAUTHENTICATED' },
  { title: 'no actor on a download link', who: 'anonymous', method: 'GET', path: () => '/download/v1.abc.def', status: 401, code: 'UNAUTHENTICATED' },
  { title: 'no actor on self-service', who: 'anonymous', method: 'GET', path: () => '/me/requests', status: 401, code: 'UNAUTHENTICATED' },

  { title: 'a non-admin of the tenant asks for an export', who: 'agent', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: {}, status: 403, code: 'FORBIDDEN' },
  { title: 'a data subject asks to anonymize someone else', who: 'self:gus', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/anonymize`, body: {}, status: 403, code: 'FORBIDDEN' },
  { title: 'a data subject asks to delete themself (not self-service)', who: 'self:gus', method: 'POST', path: (f) => `/subjects/${f.id('gus')}/delete`, body: {}, status: 403, code: 'FORBIDDEN' },
  { title: 'a non-admin reads the audit trail', who: 'agent', method: 'GET', path: () => '/audit', status: 403, code: 'FORBIDDEN' },
  { title: 'a data subject verifies the audit trail', who: 'self:gus', method: 'GET', path: () => '/audit/verify', status: 403, code: 'FORBIDDEN' },
  { title: 'a non-admin reads the data map', who: 'agent', method: 'GET', path: () => '/data-map', status: 403, code: 'FORBIDDEN' },
  { title: 'an admin (no subjectId) uses self-service', who: 'admin', method: 'GET', path: () => '/me/requests', status: 403, code: 'FORBIDDEN' },
  { title: 'a tampered download token', who: 'admin', method: 'GET', path: () => '/download/v1.eyJyIjoieCJ9.AAAA', status: 403, code: 'FORBIDDEN', message: 'This download link is not valid' },
  {
    title: 'a cookie session posting without the X-CSRF-Token header',
    who: 'anonymous',
    method: 'POST',
    path: (f) => `/subjects/${f.id('ada')}/export`,
    body: {},
    headers: { Cookie: `sid=admin-a; privacy_csrf=${junkToken}` },
    status: 403,
    code: 'CSRF',
  },
  {
    title: 'a cookie session posting a token that differs from its cookie',
    who: 'anonymous',
    method: 'POST',
    path: (f) => `/subjects/${f.id('ada')}/export`,
    body: {},
    headers: { Cookie: `sid=admin-a; privacy_csrf=${junkToken}`, 'X-CSRF-Token': 'B'.repeat(43) },
    status: 403,
    code: 'CSRF',
  },
  {
    title: 'a cookie session posting the token without the cookie',
    who: 'anonymous',
    method: 'POST',
    path: (f) => `/subjects/${f.id('ada')}/export`,
    body: {},
    headers: { Cookie: 'sid=admin-a', 'X-CSRF-Token': junkToken },
    status: 403,
    code: 'CSRF',
  },
  {
    title: 'a bearer token that also carries cookies is not exempt from CSRF',
    who: 'admin',
    method: 'POST',
    path: (f) => `/subjects/${f.id('ada')}/export`,
    body: {},
    headers: { Cookie: 'theme=dark' },
    status: 403,
    code: 'CSRF',
  },

  { title: "another tenant's subject (export)", who: 'adminB', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: {}, status: 404, code: 'NOT_FOUND' },
  { title: "another tenant's subject (read)", who: 'adminB', method: 'GET', path: (f) => `/subjects/${f.id('ada')}`, status: 404, code: 'NOT_FOUND' },
  { title: "an admin asks for another tenant's subject", who: 'admin', method: 'POST', path: (f) => `/subjects/${f.outsider.contact.id}/anonymize`, body: {}, status: 404, code: 'NOT_FOUND' },
  { title: 'a subject that does not exist', who: 'admin', method: 'GET', path: () => '/subjects/987654', status: 404, code: 'NOT_FOUND' },
  { title: 'a request that does not exist', who: 'admin', method: 'GET', path: () => '/requests/00000000-0000-4000-8000-000000000000', status: 404, code: 'NOT_FOUND' },
  { title: 'an unknown endpoint', who: 'admin', method: 'GET', path: () => '/nope', status: 404, code: 'NOT_FOUND' },
  { title: 'an endpoint with extra segments', who: 'admin', method: 'GET', path: () => '/requests/a/b/c', status: 404, code: 'NOT_FOUND' },

  { title: 'GET on a POST-only endpoint', who: 'admin', method: 'GET', path: () => '/requests/x/cancel', status: 405, code: 'METHOD_NOT_ALLOWED' },
  { title: 'DELETE on the request list', who: 'admin', method: 'DELETE', path: () => '/requests', status: 405, code: 'METHOD_NOT_ALLOWED' },

  { title: 'a body over 100 kB', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: { regulation: 'x'.repeat(150 * 1024) }, status: 413, code: 'PAYLOAD_TOO_LARGE' },

  { title: 'a text/plain body', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: '{}', contentType: 'text/plain', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { title: 'a form post', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: 'regulation=gdpr', contentType: 'application/x-www-form-urlencoded', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { title: 'JSON in another charset', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: '{}', contentType: 'application/json; charset=iso-8859-1', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { title: 'a multipart body', who: 'admin', method: 'POST', path: (f) => `/subjects/${f.id('ada')}/export`, body: '--x\r\n\r\n{}\r\n--x--', contentType: 'multipart/form-data; boundary=x', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
];

async function runErrorCase(f: EndpointFixture, c: ErrorCase): Promise<void> {
  const path = c.path(f);
  const token = tokenOf(c.who);
  if (Buffer.isBuffer(c.body)) {
    // supertest would serialize a Buffer as JSON: sent byte for byte instead.
    const raw = await rawRequest(f.url, { method: c.method, path: MOUNT + path, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': c.contentType!, ...c.headers }, chunks: [c.body] });
    expectError({ status: raw.status, body: raw.json, headers: raw.headers as Record<string, string> }, c.status, c.code);
    if (c.issues) expect(raw.json.error.issues.map((i: { path: string }) => i.path).sort()).toEqual([...c.issues].sort());
    return;
  }
  let test = request(f.url)[c.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](MOUNT + path);
  if (token) test = test.set('Authorization', `Bearer ${token}`);
  for (const [name, value] of Object.entries(c.headers ?? {})) test = test.set(name, value);
  if (c.contentType) test = test.set('Content-Type', c.contentType).send(c.body as string);
  else if (c.body !== undefined) test = test.send(c.body as object);
  const res = await test;
  expectError(res, c.status, c.code);
  if (c.issues) expect(res.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual([...c.issues].sort());
  if (c.message) expect(res.body.error.message).toBe(c.message);
  if (c.status === 405) expect(res.headers.allow).toMatch(/^(GET|POST)$/);
}

// ---------------------------------------------------------------------------------------------------------------
// The flows: each uses its own contacts, so the cases do not depend on each other's order.

interface FlowCase {
  title: string;
  run(f: EndpointFixture): Promise<void>;
}

export const FLOW_CASES: FlowCase[] = [
  {
    title: 'GET /session returns the actor, whether it is an admin, and a CSRF token set as a SameSite=Strict cookie on the mount path',
    async run(f) {
      const res = await f.get('admin', '/session');
      expect(res.status).toBe(200);
      expect(res.body.actor).toEqual({ id: 'admin-a', roles: ['admin'], tenantId: 'org-a' });
      expect(res.body.admin).toBe(true);
      expect(res.body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const cookie = [res.headers['set-cookie']].flat().find((c: string) => c.startsWith('privacy_csrf='))!;
      expect(cookie).toBe(`privacy_csrf=${res.body.csrfToken}; Path=${MOUNT}; SameSite=Strict`);
      // The page's script must be able to read it.
      expect(cookie).not.toMatch(/HttpOnly/i);

      const self = await f.get('self:gus', '/session');
      expect(self.body).toMatchObject({ actor: { id: 'self-gus', roles: [], tenantId: 'org-a', subjectId: f.id('gus') }, admin: false });

      // A session that already has a well-formed token keeps it (two tabs, one token).
      const again = await f.get('admin', '/session').set('Cookie', `privacy_csrf=${res.body.csrfToken}`);
      expect(again.body.csrfToken).toBe(res.body.csrfToken);
      expect(again.headers['set-cookie']).toBeUndefined();
    },
  },
  {
    title: 'an export is accepted (202, named), a second one is refused with 409 naming the existing request, and the finished ZIP downloads through a link',
    async run(f) {
      const first = await f.post('admin', `/subjects/${f.id('ada')}/export`, {});
      expect(first.status).toBe(202);
      expect(first.headers['cache-control']).toBe('no-store');
      expect(first.body.request).toMatchObject({ type: 'export', subject: { type: 'Contact', id: String(f.id('ada')), tenantId: 'org-a' }, requestedBy: 'admin-a', regulation: 'gdpr' });
      expect(first.body.request.subjectName).toBe('Firstadahttp0001 Lastadahttp0001');

      const second = await f.post('admin', `/subjects/${f.id('ada')}/export`, { regulation: 'gdpr' });
      expectError(second, 409, 'CONFLICT');
      expect(second.body.error.message).toBe('Already requested for this contact');
      expect(second.body.error.request).toMatchObject({ id: first.body.request.id, type: 'export', subjectName: 'Firstadahttp0001 Lastadahttp0001' });

      const done = await f.waitFor(first.body.request.id);
      expect(done.status).toBe('completed');
      const link = await f.post('admin', `/requests/${done.id}/download-link`, {});
      expect(link.status).toBe(201);
      expect(link.body.url).toBe(`download/${link.body.token}`);
      expect(Date.parse(link.body.expiresAt)).toBeGreaterThan(Date.now() + 6 * DAY);

      const zip = await binary(f.get('admin', `/${link.body.url}`));
      expect(zip.status).toBe(200);
      expect(zip.headers['content-type']).toBe('application/zip');
      expect(zip.headers['content-disposition']).toMatch(/^attachment; filename="[A-Za-z0-9._-]+\.zip"$/);
      expect(zip.headers['cache-control']).toBe('no-store');
      expect(zip.headers['accept-ranges']).toBe('none');
      expect(Number(zip.headers['content-length'])).toBe(zip.body.length);
      const files = await readZip(zip.body);
      expect([...files.keys()]).toEqual(expect.arrayContaining(['summary.json', 'summary.csv', 'README.md', 'categories/profile.json']));
      const summary = JSON.parse(files.get('summary.json')!);
      expect(summary.meta).toMatchObject({ requestId: done.id, subject: { id: String(f.id('ada')) } });
      expect(summary.meta.counts).toEqual(f.people.ada.counts);

      // The artifact now reads as downloaded, by whom.
      const after = await f.get('admin', `/requests/${done.id}`);
      expect(after.body.request.outcome.artifact).toMatchObject({ status: 'downloaded', downloadedBy: 'admin-a' });
    },
  },
  {
    title: 'anonymize and delete are accepted with 202; regulation ccpa gives a 45-day deadline',
    async run(f) {
      const anonymized = await f.post('admin', `/subjects/${f.id('ben')}/anonymize`, { regulation: 'ccpa' });
      expect(anonymized.status).toBe(202);
      expect(anonymized.body.request).toMatchObject({ type: 'anonymize', regulation: 'ccpa' });
      expect(Date.parse(anonymized.body.request.dueAt) - Date.parse(anonymized.body.request.createdAt)).toBe(45 * DAY);
      await f.waitFor(anonymized.body.request.id);
      const deleted = await f.post('admin', `/subjects/${f.id('ben')}/delete`);
      expect(deleted.status).toBe(202);
      expect(deleted.body.request).toMatchObject({ type: 'delete', regulation: 'gdpr' });
      expect(Date.parse(deleted.body.request.dueAt) - Date.parse(deleted.body.request.createdAt)).toBe(30 * DAY);
      expect((await f.waitFor(deleted.body.request.id)).status).toBe('completed');
    },
  },
  {
    title: 'GET /subjects/:id names the subject for a confirmation; a subject reads itself; another subject is 403 for it',
    async run(f) {
      const res = await f.get('admin', `/subjects/${f.id('cal')}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ subject: { type: 'Contact', id: String(f.id('cal')), tenantId: 'org-a', name: 'Firstcalhttp0001 Lastcalhttp0001' } });
      // Leading zeros are the same subject, in canonical form.
      expect((await f.get('admin', `/subjects/00${f.id('cal')}`)).body.subject.id).toBe(String(f.id('cal')));
      expect((await f.get('self:cal', `/subjects/${f.id('cal')}`)).status).toBe(200);
      expectError(await f.get('self:cal', `/subjects/${f.id('dan')}`), 403, 'FORBIDDEN');
    },
  },
  {
    title: 'a describeSubject that throws leaves the name out and is reported to onError, never a 500',
    async run(f) {
      const before = f.reported.length;
      const res = await f.get('admin', `/subjects/${f.id('lou')}`);
      expect(res.status).toBe(200);
      expect(res.body.subject).toEqual({ type: 'Contact', id: String(f.id('lou')), tenantId: 'org-a' });
      expect(f.reported.slice(before).map((e) => (e as Error).message)).toEqual(['CRM lookup failed']);
    },
  },
  {
    title: 'GET /requests filters by type, status and subject, pages with a cursor, and shows each tenant only its own',
    async run(f) {
      const release = f.hold();
      const queued = (await f.post('admin', `/subjects/${f.id('dan')}/export`, {})).body.request as PrivacyRequest;
      const mine = await f.post('admin', `/subjects/${f.id('dan')}/anonymize`, {});
      expect(mine.status).toBe(202);
      const bySubject = await f.get('admin', `/requests?subjectId=${f.id('dan')}`);
      expect(bySubject.status).toBe(200);
      expect(bySubject.body.requests.map((r: PrivacyRequest) => r.type).sort()).toEqual(['anonymize', 'export']);
      expect(bySubject.body.requests.every((r: PrivacyRequest & { subjectName?: string }) => r.subjectName === 'Firstdanhttp0001 Lastdanhttp0001')).toBe(true);
      const exportsQueued = await f.get('admin', `/requests?subjectId=${f.id('dan')}&type=export&status=queued`);
      expect(exportsQueued.body.requests.map((r: PrivacyRequest) => r.id)).toEqual([queued.id]);

      // Overdue: open past the deadline, once the clock passes it.
      expect((await f.get('admin', `/requests?subjectId=${f.id('dan')}&overdue=true`)).body.requests).toEqual([]);
      f.shiftClock(31 * DAY);
      try {
        const overdue = await f.get('admin', `/requests?subjectId=${f.id('dan')}&overdue=true`);
        expect(overdue.body.requests.map((r: PrivacyRequest) => r.id).sort()).toEqual([queued.id, mine.body.request.id].sort());
      } finally {
        f.shiftClock(0);
      }

      const first = await f.get('admin', `/requests?subjectId=${f.id('dan')}&limit=1`);
      expect(first.body.requests).toHaveLength(1);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const second = await f.get('admin', `/requests?subjectId=${f.id('dan')}&limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      expect(second.body.requests).toHaveLength(1);
      expect(second.body.requests[0].id).not.toBe(first.body.requests[0].id);
      expect(second.body.nextCursor).toBeUndefined();

      const other = await f.get('adminB', '/requests?limit=1000');
      expect(other.status).toBe(200);
      expect(other.body.requests.every((r: PrivacyRequest) => r.subject.tenantId === 'org-b')).toBe(true);
      expectError(await f.get('adminB', `/requests/${queued.id}`), 404, 'NOT_FOUND');
      // A data subject lists only its own requests.
      const selfList = await f.get('self:dan', '/requests');
      expect(selfList.body.requests.map((r: PrivacyRequest) => r.id).sort()).toEqual([queued.id, mine.body.request.id].sort());
      expect((await f.get('self:eve', `/requests?subjectId=${f.id('dan')}`)).body.requests).toEqual([]);

      await release();
      await f.waitFor(queued.id);
      await f.waitFor(mine.body.request.id);
    },
  },
  {
    title: 'cancel ends a queued request (200, even with no body and no content type); cancelling it again is 409; retry queues it again (202) and it completes',
    async run(f) {
      const release = f.hold();
      const queued = (await f.post('admin', `/subjects/${f.id('eve')}/anonymize`, {})).body.request as PrivacyRequest;
      expect(queued.status).toBe('queued');
      const cancelled = await rawRequest(f.url, { method: 'POST', path: `${MOUNT}/requests/${queued.id}/cancel`, headers: { Authorization: 'Bearer admin-a', 'Content-Length': '0' } });
      expect(cancelled.status).toBe(200);
      expect(cancelled.json.request).toMatchObject({ id: queued.id, status: 'cancelled' });
      expect(cancelled.json.request.finishedAt).toEqual(expect.any(String));

      const again = await f.post('admin', `/requests/${queued.id}/cancel`, {});
      expectError(again, 409, 'CONFLICT');
      expectError(await f.post('agent', `/requests/${queued.id}/retry`, {}), 403, 'FORBIDDEN');
      expectError(await f.post('adminB', `/requests/${queued.id}/retry`, {}), 404, 'NOT_FOUND');

      const retried = await f.post('admin', `/requests/${queued.id}/retry`, {});
      expect(retried.status).toBe(202);
      expect(retried.body.request).toMatchObject({ id: queued.id, status: 'queued' });
      await release();
      expect((await f.waitFor(queued.id)).status).toBe('completed');
      // A completed request cannot be cancelled or retried.
      expectError(await f.post('admin', `/requests/${queued.id}/cancel`, {}), 409, 'CONFLICT');
      expectError(await f.post('admin', `/requests/${queued.id}/retry`, {}), 409, 'CONFLICT');
    },
  },
  {
    title: 'extend-deadline moves dueAt of an open request and records why (200); past what GDPR allows is 400; on a finished request 409',
    async run(f) {
      const release = f.hold();
      const open = (await f.post('admin', `/subjects/${f.id('fay')}/export`, {})).body.request as PrivacyRequest;
      const extended = await f.post('admin', `/requests/${open.id}/extend-deadline`, { days: 10, reason: 'Complex request: several systems to search' });
      expect(extended.status).toBe(200);
      expect(Date.parse(extended.body.request.dueAt) - Date.parse(open.dueAt)).toBe(10 * DAY);
      expect(extended.body.request.deadlineExtensions).toEqual([expect.objectContaining({ days: 10, reason: 'Complex request: several systems to search', by: 'admin-a' })]);
      const tooMuch = await f.post('admin', `/requests/${open.id}/extend-deadline`, { days: 51, reason: 'more' });
      expectError(tooMuch, 400, 'VALIDATION');
      expect(tooMuch.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['days']);
      expectError(await f.post('self:fay', `/requests/${open.id}/extend-deadline`, { days: 1, reason: 'x' }), 403, 'FORBIDDEN');
      // Not ready yet: no link.
      expectError(await f.post('admin', `/requests/${open.id}/download-link`, {}), 409, 'CONFLICT');
      await release();
      await f.waitFor(open.id);
      expectError(await f.post('admin', `/requests/${open.id}/extend-deadline`, { days: 1, reason: 'late' }), 409, 'CONFLICT');
    },
  },
  {
    title: 'restore puts back an anonymization (202): unknown categories are 400, a non-admin 403, another tenant 404; a link for it is 400 (not an export)',
    async run(f) {
      const anonymized = await f.post('admin', `/subjects/${f.id('gus')}/anonymize`, {});
      const done = await f.waitFor(anonymized.body.request.id);
      expect(done.status).toBe('completed');
      const unknown = await f.post('admin', `/requests/${done.id}/restore`, { categories: ['no-such-category'] });
      expectError(unknown, 400, 'VALIDATION');
      expect(unknown.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['categories.0']);
      expectError(await f.post('admin', `/requests/${done.id}/restore`, { records: [{ entity: 'Activity', id: 1, note: 'x' }] }), 400, 'VALIDATION');
      expectError(await f.post('agent', `/requests/${done.id}/restore`, {}), 403, 'FORBIDDEN');
      expectError(await f.post('adminB', `/requests/${done.id}/restore`, {}), 404, 'NOT_FOUND');
      expectError(await f.post('admin', `/requests/${done.id}/download-link`, {}), 400, 'VALIDATION');

      const restore = await f.post('admin', `/requests/${done.id}/restore`, { categories: ['profile', 'activities'] });
      expect(restore.status).toBe(202);
      expect(restore.body.request).toMatchObject({ type: 'restore', subject: { id: String(f.id('gus')) } });
      expect((await f.waitFor(restore.body.request.id)).status).toBe('completed');
      const contact = await f.dataSource.getRepository(Contact).findOneByOrFail({ id: f.id('gus') });
      expect(contact.email).toBe('gushttp0001@mail.example');
      // The rest of it, then nothing is left to restore.
      const rest = await f.post('admin', `/requests/${done.id}/restore`, {});
      expect(rest.status).toBe(202);
      expect((await f.waitFor(rest.body.request.id)).status).toBe('completed');
      expectError(await f.post('admin', `/requests/${done.id}/restore`, {}), 409, 'CONFLICT');
    },
  },
  {
    title: 'purge: before the window ends it is 409 without force, 202 with force; a purged erasure can no longer be restored (409 WINDOW_CLOSED)',
    async run(f) {
      const deleted = await f.post('admin', `/subjects/${f.id('hal')}/delete`, {});
      const done = await f.waitFor(deleted.body.request.id);
      expect(done.status).toBe('completed');
      const early = await f.post('admin', `/requests/${done.id}/purge`, {});
      expectError(early, 409, 'CONFLICT');
      expect(early.body.error.message).toMatch(/force: true/);
      expectError(await f.post('self:hal', `/requests/${done.id}/purge`, { force: true }), 403, 'FORBIDDEN');
      const purge = await f.post('admin', `/requests/${done.id}/purge`, { force: true });
      expect(purge.status).toBe(202);
      expect(purge.body.request).toMatchObject({ type: 'purge', subject: { id: String(f.id('hal')) } });
      expect((await f.waitFor(purge.body.request.id)).status).toBe('completed');
      expectError(await f.post('admin', `/requests/${done.id}/restore`, {}), 409, 'WINDOW_CLOSED');
    },
  },
  {
    title: 'an expired link is 410 with the exact message; a link is refused to another tenant; an expired archive is 410 for self-service too',
    async run(f) {
      const exported = await f.post('admin', `/subjects/${f.id('ivy')}/export`, {});
      const done = await f.waitFor(exported.body.request.id);
      const short = await f.post('admin', `/requests/${done.id}/download-link`, { expiresInSeconds: 60 });
      expect(short.status).toBe(201);
      expectError(await binary(f.get('adminB', `/${short.body.url}`)), 403, 'FORBIDDEN');
      f.shiftClock(120_000);
      try {
        const expired = await binary(f.get('admin', `/${short.body.url}`));
        expect(expired.status).toBe(410);
        expect(JSON.parse(expired.body.toString('utf8'))).toEqual({ error: { code: 'LINK_EXPIRED', message: EXPIRED_MESSAGE } });
        f.shiftClock(8 * DAY);
        const stale = await binary(f.get('self:ivy', `/me/export/${done.id}/download`));
        expect(stale.status).toBe(410);
        expect(JSON.parse(stale.body.toString('utf8')).error).toEqual({ code: 'LINK_EXPIRED', message: EXPIRED_MESSAGE });
        expectError(await f.post('admin', `/requests/${done.id}/download-link`, {}), 410, 'LINK_EXPIRED');
      } finally {
        f.shiftClock(0);
      }
    },
  },
  {
    title: 'self-service: a subject asks for its export (202, then 409 while it runs), lists only its own requests, downloads its ZIP; another subject’s export is 403',
    async run(f) {
      const release = f.hold();
      const mine = await f.post('self:jon', '/me/export', {});
      expect(mine.status).toBe(202);
      expect(mine.body.request).toMatchObject({ type: 'export', status: 'queued', requestedBy: 'self-jon', subject: { id: String(f.id('jon')) } });
      const twice = await f.post('self:jon', '/me/export');
      expectError(twice, 409, 'CONFLICT');
      expect(twice.body.error.request).toMatchObject({ id: mine.body.request.id, requestedBy: 'self-jon' });
      await release();
      const done = await f.waitFor(mine.body.request.id, 'self:jon');
      expect(done.status).toBe('completed');
      const list = await f.get('self:jon', '/me/requests');
      expect(list.status).toBe(200);
      expect(list.body.requests.length).toBeGreaterThan(0);
      expect(list.body.requests.every((r: PrivacyRequest) => r.subject.id === String(f.id('jon')))).toBe(true);
      expect(list.body.requests.map((r: PrivacyRequest) => r.id)).toContain(done.id);

      const zip = await binary(f.get('self:jon', `/me/export/${done.id}/download`));
      expect(zip.status).toBe(200);
      expect(zip.headers['content-type']).toBe('application/zip');
      expect(zip.headers['content-disposition']).toMatch(/^attachment; filename="/);
      expect(zip.headers['cache-control']).toBe('no-store');
      const summary = JSON.parse((await readZip(zip.body)).get('summary.json')!);
      expect(summary.meta.subject.id).toBe(String(f.id('jon')));

      expectError(await binary(f.get('self:kay', `/me/export/${done.id}/download`)), 403, 'FORBIDDEN');
      expectError(await binary(f.get('admin', `/me/export/${done.id}/download`)), 403, 'FORBIDDEN');
      expectError(await binary(f.get('self:jon', '/me/export/00000000-0000-4000-8000-000000000000/download')), 404, 'NOT_FOUND');
      expectError(await f.post('self:jon', `/subjects/${f.id('kay')}/export`, {}), 403, 'FORBIDDEN');
    },
  },
  {
    title: 'the audit trail exports as JSON and as a CSV attachment for the admin’s tenant only, filters by date, and verifies; the data map is served',
    async run(f) {
      const json = await f.get('admin', '/audit');
      expect(json.status).toBe(200);
      expect(json.headers['content-type']).toMatch(/^application\/json/);
      expect(json.headers['cache-control']).toBe('no-store');
      const entries = json.body as Array<{ tenantId: string; action: string; actorId: string }>;
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.every((e) => e.tenantId === 'org-a')).toBe(true);
      expect(entries.map((e) => e.action)).toContain('request.submitted');
      expect(JSON.stringify(entries)).not.toContain('@mail.example');

      // Other cases move the clock a few days ahead; a year ahead nothing was written.
      const future = await f.get('admin', `/audit?from=${new Date(Date.now() + 365 * DAY).toISOString().slice(0, 10)}`);
      expect(future.body).toEqual([]);

      const csv = await f.get('admin', '/audit?format=csv');
      expect(csv.status).toBe(200);
      expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(csv.headers['content-disposition']).toBe('attachment; filename="audit.csv"');
      expect(csv.text.split('\n')[0]).toBe('seq,at,tenant_id,actor_id,action,request_id,subject_type,subject_id,subject_keyed_hash,details,prev_hash,hash');

      const other = await f.get('adminB', '/audit');
      expect((other.body as Array<{ tenantId: string }>).every((e) => e.tenantId === 'org-b')).toBe(true);

      const verify = await f.get('admin', '/audit/verify');
      expect(verify.status).toBe(200);
      expect(verify.body).toMatchObject({ ok: true, tenantId: 'org-a', problems: [] });
      expect(verify.body.checked).toBeGreaterThan(0);

      const map = await f.get('admin', '/data-map');
      expect(map.status).toBe(200);
      expect(map.body).toEqual(f.engine.dataMap());
    },
  },
  {
    title: 'the dashboard page is served with a CSP without inline script, no framing, nosniff and no referrer, and sets the CSRF cookie; its assets are served; /dashboard/ redirects',
    async run(f) {
      const page = await request(f.url).get(`${MOUNT}/dashboard`);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.text).toBe(dashboardAssets()['index.html']);
      const csp = page.headers['content-security-policy'];
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.headers['x-frame-options']).toBe('DENY');
      expect(page.headers['cache-control']).toBe('no-store');
      expect([page.headers['set-cookie']].flat()[0]).toMatch(new RegExp(`^privacy_csrf=[A-Za-z0-9_-]{43}; Path=${MOUNT}; SameSite=Strict$`));

      const js = await request(f.url).get(`${MOUNT}/dashboard/app.js`);
      expect(js.status).toBe(200);
      expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(js.text).toBe(dashboardAssets()['app.js']);
      const css = await request(f.url).get(`${MOUNT}/dashboard/app.css`);
      expect(css.status).toBe(200);
      expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
      expect(css.text).toBe(dashboardAssets()['app.css']);

      const slash = await request(f.url).get(`${MOUNT}/dashboard/`);
      expect(slash.status).toBe(308);
      expect(new URL(slash.headers.location, `${f.url}${MOUNT}/dashboard/`).pathname).toBe(`${MOUNT}/dashboard`);

      await f.withApp({ dashboard: false }, async (url) => {
        expectError(await request(url).get(`${MOUNT}/dashboard`), 404, 'NOT_FOUND');
        expectError(await request(url).get(`${MOUNT}/dashboard/app.js`), 404, 'NOT_FOUND');
      });
    },
  },
  {
    title: 'CSRF: a cookie session posts with the token /session gave it (202); with csrf: false no token is needed',
    async run(f) {
      const session = await request(f.url).get(`${MOUNT}/session`).set('Cookie', 'sid=admin-a');
      expect(session.status).toBe(200);
      const token = session.body.csrfToken as string;
      const ok = await request(f.url)
        .post(`${MOUNT}/subjects/${f.id('kay')}/export`)
        .set('Cookie', `sid=admin-a; privacy_csrf=${token}`)
        .set('X-CSRF-Token', token)
        .send({});
      expect(ok.status).toBe(202);
      await f.waitFor(ok.body.request.id);
      // GETs need no token.
      expect((await request(f.url).get(`${MOUNT}/requests/${ok.body.request.id}`).set('Cookie', 'sid=admin-a')).status).toBe(200);

      await f.withApp({ csrf: false }, async (url) => {
        const res = await request(url).post(`${MOUNT}/subjects/${f.id('kay')}/export`).set('Cookie', 'sid=admin-a').send({});
        expect(res.status).toBe(202);
        await f.waitFor(res.body.request.id);
      });
    },
  },
  {
    title: 'body limits: a declared Content-Length over maxBodyBytes and a chunked body that grows past it are both 413',
    async run(f) {
      await f.withApp({ maxBodyBytes: 64 }, async (url) => {
        const body = JSON.stringify({ regulation: 'gdpr', pad: 'x'.repeat(200) });
        const declared = await rawRequest(url, {
          method: 'POST',
          path: `${MOUNT}/subjects/${f.id('kay')}/export`,
          headers: { Authorization: 'Bearer admin-a', 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) },
          chunks: [body],
        });
        expect(declared.status).toBe(413);
        expect(declared.json).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than 64 bytes' } });
        const chunked = await rawRequest(url, {
          method: 'POST',
          path: `${MOUNT}/subjects/${f.id('kay')}/export`,
          headers: { Authorization: 'Bearer admin-a', 'Content-Type': 'application/json' },
          chunks: [body.slice(0, 50), body.slice(50, 120), body.slice(120)],
        });
        expect(chunked.status).toBe(413);
        expect(chunked.json.error.code).toBe('PAYLOAD_TOO_LARGE');
        // A body under the limit still works on the same app.
        const small = await rawRequest(url, {
          method: 'POST',
          path: `${MOUNT}/subjects/${f.id('kay')}/export`,
          headers: { Authorization: 'Bearer admin-a', 'Content-Type': 'application/json' },
          chunks: ['{"regulation":', '"gdpr"}'],
        });
        expect(small.status).toBe(202);
        await f.waitFor(small.json.request.id);
      });
    },
  },
  {
    title: 'a getActor that throws is a 500 with a generic body (no message, no stack), reported to onError',
    async run(f) {
      const before = f.reported.length;
      const res = await request(f.url).get(`${MOUNT}/requests`).set('Authorization', 'Bearer explode');
      expectError(res, 500, 'INTERNAL');
      expect(res.body.error.message).toBe('Internal error');
      expect(JSON.stringify(res.body)).not.toContain('hunter2');
      expect(f.reported.slice(before).map((e) => (e as Error).message)).toEqual(['session store unreachable: db password hunter2']);
    },
  },
];

/** Runs the whole table on every database against the app `factory` builds. */
export function describeEndpointCases(title: string, factory: PrivacyAppFactory, options: { only?: DatabaseKind[] } = {}): void {
  describeEachDatabase(
    title,
    (db) => {
      let fixture: Awaited<ReturnType<typeof setUp>>;
      beforeAll(async () => {
        fixture = await setUp(db, factory);
      });
      afterAll(async () => fixture?.tearDown());
      for (const c of ERROR_CASES) it(`${c.status} ${c.code}: ${c.title}`, () => runErrorCase(fixture, c));
      for (const c of FLOW_CASES) it(c.title, () => c.run(fixture));
    },
    options,
  );
}
