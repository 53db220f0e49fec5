import { type CanActivate, Controller, type ExecutionContext, Inject, Injectable, Module, Post, Body, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import express from 'express';
import fc from 'fast-check';
import request from 'supertest';
import { Column, type DataSource, type DataSourceOptions, DeleteDateColumn, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { DataSubject, PersonalData, type PrivacyRequest, Redact, ValidationError, createMemoryStorage } from '../../src/index.js';
import { createTypeOrmQueue } from '../../src/adapters/typeorm-queue.js';
import { createPrivacyRouter } from '../../src/http/express.js';
import { type PrivacyHttpOptions, privacyRoutes } from '../../src/http/index.js';
import { PRIVACY_MODULE_OPTIONS, PrivacyEngine, PrivacyModule, type PrivacyModuleEngineOptions } from '../../src/http/nestjs.js';
import { type TestDatabase, describeEachDatabase } from '../support/databases.js';
import { createTestLogger } from '../support/test-logger.js';
import { describeEndpointCases } from './endpoint-cases.js';
import { isCleanErrorBody, listen, rawRequest } from './http-client.js';

// The shared HTTP contract (every endpoint, status and error body), run against the module's controller exactly as
// test/http/express.test.ts runs it against the Express router.
describeEndpointCases(
  'HTTP endpoints through PrivacyModule (NestJS 11 on Express)',
  async (engine, options, mountPath) => {
    const moduleRef = await Test.createTestingModule({ imports: [PrivacyModule.forRoot({ engine, http: { path: mountPath, ...options } })] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return { target: app.getHttpServer(), close: () => app.close() };
  },
  { only: ['sqlite', 'postgres'] },
);

const admin = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };
const SECRET = 'nestjs-module-secret-nestjs-module-secret-01';

/** Counts the note redactions and lets a test act at a given one (to shut the app down mid-request). */
const redaction = { calls: 0, onCall: undefined as ((calls: number) => void) | undefined };

@Entity('nest_person')
@DataSubject({ onErase: 'delete' })
class Person {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string;
  @Column({ type: 'varchar', length: 191 }) @Redact('email') email!: string;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('nest_note')
@Index(['person', 'id'])
@PersonalData({ category: 'notes', link: 'person', onErase: 'anonymize' })
class Note {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 })
  @Redact(() => {
    redaction.calls++;
    redaction.onCall?.(redaction.calls);
    return '[gone]';
  })
  body!: string;
  @ManyToOne(() => Person, { nullable: false }) person!: Person;
}

const entities = [Person, Note];

/** A host service that asks for the engine by its class, as application code does. */
@Injectable()
class ContactPrivacyService {
  constructor(@Inject(PrivacyEngine) readonly engine: PrivacyEngine) {}
}

@Module({ providers: [ContactPrivacyService], exports: [ContactPrivacyService] })
class ContactsModule {}

const CONFIG = 'APP_CONFIG';
@Module({ providers: [{ provide: CONFIG, useValue: { privacySecret: SECRET } }], exports: [CONFIG] })
class ConfigModule {}

type EngineOptions = Omit<PrivacyModuleEngineOptions, 'http'>;
const engineOptions = (extra: Partial<EngineOptions> = {}): EngineOptions => ({
  subject: Person,
  tenantColumn: 'organizationId',
  secret: SECRET,
  storage: createMemoryStorage(),
  policy: { batchSize: 2 },
  logger: createTestLogger(),
  ...extra,
});

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeEachDatabase(
  'PrivacyModule (NestJS)',
  (db: TestDatabase) => {
    let connection: DataSourceOptions;
    let ds: DataSource;
    const apps: INestApplication[] = [];

    beforeAll(async () => {
      connection = (await db.createDatabase()).options;
      ds = await db.createDataSource(entities);
    });
    beforeEach(() => Object.assign(redaction, { calls: 0, onCall: undefined }));
    afterEach(async () => {
      for (const app of apps.splice(0)) await app.close();
    });
    afterAll(async () => {
      for (const app of apps.splice(0)) await app.close();
    });

    /** Compiles a module with the given imports and initializes it as an application (lifecycle hooks included). */
    async function appWith(imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>, init = true): Promise<INestApplication> {
      const moduleRef = await Test.createTestingModule({ imports }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      apps.push(app);
      if (init) await app.init();
      return app;
    }

    const typeOrm = (name?: string) => TypeOrmModule.forRoot({ ...connection, ...(name ? { name } : {}), entities, synchronize: true, retryAttempts: 0 } as never);

    async function person(notes: number, source: DataSource = ds): Promise<Person> {
      const p = await source.getRepository(Person).save({ organizationId: 'org-a', email: `p${Math.random().toString(36).slice(2)}@mail.example` });
      await source.getRepository(Note).save(Array.from({ length: notes }, (_, i) => ({ body: `note ${i}`, person: p })));
      return p;
    }

    it('forRoot takes the DataSource of TypeOrmModule.forRoot() and provides the started engine to any module by its class', async () => {
      const app = await appWith([typeOrm(), PrivacyModule.forRoot(engineOptions()), ContactsModule]);
      const service = app.get(ContactPrivacyService);
      expect(service.engine).toBeInstanceOf(PrivacyEngine);
      expect(service.engine).toBe(app.get(PrivacyEngine));
      const source = app.get<DataSource>(getDataSourceToken());
      const p = await person(3, source);
      const request = await service.engine.export({ subjectId: p.id, actor: admin });
      expect((await service.engine.waitForRequest(request.id, { timeoutMs: 30_000, actor: service.engine.system })).status).toBe('completed');
      // The engine's tables live in the DataSource Nest manages.
      const [row] = await source.query(`SELECT COUNT(*) AS n FROM ${source.driver.escape('privacy_requests')}`);
      expect(Number(row.n)).toBe(1);
    });

    it('forRootAsync builds the options from injected providers; the DataSource comes from @nestjs/typeorm', async () => {
      const app = await appWith([
        typeOrm(),
        PrivacyModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: (config: { privacySecret: string }) => engineOptions({ secret: config.privacySecret }),
        }),
        ContactsModule,
      ]);
      const engine = app.get(ContactPrivacyService).engine;
      expect(app.get(PRIVACY_MODULE_OPTIONS).secret).toBe(SECRET);
      const p = await person(2, app.get<DataSource>(getDataSourceToken()));
      const request = await engine.anonymize({ subjectId: p.id, actor: admin });
      expect((await engine.waitForRequest(request.id, { timeoutMs: 30_000, actor: engine.system })).status).toBe('completed');
      expect(redaction.calls).toBe(2);
    });

    it('takes a named data source by its token, or a DataSource passed in the options', async () => {
      const named = await appWith([typeOrm('crm'), PrivacyModule.forRoot({ ...engineOptions(), dataSourceToken: getDataSourceToken('crm') })]);
      expect(named.get(PrivacyEngine).dataMap().entities.map((e) => e.name)).toEqual(expect.arrayContaining(['Person', 'Note']));

      const passed = await appWith([PrivacyModule.forRootAsync({ useFactory: () => engineOptions({ dataSource: ds }) })]);
      const engine = passed.get(PrivacyEngine);
      const p = await person(1);
      const request = await engine.export({ subjectId: p.id, actor: admin });
      expect((await engine.waitForRequest(request.id, { timeoutMs: 30_000, actor: engine.system })).status).toBe('completed');
    });

    it('refuses options it cannot run with: no DataSource anywhere, a weak secret, a bad factory', async () => {
      await expect(appWith([PrivacyModule.forRoot(engineOptions())])).rejects.toMatchObject({ code: 'VALIDATION', issues: [{ path: 'dataSource', message: expect.any(String) }] });
      await expect(appWith([PrivacyModule.forRoot(engineOptions({ dataSource: ds, secret: 'short' }))])).rejects.toBeInstanceOf(ValidationError);
      expect(() => PrivacyModule.forRootAsync({ useFactory: 'nope' as never })).toThrow(ValidationError);
      expect(() => PrivacyModule.forRoot({ ...engineOptions(), isGlobal: 'yes' as never })).toThrow(/isGlobal/);
    });

    it('starts the engine on application bootstrap, not before', async () => {
      const app = await appWith([PrivacyModule.forRoot(engineOptions({ dataSource: ds }))], false);
      const engine = app.get(PrivacyEngine);
      expect(() => engine.dataMap()).toThrow();
      await app.init();
      expect(engine.dataMap().subject.entity).toBe('Person');
    });

    it('app.close() waits for a running erasure to finish before the application shuts down', async () => {
      const app = await appWith([PrivacyModule.forRoot(engineOptions({ dataSource: ds }))]);
      const engine = app.get(PrivacyEngine);
      const p = await person(12);
      let closing: Promise<void> | undefined;
      let closed = false;
      let completedBeforeClosed: boolean | undefined;
      engine.on('completed', () => {
        completedBeforeClosed = !closed;
      });
      redaction.onCall = (calls) => {
        // 3 of 12 rows redacted: the request is mid-way when the application is asked to close.
        if (calls === 3) closing = app.close().then(() => void (closed = true));
      };
      const request = await engine.anonymize({ subjectId: p.id, actor: admin });
      await until(() => closing !== undefined);
      await closing;
      apps.splice(apps.indexOf(app), 1);
      expect(completedBeforeClosed).toBe(true);
      expect((await readRequest(request.id)).status).toBe('completed');
      expect(redaction.calls).toBe(12);
    });

    it('with interruptOnShutdown, app.close() returns after the current batch; the next application resumes the request and finishes it, each row once', async () => {
      const app = await appWith([PrivacyModule.forRoot(engineOptions({ dataSource: ds, interruptOnShutdown: true }))]);
      const p = await person(12);
      let closing: Promise<void> | undefined;
      redaction.onCall = (calls) => {
        if (calls === 3) closing = app.close();
      };
      const request = await app.get(PrivacyEngine).anonymize({ subjectId: p.id, actor: admin });
      await until(() => closing !== undefined);
      await closing;
      apps.splice(apps.indexOf(app), 1);
      redaction.onCall = undefined;
      const handedBack = await readRequest(request.id);
      expect(handedBack.status).toBe('running');
      expect(handedBack.progress.done).toBeGreaterThan(0);
      expect(handedBack.progress.done).toBeLessThan(handedBack.progress.total);

      const next = await appWith([PrivacyModule.forRoot(engineOptions({ dataSource: ds }))]);
      expect((await next.get(PrivacyEngine).waitForRequest(request.id, { timeoutMs: 60_000, actor: next.get(PrivacyEngine).system })).status).toBe('completed');
      expect(redaction.calls).toBe(12);
      expect(await ds.getRepository(Note).count({ where: { person: { id: p.id }, body: '[gone]' } })).toBe(12);
    });

    it('worker: false submits requests without running them; a worker application runs them', async () => {
      const queue = () => createTypeOrmQueue({ dataSource: ds, pollIntervalMs: 20 });
      const api = await appWith([PrivacyModule.forRoot(engineOptions({ dataSource: ds, worker: false, queue: queue() }))]);
      const p = await person(2);
      const request = await api.get(PrivacyEngine).anonymize({ subjectId: p.id, actor: admin });
      const jobs = await ds.query(`SELECT ${ds.driver.escape('status')} AS status FROM ${ds.driver.escape('privacy_jobs')} WHERE ${ds.driver.escape('request_id')} = '${request.id}'`);
      expect(jobs).toEqual([{ status: 'waiting' }]);
      expect(redaction.calls).toBe(0);

      await appWith([PrivacyModule.forRoot(engineOptions({ dataSource: ds, queue: queue() }))]);
      expect((await api.get(PrivacyEngine).waitForRequest(request.id, { timeoutMs: 30_000, actor: api.get(PrivacyEngine).system })).status).toBe('completed');
      expect(redaction.calls).toBe(2);
    });

    it('serves the endpoints under http.path, below a global prefix, with the actor from request.user as a guard sets it', async () => {
      /** Stands for Passport's AuthGuard: sets request.user from the bearer token, or refuses. */
      @Injectable()
      class BearerGuard implements CanActivate {
        canActivate(context: ExecutionContext): boolean {
          const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: unknown }>();
          if (req.headers.authorization !== 'Bearer dpo') return false;
          // Extra fields (an email) must not reach the actor; a numeric id becomes a string.
          req.user = { id: 7, roles: ['admin'], tenantId: 'org-a', email: 'dpo@example.com' };
          return true;
        }
      }
      const moduleRef = await Test.createTestingModule({ imports: [PrivacyModule.forRoot({ ...engineOptions({ dataSource: ds }), http: { path: 'privacy', guards: [BearerGuard] } })] }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      apps.push(app);
      app.setGlobalPrefix('api');
      await app.init();
      const server = app.getHttpServer();

      const session = await request(server).get('/api/privacy/session').set('Authorization', 'Bearer dpo');
      expect(session.status).toBe(200);
      expect(session.body.actor).toEqual({ id: '7', roles: ['admin'], tenantId: 'org-a' });
      expect(session.headers['set-cookie'][0]).toMatch(/^privacy_csrf=[^;]+; Path=\/api\/privacy; SameSite=Strict$/);
      expect((await request(server).get('/api/privacy/session')).status).toBe(403); // the guard's refusal, Nest's own answer

      const p = await person(1);
      const accepted = await request(server).post(`/api/privacy/subjects/${p.id}/export`).set('Authorization', 'Bearer dpo').send({});
      expect(accepted.status).toBe(202);
      expect(accepted.body.request).toMatchObject({ type: 'export', requestedBy: '7' });
      await app.get(PrivacyEngine).waitForRequest(accepted.body.request.id, { timeoutMs: 30_000, actor: app.get(PrivacyEngine).system });
    });

    it('without a user on the request, the endpoints answer 401 with the contract body; getActor from the factory wins over request.user', async () => {
      const anonymous = await appWith([PrivacyModule.forRoot({ ...engineOptions({ dataSource: ds }), http: { path: 'privacy' } })]);
      const refused = await request(anonymous.getHttpServer()).get('/privacy/requests');
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('UNAUTHENTICATED');
      expect(isCleanErrorBody(refused.body)).toBe(true);

      const fromFactory = await appWith([
        PrivacyModule.forRootAsync({
          http: { path: 'dsr' },
          useFactory: () => ({ ...engineOptions({ dataSource: ds }), http: { getActor: () => ({ id: 'from-factory', roles: ['admin'], tenantId: 'org-a' }), csrf: false } }),
        }),
      ]);
      const session = await request(fromFactory.getHttpServer()).get('/dsr/session');
      expect(session.status).toBe(200);
      expect(session.body.actor.id).toBe('from-factory');
      const dashboard = await request(fromFactory.getHttpServer()).get('/dsr/dashboard');
      expect(dashboard.status).toBe(200);
      expect(dashboard.headers['content-type']).toMatch(/^text\/html/);
    });

    it("leaves the host's own routes as Nest made them (JSON bodies parsed, Nest's errors) and the privacy path to the core", async () => {
      @Controller('notes')
      class NotesController {
        @Post()
        create(@Body() body: { text?: string }): { received: string | undefined } {
          return { received: body?.text };
        }
      }
      @Module({ controllers: [NotesController] })
      class NotesModule {}
      const app = await appWith([PrivacyModule.forRoot({ ...engineOptions({ dataSource: ds }), http: { path: '/admin/privacy/', getActor: () => ({ id: 'dpo', roles: ['admin'], tenantId: 'org-a' }) } }), NotesModule]);
      const server = app.getHttpServer();
      expect((await request(server).post('/notes').send({ text: 'hello' })).body).toEqual({ received: 'hello' });
      const malformed = await request(server).post('/notes').set('Content-Type', 'application/json').send('{"text":');
      expect(malformed.status).toBe(400);
      expect(malformed.body.statusCode).toBe(400); // Nest's error shape, not the privacy routes'
      const ours = await request(server).post('/admin/privacy/subjects/1/export').set('Content-Type', 'application/json').set('Authorization', 'Bearer x').send('{"regulation":');
      expect(ours.status).toBe(400);
      expect(ours.body.error).toMatchObject({ code: 'VALIDATION', issues: [{ path: '(body)' }] });
    });

    it('refuses http options it cannot serve: a path with a pattern, a guard that is not one, an unknown option', async () => {
      for (const path of ['privacy/:id', '', '/', 'privacy/../admin', 'privacy/*']) {
        expect(() => PrivacyModule.forRoot({ ...engineOptions({ dataSource: ds }), http: { path } })).toThrow(/http\.path/);
      }
      expect(() => PrivacyModule.forRoot({ ...engineOptions({ dataSource: ds }), http: { path: '/admin/privacy.v2/' } })).not.toThrow();
      expect(() => PrivacyModule.forRoot({ ...engineOptions({ dataSource: ds }), http: { path: 'privacy', guards: [42 as never] } })).toThrow(/guards/);
      await expect(appWith([PrivacyModule.forRoot({ ...engineOptions({ dataSource: ds }), http: { path: 'privacy', colour: 'blue' } as never })])).rejects.toThrow(/colour/);
    });

    /** Reads a request through a fresh engine on the test's DataSource (the app's engine may be stopped). */
    async function readRequest(id: string): Promise<PrivacyRequest> {
      const reader = new PrivacyEngine({ ...engineOptions(), dataSource: ds, worker: false, queue: createTypeOrmQueue({ dataSource: ds }) });
      await reader.start();
      try {
        return await reader.getRequest(id, reader.system);
      } finally {
        await reader.stop();
      }
    }
  },
  { only: ['sqlite', 'postgres'] },
);

// The same requests to the Express router and to the module's controller, on one engine: whatever the path (bad
// percent-encoding, dot segments, empty segments, long runs), query, body or content type, both answer alike.
// Bodies never pass validation, so nothing is created and the two apps see the same state.
const segment = fc.oneof(
  fc.constantFrom('', '.', '..', '%', '%zz', '%E0%A4%A', '%00', '%2F', '%2e%2e', 'requests', 'subjects', 'me', 'export', 'download', 'dashboard', 'app.js', 'session', 'audit', '1', '-1'),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.uuid(),
);
const anyMethod = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
/** A real route (mostly with its own method, its parameters fuzzed: a subject id that exists, sometimes), or any path. */
const target = fc.oneof(
  fc.constantFrom(...privacyRoutes).chain((route) =>
    fc.record({
      method: fc.oneof({ weight: 4, arbitrary: fc.constant<string>(route.method) }, { weight: 1, arbitrary: anyMethod }),
      path: fc
        .tuple(...route.path.split('/').slice(1).map((part) => (part.startsWith(':') ? fc.oneof(fc.constant('1'), segment) : fc.constant(part))))
        .map((parts) => `/${parts.join('/')}`),
    }),
  ),
  fc.record({ method: anyMethod, path: fc.array(segment, { minLength: 0, maxLength: 5 }).map((parts) => `/${parts.join('/')}`) }),
);
const fuzzed = fc.record({
  target,
  query: fc.constantFrom('', '?', '?limit=%', '?status=queued', '?status=done', '?a[b]=c', '?status=queued&status=failed', '?format=csv'),
  body: fc.constantFrom<Array<string | Buffer | undefined>>(undefined, '{', '{"unknown":1}', '[]', 'regulation=gdpr', Buffer.from([0x7b, 0xff, 0x7d]), `{"reason":"${'x'.repeat(120 * 1024)}"}`),
  contentType: fc.constantFrom(undefined, 'application/json', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded'),
});

describeEachDatabase(
  'PrivacyModule answers as the Express router does (differential fuzz)',
  (db) => {
    let engine: PrivacyEngine;
    let viaExpress: Awaited<ReturnType<typeof listen>>;
    let viaNest: Awaited<ReturnType<typeof listen>>;
    beforeAll(async () => {
      const dataSource = await db.createDataSource(entities);
      const p = await dataSource.getRepository(Person).save({ organizationId: 'org-a', email: 'fuzz@mail.example' });
      await dataSource.getRepository(Note).save({ body: 'note', person: p });
      engine = new PrivacyEngine({ ...engineOptions(), dataSource });
      await engine.start();
      const options: PrivacyHttpOptions<{ headers: Record<string, string | string[] | undefined> }> = {
        getActor: (req) => (req.headers.authorization === 'Bearer dpo' ? admin : undefined),
        csrf: false,
      };
      const app = express();
      app.use('/privacy', createPrivacyRouter(engine, options));
      viaExpress = await listen(app);
      const moduleRef = await Test.createTestingModule({ imports: [PrivacyModule.forRoot({ engine, http: { path: 'privacy', ...options } })] }).compile();
      const nest = moduleRef.createNestApplication({ logger: false });
      await nest.init();
      viaNest = await listen(nest.getHttpServer(), () => nest.close());
    });
    afterAll(async () => {
      await viaExpress?.close();
      await viaNest?.close();
      await engine?.stop();
    });

    it('the same status, error code and content type for every fuzzed request', async () => {
      const seen = new Set<number>();
      await fc.assert(
        fc.asyncProperty(fuzzed, async ({ target: { method, path }, query, body, contentType }) => {
          const headers: Record<string, string> = { Authorization: 'Bearer dpo' };
          if (contentType !== undefined) headers['Content-Type'] = contentType;
          const input = { method, path: `/privacy${path}${query}`, headers, chunks: body === undefined ? [] : [body] };
          const [expected, actual] = [await rawRequest(viaExpress.url, input), await rawRequest(viaNest.url, input)];
          const shape = (r: typeof expected) => ({ status: r.status, code: r.json?.error?.code, type: String(r.headers['content-type']).split(';')[0] });
          expect(shape(actual)).toEqual(shape(expected));
          if (actual.status >= 400) expect(isCleanErrorBody(actual.json)).toBe(true);
          seen.add(actual.status);
        }),
        { numRuns: 150 },
      );
      // The runs reached past routing into validation, not only 404s.
      expect([...seen]).toEqual(expect.arrayContaining([200, 400, 404, 405]));
    });
  },
  { only: ['sqlite'] },
);
