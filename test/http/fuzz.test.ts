import express from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Actor, PrivacyEngine, createMemoryStorage } from '../../src/index.js';
import { createPrivacyRouter } from '../../src/http/express.js';
import { privacyRoutes } from '../../src/http/index.js';
import { describeEachDatabase } from '../support/databases.js';
import { createTestLogger } from '../support/test-logger.js';
import { Contact, crmEntities } from '../fixtures/crm.js';
import { seedContact } from '../fixtures/crm-seed.js';
import { isCleanErrorBody, listen, rawRequest } from './http-client.js';

const MOUNT = '/privacy';

// Path segments: the routes' own words, ids that exist, and what breaks naive routers (dot segments, bad percent-encoding, NUL, long runs).
const segment = fc.oneof(
  fc.constantFrom('', '.', '..', '%', '%zz', '%E0%A4%A', '%00', '%2F', '%2e%2e', 'requests', 'subjects', 'me', 'export', 'download', 'dashboard', 'app.js', '1', '2', '-1', '0x10', '1e3', 'null'),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 20 }).map(encodeURIComponent),
  fc.nat().map(String),
  fc.uuid(),
  fc.integer({ min: 200, max: 5000 }).map((n) => 'x'.repeat(n)),
);

/** Subject ids: mostly ones that exist (so requests get past the lookup), sometimes anything. */
const subjectIdSegment = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('1', '2', '001') }, { weight: 1, arbitrary: segment });
const anyMethod = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');

/** A real route, mostly with its own method, its parameters fuzzed; or an arbitrary path and method. */
const target = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(...privacyRoutes).chain((route) =>
      fc.record({
        method: fc.oneof({ weight: 6, arbitrary: fc.constant<string>(route.method) }, { weight: 1, arbitrary: anyMethod }),
        path: fc
          .tuple(...route.path.split('/').slice(1).map((part) => (part === ':subjectId' ? subjectIdSegment : part.startsWith(':') ? segment : fc.constant(part))))
          .map((parts) => `/${parts.join('/')}`),
      }),
    ),
  },
  { weight: 1, arbitrary: fc.record({ method: anyMethod, path: fc.array(segment, { maxLength: 6 }).map((parts) => `/${parts.join('/')}`) }) },
  { weight: 1, arbitrary: fc.record({ method: anyMethod, path: fc.constantFrom('/', '', '//requests', '/requests/', '/dashboard/', '/requests//cancel', '/./session', '/%2e%2e/session') }) },
);

const queryKey = fc.oneof(fc.constantFrom('status', 'type', 'subjectId', 'overdue', 'cursor', 'limit', 'format', 'from', 'to', '__proto__', 'constructor', ''), fc.string({ maxLength: 10 }));
const queryValue = fc.oneof(
  fc.constantFrom('queued', 'completed', 'export', 'true', 'false', 'json', 'csv', '0', '1', '1000', '1001', '-5', '2024-01-01', '2024-13-45', 'NaN', ''),
  fc.string({ maxLength: 50 }),
  fc.integer().map(String),
);
const query = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(queryKey, queryValue), { maxLength: 5 }).map((pairs) => `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`),
  fc.constantFrom('?', '?&&', '?=', '?status', '?limit=%', '?a[b]=c', '?status[]=queued', '?status=queued&status=failed'),
);

// Bodies: fields of the real schemas with values of any type, arbitrary JSON, text that is not JSON, bytes that are not UTF-8, and bodies past the limit.
const knownFields = fc.record(
  {
    regulation: fc.oneof(fc.constantFrom('gdpr', 'ccpa', 'GDPR'), fc.anything()),
    force: fc.anything(),
    days: fc.oneof(fc.integer({ min: -5, max: 200 }), fc.anything()),
    reason: fc.oneof(fc.string({ maxLength: 600 }), fc.anything()),
    categories: fc.oneof(fc.array(fc.string()), fc.anything()),
    records: fc.oneof(fc.array(fc.record({ entity: fc.string(), id: fc.oneof(fc.string(), fc.integer(), fc.anything()) })), fc.anything()),
    expiresInSeconds: fc.anything(),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom('{}', '{"regulation":"ccpa"}', '{"force":true}', '{"days":5,"reason":"complex"}') },
  { weight: 3, arbitrary: knownFields.map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 2, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.constantFrom('{', '{"regulation":}', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{}}}', 'null', '[]', '""', '1e999', '{"a":1}{"b":2}', '\ufeff{}') },
  { weight: 1, arbitrary: fc.integer({ min: 100 * 1024, max: 400 * 1024 }).map((n) => `{"reason":"${'x'.repeat(n)}"}`) },
);
const contentType = fc.option(
  fc.oneof(
    { weight: 3, arbitrary: fc.constant('application/json') },
    fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', ''),
    fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  ),
  { nil: undefined },
);
const authorization = fc.option(
  fc.oneof({ weight: 4, arbitrary: fc.constant('Bearer admin-a') }, fc.constantFrom('Bearer agent-a', 'Bearer self-1', 'Bearer nobody', 'Bearer', 'Basic YWRtaW46YWRtaW4=', 'bearer admin-a')),
  { nil: undefined, freq: 5 },
);
const csrf = fc.oneof({ weight: 4, arbitrary: fc.constant('none') }, fc.constantFrom('cookie-only', 'matching', 'mismatched'));

