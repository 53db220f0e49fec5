/**
 * The example CRM (examples/express-crm) over HTTP on every database, as its README walks through it: sign in,
 * export a contact and download the ZIP, anonymize and restore, tenants kept apart, self-service for a contact,
 * and pages without inline code. The browser test drives the same app in Chromium on SQLite.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCrmApp, type Crm } from '../../examples/express-crm/app.js';
import { Activity, Contact, Invoice } from '../../examples/express-crm/entities.js';
import { readZip } from '../support/archive.js';
import { describeEachDatabase } from '../support/databases.js';
import { createTestLogger } from '../support/test-logger.js';

type Agent = ReturnType<typeof request.agent>;

/** Collects a binary response body (supertest buffers only text by default). */
const binary = (res: any, callback: (error: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
};

describeEachDatabase('example CRM over HTTP', (db) => {
  let crm: Crm;
  let storage: string;

  beforeAll(async () => {
    storage = await mkdtemp(path.join(os.tmpdir(), 'pe-example-'));
    const { options } = await db.createDatabase();
    crm = await createCrmApp({ database: options, storageDirectory: storage, logger: createTestLogger() });
  });

  afterAll(async () => {
    await crm?.close();
    await rm(storage, { recursive: true, force: true });
  });

  const contact = (email: string) => crm.dataSource.getRepository(Contact).findOneOrFail({ where: { email }, withDeleted: true });

  async function signIn(user: string): Promise<{ agent: Agent; csrf: string }> {
    const agent = request.agent(crm.app);
    await agent.post('/login').type('form').send({ user }).expect(303);
    const session = await agent.get('/privacy/session').expect(200);
    return { agent, csrf: session.body.csrfToken };
  }

  async function finished(agent: Agent, id: string, prefix = '/privacy/requests/') {
    for (let i = 0; i < 600; i++) {
      const res = await agent.get(`${prefix}${id}`).expect(200);
      const r = res.body.request;
      if (['completed', 'failed', 'cancelled'].includes(r.status)) return r;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`request ${id} did not finish`);
  }

  it('an admin exports a contact and downloads the ZIP through a link; the seeded data is all in it', async () => {
    const { agent, csrf } = await signIn('staff:alice.martin');
    const astrid = await contact('astrid.lindqvist@bergstrom-logistik.se');
    const list = await agent.get('/contacts').expect(200);
    expect(list.text).toContain('Astrid');
    expect(list.text).not.toContain('Tremblay'); // Globex's contact

    const submitted = await agent.post(`/privacy/subjects/${astrid.id}/export`).set('X-CSRF-Token', csrf).send({}).expect(202);
    expect(submitted.body.request).toMatchObject({ type: 'export', status: 'queued', subjectName: 'Astrid Lindqvist', requestedBy: 'alice.martin' });
    const done = await finished(agent, submitted.body.request.id);
    expect(done.status).toBe('completed');
    const link = await agent.post(`/privacy/requests/${done.id}/download-link`).set('X-CSRF-Token', csrf).send({}).expect(201);
    const zip = await agent.get(`/privacy/${link.body.url}`).buffer(true).parse(binary).expect(200).expect('Content-Type', 'application/zip');
    const files = await readZip(zip.body as Buffer);
    const summary = JSON.parse(files.get('summary.json')!);
    const activities = await crm.dataSource.getRepository(Activity).countBy({ contact: { id: astrid.id } });
    expect(summary.meta.counts).toMatchObject({ profile: 1, company: 1, activities, consents: 2, 'audit-log': 2 });
    expect(Object.keys(summary.meta.counts).sort()).toEqual(['activities', 'audit-log', 'company', 'consents', 'deals', 'invoices', 'profile', 'tickets']);
  });

  it('an anonymize redacts the contact and keeps the invoices; its restore brings every value back', async () => {
    const { agent, csrf } = await signIn('staff:alice.martin');
    const maya = await contact('maya.okafor@harborpine.com');
    const invoices = () => crm.dataSource.getRepository(Invoice).find({ where: { deal: { primaryContact: { id: maya.id } } }, order: { id: 'ASC' } });
    const invoicesBefore = await invoices();

    const anonymize = await agent.post(`/privacy/subjects/${maya.id}/anonymize`).set('X-CSRF-Token', csrf).send({}).expect(202);
    const erased = await finished(agent, anonymize.body.request.id);
    expect(erased.status).toBe('completed');
    expect(erased.subjectName).toBe(`Contact #${maya.id} (anonymized)`);
    expect(erased.outcome.receipt.retained.map((r: { category: string }) => r.category).sort()).toEqual(['audit-log', 'company', 'consents', 'invoices']);
    const redacted = await contact(maya.email).catch(() => null);
    expect(redacted).toBeNull(); // the email itself was redacted
    expect(await invoices()).toEqual(invoicesBefore);
    const page = await agent.get(`/contacts/${maya.id}`).expect(200);
    expect(page.text).not.toContain('Okafor');

    const restore = await agent.post(`/privacy/requests/${erased.id}/restore`).set('X-CSRF-Token', csrf).send({}).expect(202);
    expect((await finished(agent, restore.body.request.id)).status).toBe('completed');
    expect(await contact('maya.okafor@harborpine.com')).toEqual(maya);
  });

  it("tenants stay apart: Globex's admin gets 404 for a Northwind contact, and a tampered session cookie is no session", async () => {
    const { agent } = await signIn('staff:bob.chen');
    const astrid = await contact('astrid.lindqvist@bergstrom-logistik.se');
    const res = await agent.get(`/privacy/subjects/${astrid.id}`).expect(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    await agent.get(`/contacts/${astrid.id}`).expect(404);

    const login = await request(crm.app).post('/login').type('form').send({ user: 'staff:nora.patel' }).expect(303);
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    await request(crm.app).get('/privacy/session').set('Cookie', cookie).expect(200);
    const [name, value] = cookie.split('=');
    const payload = Buffer.from(JSON.stringify({ kind: 'staff', userId: 'alice.martin', exp: 9e9 })).toString('base64url');
    const forged = `${name}=${payload}.${value.split('.')[1]}`;
    await request(crm.app).get('/privacy/session').set('Cookie', forged).expect(401);
  });

  it('a contact exports and downloads their own data; the dashboard session says they are not an admin', async () => {
    const camille = await contact('camille.dubois@cafelumiere.fr');
    const { agent, csrf } = await signIn(`contact:${camille.id}`);
    const session = await agent.get('/privacy/session').expect(200);
    expect(session.body).toMatchObject({ actor: { subjectId: camille.id, roles: ['contact'] }, admin: false });
    await agent.get('/me').expect(200);

    const submitted = await agent.post('/privacy/me/export').set('X-CSRF-Token', csrf).send({}).expect(202);
    const id = submitted.body.request.id;
    for (let i = 0; ; i++) {
      const { requests } = (await agent.get('/privacy/me/requests').expect(200)).body;
      if (requests.find((r: { id: string; status: string }) => r.id === id)?.status === 'completed') break;
      if (i > 600) throw new Error('self-service export did not finish');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const zip = await agent.get(`/privacy/me/export/${id}/download`).buffer(true).parse(binary).expect(200);
    const summary = JSON.parse((await readZip(zip.body as Buffer)).get('summary.json')!);
    expect(summary.meta.subject).toMatchObject({ id: String(camille.id), displayName: 'Camille Dubois' });
    // Another contact's data is not theirs to export.
    const other = await contact('theo.marchand@cafelumiere.fr');
    await agent.post(`/privacy/subjects/${other.id}/export`).set('X-CSRF-Token', csrf).send({}).expect(403);
  });

  it("serves the CRM's pages under a CSP without inline script or style", async () => {
    const { agent } = await signIn('staff:alice.martin');
    const astrid = await contact('astrid.lindqvist@bergstrom-logistik.se');
    for (const url of ['/login', '/contacts', `/contacts/${astrid.id}`]) {
      const res = await agent.get(url).expect(200);
      expect(res.headers['content-security-policy']).toContain("script-src 'self'; style-src 'self'");
      expect(res.text).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    }
    const dashboard = await agent.get('/privacy/dashboard').expect(200);
    expect(dashboard.text).toContain('<script src="dashboard/app.js" defer></script>');
  });
});
