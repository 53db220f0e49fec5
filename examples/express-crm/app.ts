/**
 * The example CRM as a function: builds the DataSource, seeds it, starts the privacy engine and returns an Express
 * app with the CRM's pages, the privacy router at /privacy and its dashboard at /privacy/dashboard.
 * server.ts runs it; the browser test (test/http/dashboard.browser.test.ts) starts the same app on a random port.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { DataSource, type DataSourceOptions } from 'typeorm';
// A host imports these from the package: 'privacy-engine' and 'privacy-engine/express'.
import { PrivacyEngine, createLocalStorage, type Logger } from '../../src/index.js';
import { createPrivacyRouter } from '../../src/http/express.js';
import { Activity, CRM_ENTITIES, Company, Consent, Contact, Deal, Invoice, Ticket } from './entities.js';
import { seed } from './seed.js';
import { STAFF, actorOf, createSessions, type Session } from './session.js';
import { contactPage, contactsPage, layout, loginPage, mePage, messagePage, type Viewer } from './views.js';

export interface CrmOptions {
  /** TypeORM connection options; default from the environment (see databaseFromEnv). */
  database?: DataSourceOptions;
  /** Where the engine stores export archives (encrypted); default a folder under the OS temp directory. */
  storageDirectory?: string;
  /** The engine's secret (>= 32 characters); default PRIVACY_SECRET, or a fixed demo value. */
  secret?: string;
  logger?: Logger;
}

export interface Crm {
  app: express.Express;
  engine: PrivacyEngine;
  dataSource: DataSource;
  close(): Promise<void>;
}

const DEMO_SECRET = 'example-crm-demo-secret-do-not-use-in-production-0123456789';

/** SQLite in memory by default; SQLITE_FILE for a file; DATABASE_URL (postgres://, mysql://, mariadb://) for a server. */
export function databaseFromEnv(env: NodeJS.ProcessEnv = process.env): DataSourceOptions {
  const url = env.DATABASE_URL;
  if (url) {
    const scheme = url.slice(0, url.indexOf(':'));
    if (scheme === 'postgres' || scheme === 'postgresql') return { type: 'postgres', url };
    if (scheme === 'mysql' || scheme === 'mariadb') return { type: scheme, url, timezone: 'Z', supportBigNumbers: true, bigNumberStrings: true };
    throw new Error(`DATABASE_URL: unsupported scheme '${scheme}' (use postgres://, mysql:// or mariadb://)`);
  }
  return { type: 'better-sqlite3', database: env.SQLITE_FILE || ':memory:' };
}

const publicDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

// The CRM's own pages: no inline script or style either.
function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
}

