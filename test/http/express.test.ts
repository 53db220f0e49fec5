import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PrivacyEngine, ValidationError, createMemoryStorage } from '../../src/index.js';
import { createPrivacyRouter } from '../../src/http/express.js';
import { describeEachDatabase } from '../support/databases.js';
import { createTestLogger } from '../support/test-logger.js';
import { Contact, crmEntities } from '../fixtures/crm.js';
import { seedContact } from '../fixtures/crm-seed.js';
import { describeEndpointCases } from './endpoint-cases.js';
import { isCleanErrorBody } from './http-client.js';

describeEndpointCases('HTTP endpoints through createPrivacyRouter (Express 5)', (engine, options, mountPath) => {
  const app = express();
  app.use(mountPath, createPrivacyRouter(engine, options));
  return app;
});

const admin = { id: 'admin-a', roles: ['admin'], tenantId: 'org-a' };

// How the router sits in a host's Express app: other middleware around it, other mount points. SQLite: the
// database plays no part in these.
describeEachDatabase(
  'createPrivacyRouter in a host app',
  (db) => {
    let engine: PrivacyEngine;
    let contactId: number;
    beforeAll(async () => {
      const dataSource = await db.createDataSource(crmEntities);
      contactId = (await seedContact(dataSource, 'org-a', 'hostapp0001')).contact.id;
      engine = new PrivacyEngine({ dataSource, subject: Contact, tenantColumn: 'organizationId', secret: 'express-host-secret-0123456789-abcdefghij', storage: createMemoryStorage(), logger: createTestLogger() });
      await engine.start();
    });
    afterAll(async () => engine?.stop());

    it('refuses options without getActor, or with a wrong type, when the router is made', () => {
      expect(() => createPrivacyRouter(engine, {} as never)).toThrow(ValidationError);
      expect(() => createPrivacyRouter(engine, { getActor: () => admin, maxBodyBytes: -1 })).toThrow(/maxBodyBytes/);
      expect(() => createPrivacyRouter(engine, { getActor: () => admin, colour: 'blue' } as never)).toThrow(/colour/);
    });

    it('works behind a host express.json() (the body arrives parsed) and still refuses a form body that express.urlencoded() parsed', async () => {
      const app = express();
      app.use(express.json(), express.urlencoded({ extended: false }));
      app.use('/privacy', createPrivacyRouter(engine, { getActor: () => admin, csrf: false }));
      const accepted = await request(app).post(`/privacy/subjects/${contactId}/export`).send({ regulation: 'ccpa' });
      expect(accepted.status).toBe(202);
      expect(accepted.body.request.regulation).toBe('ccpa');
      await engine.waitForRequest(accepted.body.request.id, { actor: engine.system });
      const unknown = await request(app).post(`/privacy/subjects/${contactId}/export`).send({ regulation: 'ccpa', extra: true });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.issues).toEqual([{ path: 'extra', message: 'unknown field' }]);
      const form = await request(app).post(`/privacy/subjects/${contactId}/export`).type('form').send('regulation=gdpr');
      expect(form.status).toBe(415);
      expect(isCleanErrorBody(form.body)).toBe(true);
    });

    it('prefers the raw bytes a host parser kept (req.rawBody, as NestJS keeps them): its own size limit and JSON checks apply', async () => {
      const app = express();
      app.use(
        express.json({
          verify: (req, _res, buffer) => {
            (req as unknown as { rawBody: Buffer }).rawBody = buffer;
          },
        }),
      );
      app.use('/privacy', createPrivacyRouter(engine, { getActor: () => admin, csrf: false, maxBodyBytes: 64 }));
      const large = await request(app).post(`/privacy/subjects/${contactId}/export`).send({ regulation: 'gdpr', pad: 'x'.repeat(100) });
      expect(large.status).toBe(413);
      expect(large.body.error.code).toBe('PAYLOAD_TOO_LARGE');
      const unknown = await request(app).post(`/privacy/subjects/${contactId}/export`).send({ colour: 'blue' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.issues).toEqual([{ path: 'colour', message: 'unknown field' }]);
    });

    it('scopes the CSRF cookie to a nested mount path and marks it Secure behind HTTPS (trust proxy)', async () => {
      const app = express();
      app.set('trust proxy', true);
      const api = express.Router();
      api.use('/privacy', createPrivacyRouter(engine, { getActor: () => admin }));
      app.use('/api/v1', api);
      const plain = await request(app).get('/api/v1/privacy/session');
      expect(plain.status).toBe(200);
      expect(plain.headers['set-cookie'][0]).toBe(`privacy_csrf=${plain.body.csrfToken}; Path=/api/v1/privacy; SameSite=Strict`);
      const secure = await request(app).get('/api/v1/privacy/session').set('X-Forwarded-Proto', 'https');
      expect(secure.headers['set-cookie'][0]).toBe(`privacy_csrf=${secure.body.csrfToken}; Path=/api/v1/privacy; SameSite=Strict; Secure`);
    });

    it('leaves routes outside its mount point to the host', async () => {
      const app = express();
      app.use('/privacy', createPrivacyRouter(engine, { getActor: () => admin }));
      app.get('/health', (_req, res) => {
        res.json({ ok: true });
      });
      expect((await request(app).get('/health')).body).toEqual({ ok: true });
      expect((await request(app).get('/privacy/health')).status).toBe(404);
    });

    it('hands getActor the Express request (a Passport-style req.user set by earlier middleware)', async () => {
      const app = express();
      app.use((req, _res, next) => {
        (req as express.Request & { user?: unknown }).user = { id: 'u-9', orgId: 'org-a', isAdmin: true };
        next();
      });
      app.use(
        '/privacy',
        createPrivacyRouter(engine, {
          getActor: (req) => {
            const user = (req as express.Request & { user?: { id: string; orgId: string; isAdmin: boolean } }).user;
            return user && { id: user.id, roles: user.isAdmin ? ['admin'] : [], tenantId: user.orgId };
          },
        }),
      );
      const res = await request(app).get('/privacy/session');
      expect(res.body.actor).toEqual({ id: 'u-9', roles: ['admin'], tenantId: 'org-a' });
    });
  },
  { only: ['sqlite'] },
);
