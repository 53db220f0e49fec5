import { type IncomingMessage, createServer } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PrivacyEngine, createMemoryStorage } from '../../src/index.js';
import { createPrivacyHttpHandler, fromNodeRequest, privacyRoutes, sendNodeResponse } from '../../src/http/index.js';
import { describeEachDatabase } from '../support/databases.js';
import { createTestLogger } from '../support/test-logger.js';
import { Contact, crmEntities } from '../fixtures/crm.js';
import { seedContact } from '../fixtures/crm-seed.js';
import { listen, rawRequest } from './http-client.js';

// The "Other frameworks" example of docs/http.md: the core on Node's own http server, no framework.
describeEachDatabase(
  'privacy-engine/http on a plain Node server',
  (db) => {
    let engine: PrivacyEngine;
    let server: Awaited<ReturnType<typeof listen>>;
    let contactId: number;
    beforeAll(async () => {
      const dataSource = await db.createDataSource(crmEntities);
      contactId = (await seedContact(dataSource, 'org-a', 'nodehttp0001')).contact.id;
      engine = new PrivacyEngine({ dataSource, subject: Contact, tenantColumn: 'organizationId', secret: 'node-adapter-secret-0123456789-abcdefghij', storage: createMemoryStorage(), logger: createTestLogger() });
      await engine.start();
      const actorFromRequest = (req: { headers: { authorization?: string } }) => (req.headers.authorization === 'Bearer t0' ? { id: 'admin-1', roles: ['admin'], tenantId: 'org-a' } : undefined);

      const handler = createPrivacyHttpHandler<IncomingMessage>(engine, { getActor: (req) => actorFromRequest(req) });
      const app = createServer(async (req, res) => {
        if (!req.url?.startsWith('/privacy/')) return void res.writeHead(404).end();
        const response = await handler.handle(fromNodeRequest(req, { url: req.url.slice('/privacy'.length), mountPath: '/privacy' }));
        await sendNodeResponse(res, response);
      });
      server = await listen(app);
    });
    afterAll(async () => {
      await server?.close();
      await engine?.stop();
    });

    it('serves the same routes: a submitted export, a query, a refusal', async () => {
      const submitted = await rawRequest(server.url, {
        method: 'POST',
        path: `/privacy/subjects/${contactId}/export`,
        headers: { Authorization: 'Bearer t0', 'Content-Type': 'application/json' },
        chunks: ['{"regulation":"ccpa"}'],
      });
      expect(submitted.status).toBe(202);
      expect(submitted.json.request).toMatchObject({ type: 'export', regulation: 'ccpa', subject: { id: String(contactId) } });
      const listed = await rawRequest(server.url, { method: 'GET', path: '/privacy/requests?type=export&limit=5', headers: { Authorization: 'Bearer t0' } });
      expect(listed.json.requests.map((r: { id: string }) => r.id)).toEqual([submitted.json.request.id]);
      const anonymous = await rawRequest(server.url, { method: 'GET', path: '/privacy/requests' });
      expect(anonymous.status).toBe(401);
      await engine.waitForRequest(submitted.json.request.id, { actor: engine.system });
    });

    it('lists its routes as data', () => {
      expect(privacyRoutes.map((r) => `${r.method} ${r.path}`)).toEqual(
        expect.arrayContaining(['GET /session', 'POST /subjects/:subjectId/export', 'GET /download/:token', 'GET /me/export/:id/download', 'GET /dashboard']),
      );
      expect(privacyRoutes.find((r) => r.path === '/audit')?.access).toBe('admin');
    });
  },
  { only: ['sqlite'] },
);