export async function createCrmApp(options: CrmOptions = {}): Promise<Crm> {
  const dataSource = new DataSource({ ...(options.database ?? databaseFromEnv()), entities: CRM_ENTITIES, synchronize: true } as DataSourceOptions);
  await dataSource.initialize();
  await seed(dataSource);

  const engine = new PrivacyEngine({
    dataSource,
    subject: Contact,
    tenantColumn: 'organizationId',
    secret: options.secret ?? process.env.PRIVACY_SECRET ?? DEMO_SECRET,
    storage: createLocalStorage({ directory: options.storageDirectory ?? path.join(os.tmpdir(), 'privacy-engine-example-crm') }),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  await engine.start();

  // Sessions die with the process unless SESSION_SECRET is set.
  const sessions = createSessions(process.env.SESSION_SECRET ?? randomBytes(32).toString('hex'));
  const contacts = dataSource.getRepository(Contact);

  const viewerOf = async (session: Session | undefined): Promise<Viewer | undefined> => {
    if (!session) return undefined;
    if (session.kind === 'staff') {
      const user = STAFF.find((u) => u.id === session.userId);
      return user && { kind: 'staff', label: `${user.name} (${user.roles.join(', ')})` };
    }
    const contact = await contacts.findOneBy({ id: session.contactId });
    return contact ? { kind: 'contact', label: `${contact.firstName} ${contact.lastName}` } : undefined;
  };

  const app = express();
  app.disable('x-powered-by');

  // ---- privacy-engine: the JSON API and the dashboard, for admins and for contacts (self-service) ----
  app.use(
    '/privacy',
    createPrivacyRouter(engine, {
      getActor: (req) => actorOf(sessions.read(req)),
      // Names for the dashboard and its confirmations; soft-deleted contacts too (restore needs a name).
      describeSubject: async (subject) => {
        const row = await contacts.findOne({ where: { id: Number(subject.id), organizationId: subject.tenantId ?? undefined }, withDeleted: true });
        if (!row) return undefined;
        // After an anonymize (or a purge of a deleted contact) the row holds pseudonyms: say so rather than show them as a name.
        if (row.email.endsWith('@redacted.invalid')) return { name: `Contact #${row.id} (${row.deletedAt ? 'erased' : 'anonymized'})` };
        return { name: `${row.firstName} ${row.lastName}${row.deletedAt ? ' (deleted)' : ''}` };
      },
    }),
  );

  app.use('/static', express.static(publicDir, { index: false, maxAge: 0 }));
  app.use(securityHeaders);

  const send = async (req: Request, res: Response, status: number, title: string, body: ReturnType<typeof messagePage>, scripts?: string[]) => {
    res.status(status).type('html').send(layout(title, await viewerOf(sessions.read(req)), body, scripts));
  };

  app.get('/', (req, res) => {
    const session = sessions.read(req);
    res.redirect(!session ? '/login' : session.kind === 'contact' ? '/me' : '/contacts');
  });

  app.get('/login', async (req, res) => {
    const list = await contacts.find({ relations: { company: true }, order: { organizationId: 'DESC', lastName: 'ASC' } });
    await send(req, res, 200, 'Sign in', loginPage(list));
  });

  app.post('/login', express.urlencoded({ extended: false, limit: '2kb' }), async (req, res) => {
    const [kind, id] = String(req.body?.user ?? '').split(':');
    if (kind === 'staff' && STAFF.some((u) => u.id === id)) {
      sessions.write(res, { kind: 'staff', userId: id }, req.secure);
      return res.redirect(303, '/contacts');
    }
    const contact = kind === 'contact' ? await contacts.findOneBy({ id: Number(id) }) : null;
    if (contact) {
      sessions.write(res, { kind: 'contact', contactId: contact.id, organizationId: contact.organizationId }, req.secure);
      return res.redirect(303, '/me');
    }
    res.redirect(303, '/login');
  });

  app.post('/logout', (_req, res) => {
    sessions.clear(res);
    res.redirect(303, '/login');
  });

  const staffOnly = (req: Request, res: Response, next: NextFunction) => {
    const session = sessions.read(req);
    if (session?.kind === 'staff') return next();
    if (!session) return res.redirect('/login');
    void send(req, res, 403, 'Not allowed', messagePage('Not allowed', 'This page is for staff.'));
  };
  const orgOf = (req: Request) => STAFF.find((u) => u.id === (sessions.read(req) as Extract<Session, { kind: 'staff' }>).userId)!.organizationId;

  app.get('/contacts', staffOnly, async (req, res) => {
    const list = await contacts.find({ where: { organizationId: orgOf(req) }, relations: { company: true }, order: { lastName: 'ASC' } });
    await send(req, res, 200, 'Contacts', contactsPage(orgOf(req), list));
  });

  app.get('/contacts/:id', staffOnly, async (req, res) => {
    const id = Number(req.params.id);
    const contact = Number.isSafeInteger(id) ? await contacts.findOne({ where: { id, organizationId: orgOf(req) }, relations: { company: true } }) : null;
    if (!contact) return send(req, res, 404, 'Not found', messagePage('Contact not found', 'This contact does not exist or was deleted.'));
    const m = dataSource.manager;
    const tickets = await m
      .getRepository(Ticket)
      .createQueryBuilder('t')
      .leftJoin('t.ccs', 'cc')
      .where('t.requesterId = :id OR cc.id = :id', { id })
      .orderBy('t.id')
      .getMany();
    const deals = await m.getRepository(Deal).find({ where: { primaryContact: { id } }, order: { id: 'ASC' } });
    const invoices = deals.length ? await m.getRepository(Invoice).find({ where: deals.map((d) => ({ deal: { id: d.id } })), order: { number: 'ASC' } }) : [];
    await send(
      req,
      res,
      200,
      `${contact.firstName} ${contact.lastName}`,
      contactPage({
        contact,
        company: contact.company ? await m.getRepository(Company).findOneBy({ id: contact.company.id }) : null,
        activities: await m.getRepository(Activity).find({ where: { contact: { id } }, order: { occurredAt: 'DESC' } }),
        tickets,
        deals,
        invoices,
        consents: await m.getRepository(Consent).find({ where: { contact: { id } }, order: { givenAt: 'ASC' } }),
      }),
      ['/static/privacy-client.js', '/static/crm.js'],
    );
  });

  app.get('/me', async (req, res) => {
    const session = sessions.read(req);
    if (session?.kind !== 'contact') return res.redirect('/login');
    const contact = await contacts.findOneBy({ id: session.contactId });
    if (!contact) return send(req, res, 404, 'Not found', messagePage('Not found', 'Your record no longer exists.'));
    await send(req, res, 200, 'Download my data', mePage(contact), ['/static/privacy-client.js', '/static/me.js']);
  });

  return {
    app,
    engine,
    dataSource,
    async close() {
      await engine.stop();
      await dataSource.destroy();
    },
  };
}
