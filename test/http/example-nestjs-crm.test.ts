/**
 * `npm run example:nest` as a user runs it: the example's own command (SWC module hook), on a free port, then the
 * walk-through of its README over HTTP: sign in, export a contact through the module's endpoints, download the ZIP,
 * read the contact's requests through the CRM's own route (the injected engine), and stop it with SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readZip } from '../support/archive.js';
import { describeEachDatabase } from '../support/databases.js';

const COMMAND = ['--import', './examples/nestjs-crm/swc-register.mjs', 'examples/nestjs-crm/main.ts'];

describeEachDatabase(
  'examples/nestjs-crm (npm run example:nest)',
  (db) => {
    let child: ChildProcess;
    let url: string;
    let output = '';

    beforeAll(async () => {
      const { options } = await db.createDatabase();
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
      if (options.type === 'better-sqlite3') env.SQLITE_FILE = options.database as string;
      else env.DATABASE_URL = (options as { url: string }).url;
      child = spawn(process.execPath, COMMAND, { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const deadline = Date.now() + 90_000;
      // Both lines of the banner: the URL, then where to sign in.
      while (!/on .*: (http:\/\/\S+)\/\n.*privacy\/dashboard\n/.test(output)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the example did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      url = /on .*: (http:\/\/\S+)\//.exec(output)![1];
    });
    afterAll(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    });

    it('prints its URL, and an admin exports a contact through /privacy and downloads the ZIP', async () => {
      expect(output).toMatch(new RegExp(`sign in as Alice Martin \\(admin\\) and open ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/privacy/dashboard`));
      const login = await request(url).post('/login').type('form').send({ user: 'alice.martin' });
      expect(login.status).toBe(303);
      expect(login.headers.location).toBe('/privacy/dashboard');
      const sessionCookie = login.headers['set-cookie'][0].split(';')[0];

      const dashboard = await request(url).get('/privacy/dashboard').set('Cookie', sessionCookie);
      expect(dashboard.status).toBe(200);
      expect(dashboard.headers['content-type']).toMatch(/^text\/html/);

      const session = await request(url).get('/privacy/session').set('Cookie', sessionCookie);
      expect(session.body.actor).toEqual({ id: 'alice.martin', roles: ['admin'], tenantId: 'northwind' });
      const csrf = session.body.csrfToken as string;
      const cookies = `${sessionCookie}; privacy_csrf=${csrf}`;

      const subject = await request(url).get('/privacy/subjects/1').set('Cookie', cookies);
      expect(subject.body.subject).toMatchObject({ id: '1', tenantId: 'northwind', name: 'Astrid Lindqvist' });

      const asked = await request(url).post('/privacy/subjects/1/export').set('Cookie', cookies).set('X-CSRF-Token', csrf).send({});
      expect(asked.status).toBe(202);
      const id = asked.body.request.id as string;
      let status = asked.body.request.status as string;
      for (const deadline = Date.now() + 60_000; status !== 'completed' && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = (await request(url).get(`/privacy/requests/${id}`).set('Cookie', cookies)).body.request.status;
      }
      expect(status).toBe('completed');

      const link = await request(url).post(`/privacy/requests/${id}/download-link`).set('Cookie', cookies).set('X-CSRF-Token', csrf).send({});
      expect(link.status).toBe(201);
      const zip = await request(url)
        .get(`/privacy/${link.body.url}`)
        .set('Cookie', cookies)
        .buffer(true)
        .parse((res, done) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(zip.status).toBe(200);
      expect(zip.headers['content-type']).toBe('application/zip');
      const files = await readZip(zip.body as Buffer);
      const summary = JSON.parse(files.get('summary.json')!);
      // The Express example's schema and seed: Astrid Lindqvist's records in every category.
      expect(summary.meta.subject.displayName).toBe('Astrid Lindqvist');
      expect(summary.meta.counts).toMatchObject({ profile: 1, company: 1, activities: 3, tickets: 1, deals: 1, invoices: 2, consents: 2 });

      // The CRM's own route, through the engine PrivacyModule injected into its controller.
      const requests = await request(url).get('/contacts/1/privacy-requests').set('Cookie', sessionCookie);
      expect(requests.body.map((r: { id: string }) => r.id)).toEqual([id]);
    });

    it("keeps tenants apart: Globex's admin does not find Northwind's contact", async () => {
      const login = await request(url).post('/login').type('form').send({ user: 'bob.chen' });
      const cookie = login.headers['set-cookie'][0].split(';')[0];
      const res = await request(url).get('/privacy/subjects/1').set('Cookie', cookie);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    });

    it('stops on SIGTERM (shutdown hooks close the application and the engine)', async () => {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      // Nest's shutdown hook closes the app, then re-raises the signal so the process ends as signalled.
      expect(code === 0 || signal === 'SIGTERM').toBe(true);
      expect(output).not.toMatch(/Error|error/);
    });
  },
  { only: ['sqlite', 'postgres'] },
);