describeEachDatabase(
  'HTTP fuzz: malformed requests',
  (db) => {
    let engine: PrivacyEngine;
    let server: Awaited<ReturnType<typeof listen>>;
    const reported: unknown[] = [];
    beforeAll(async () => {
      const dataSource = await db.createDataSource(crmEntities);
      await seedContact(dataSource, 'org-a', 'fuzzhttp0001');
      await seedContact(dataSource, 'org-a', 'fuzzhttp0002');
      engine = new PrivacyEngine({ dataSource, subject: Contact, tenantColumn: 'organizationId', secret: 'http-fuzz-secret-0123456789-abcdefghijklmn', storage: createMemoryStorage(), logger: createTestLogger() });
      await engine.start();
      const actors: Record<string, Actor> = {
        'admin-a': { id: 'admin-a', roles: ['admin'], tenantId: 'org-a' },
        'agent-a': { id: 'agent-a', roles: [], tenantId: 'org-a' },
        'self-1': { id: 'self-1', roles: [], tenantId: 'org-a', subjectId: 1 },
      };
      const app = express();
      app.use(
        MOUNT,
        createPrivacyRouter(engine, {
          getActor: (req) => actors[/^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? /sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? ''],
          describeSubject: ({ id }) => ({ name: `Contact ${id}` }),
          onError: (error) => reported.push(error),
        }),
      );
      server = await listen(app);
    });
    afterAll(async () => {
      await server?.close();
      await engine?.stop();
    });

    it('answers every malformed request without a 5xx, and every error as a JSON error body without a stack', async () => {
      const token = 'C'.repeat(43);
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(target, query, body, contentType, authorization, csrf, async ({ method: m, path: p }, q, b, type, auth, csrfMode) => {
          const headers: Record<string, string> = {};
          if (type !== undefined) headers['Content-Type'] = type;
          if (auth !== undefined) headers.Authorization = auth;
          if (csrfMode !== 'none') headers.Cookie = `sid=admin-a; privacy_csrf=${token}`;
          if (csrfMode === 'matching') headers['X-CSRF-Token'] = token;
          if (csrfMode === 'mismatched') headers['X-CSRF-Token'] = 'D'.repeat(43);
          const res = await rawRequest(server.url, { method: m, path: `${MOUNT}${p}${q}`, headers, chunks: b === undefined ? [] : [b] });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, `${m} ${p}${q}`).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
            expect(isCleanErrorBody(res.json), res.body.toString('utf8').slice(0, 300)).toBe(true);
          }
        }),
        {
          numRuns: 500,
          // Run first: an accepted export and a body past the limit, so each outcome below is seen whatever the seed.
          examples: [
            [{ method: 'POST', path: '/subjects/2/export' }, '', '{}', 'application/json', 'Bearer admin-a', 'none'],
            [{ method: 'POST', path: '/subjects/2/anonymize' }, '', `{"reason":"${'x'.repeat(200 * 1024)}"}`, 'application/json', 'Bearer admin-a', 'none'],
          ],
        },
      );
      // The generators reach past routing: every kind of refusal, and accepted requests too.
      expect([...statuses.keys()]).toEqual(expect.arrayContaining([200, 202, 400, 401, 403, 404, 405, 413, 415]));
      await engine.stop();
      expect(reported).toEqual([]);
    });
  },
  { only: ['sqlite'] },
);
