import { Column, type DataSource, DeleteDateColumn, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import {
  ConflictError,
  DataSubject,
  LeaseLostError,
  PersonalData,
  PrivacyEngine,
  Redact,
  type StoragePort,
  createMemoryStorage,
  type Actor,
  type PrivacyRequest,
} from '../src/index.js';
import { RequestStore } from '../src/db/request-store.js';
import { Vault } from '../src/vault/vault.js';
import { createSecretKeys } from '../src/adapters/secret-keys.js';
import { saveCheckpoint } from '../src/operations/operation-context.js';
import { describeEachDatabase } from './support/databases.js';
import { idleQueue } from './support/idle-queue.js';
import { dumpTables } from './support/table-dump.js';

const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };
const SECRET = 'lifecycle-secret-lifecycle-secret-lifecycle-1';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The note redaction: calls `onCall` with its call count when set, and from its `failAt`-th call on it throws
 * `failures` times an error carrying the driver code `failCode` (none: a permanent failure).
 */
const redaction = { calls: 0, onCall: undefined as ((calls: number) => void) | undefined, failAt: 0, failures: 0, failCode: undefined as string | undefined };

@Entity('lc_person')
@DataSubject({ onErase: 'delete' })
class Person {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string;
  @Column({ type: 'varchar', length: 191 }) @Redact('email') email!: string;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('lc_note')
@Index(['person', 'id'])
@PersonalData({ category: 'notes', link: 'person', onErase: 'anonymize' })
class Note {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 })
  @Redact(() => {
    redaction.calls++;
    redaction.onCall?.(redaction.calls);
    if (redaction.failAt && redaction.calls >= redaction.failAt && redaction.failures > 0) {
      redaction.failures--;
      throw Object.assign(new Error('redaction store unavailable'), redaction.failCode ? { code: redaction.failCode } : {});
    }
    return '[gone]';
  })
  body!: string;
  @ManyToOne(() => Person, { nullable: false }) person!: Person;
}

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}


describeEachDatabase('request lifecycle: leases, cancel, retries of transient failures', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  const engines: PrivacyEngine[] = [];

  const newEngine = (extra: Partial<ConstructorParameters<typeof PrivacyEngine>[0]> = {}) => {
    const e = new PrivacyEngine({
      dataSource: ds,
      subject: Person,
      tenantColumn: 'organizationId',
      secret: SECRET,
      storage: createMemoryStorage(),
      policy: { batchSize: 2, retries: 3, retryBackoffMs: 5 },
      logger: quiet,
      ...extra,
    });
    engines.push(e);
    return e;
  };

  beforeAll(async () => {
    ds = await db.createDataSource([Person, Note]);
    engine = newEngine();
    await engine.start();
  });
  afterAll(async () => {
    for (const e of engines) await e.stop();
  });
  beforeEach(() => Object.assign(redaction, { calls: 0, onCall: undefined, failAt: 0, failures: 0, failCode: undefined }));

  async function person(notes: number): Promise<Person> {
    const p = await ds.getRepository(Person).save({ organizationId: 'org-a', email: `p${Math.random().toString(36).slice(2)}@mail.example` });
    await ds.getRepository(Note).save(Array.from({ length: notes }, (_, i) => ({ body: `note ${i}`, person: p })));
    return p;
  }
  const finished = (r: PrivacyRequest) => engine.waitForRequest(r.id, { actor: engine.system, timeoutMs: 60_000 });

  it('a running request is claimed under a lease: a second claim is refused until it expires, and a checkpoint of the worker that lost it is rolled back with its batch', async () => {
    const idle = newEngine({ queue: idleQueue });
    await idle.start();
    const p = await person(1);
    const request = await idle.anonymize({ subjectId: p.id, actor: admin });
    const store = new RequestStore(ds, 'privacy_requests');
    const first = await store.claim(request.id, 'worker-a', Date.now(), 60_000, Date.now());
    expect(first?.leaseOwner).toBe('worker-a');
    expect(await store.claim(request.id, 'worker-b', Date.now(), 60_000, Date.now())).toBeNull();
    expect(await store.renewLease(request.id, 'worker-b', Date.now(), 60_000)).toBe(false);
    // Once worker-a's lease has expired (seen from a minute later), worker-b takes over.
    const taken = await store.claim(request.id, 'worker-b', Date.now() + 61_000, 60_000, Date.now());
    expect(taken?.leaseOwner).toBe('worker-b');
    expect(await store.renewLease(request.id, 'worker-a', Date.now(), 60_000)).toBe(false);

    // worker-a still thinks it runs the request: its next batch writes a vault entry and moves the checkpoint.
    const vault = new Vault(ds, 'privacy_vault', createSecretKeys({ secret: SECRET }));
    const ctx = { store, request: first!, leaseOwner: 'worker-a', now: () => new Date() } as unknown as Parameters<typeof saveCheckpoint>[0];
    const batch = ds.transaction(async (tx) => {
      await vault.append(tx, request.id, 1, 'digest', { stale: true }, Date.now());
      await saveCheckpoint(ctx, tx, { seq: 1 });
    });
    await expect(batch).rejects.toBeInstanceOf(LeaseLostError);
    const q = (n: string) => ds.driver.escape(n);
    const [{ n }] = await ds.query(`SELECT COUNT(*) AS n FROM ${q('privacy_vault')} WHERE ${q('request_id')} = '${request.id}'`);
    expect(Number(n)).toBe(0);
    expect((await store.get(request.id))?.body.checkpoint).toBeUndefined();

    // The vault refuses a second entry of the same (request, kind, seq).
    await ds.transaction((tx) => vault.append(tx, request.id, 1, 'digest', { first: true }, Date.now()));
    await expect(ds.transaction((tx) => vault.append(tx, request.id, 1, 'digest', { again: true }, Date.now()))).rejects.toThrow();
    expect(await idle.cancel({ requestId: request.id, actor: admin }).then((r) => r.status)).toBe('cancelled');
  });

  it('cancel stops a running erasure within a batch, records its end and releases the subject; what it did stays restorable', async () => {
    const p = await person(40);
    const before = await dumpTables(ds);
    // Cancelled while its third batch is being redacted (synchronously there: SQLite's driver never yields to timers).
    let asked: Promise<PrivacyRequest> | undefined;
    redaction.onCall = (calls) => {
      if (calls === 5) asked = engine.cancel({ requestId: request.id, actor: admin });
    };
    const request = await engine.anonymize({ subjectId: p.id, actor: admin });
    const ended = await finished(request);
    expect((await asked!).status).toBe('cancelled');
    expect(ended.status).toBe('cancelled');
    expect(ended.finishedAt).toBeDefined();
    expect(ended.progress.done).toBeGreaterThan(0);
    expect(ended.progress.done).toBeLessThan(41);
    // It no longer holds the subject's erasure slot: a restore of it can be asked for, and puts everything back.
    const restore = await engine.restore({ requestId: request.id, actor: admin });
    expect((await finished(restore)).status).toBe('completed');
    expect(await dumpTables(ds)).toEqual(before);
    await expect(engine.cancel({ requestId: request.id, actor: admin })).rejects.toBeInstanceOf(ConflictError);
    await expect(engine.cancel({ requestId: restore.id, actor: admin })).rejects.toMatchObject({ code: 'CONFLICT', details: { status: 'completed' } });
  });

  it('stop({ interrupt: true }) ends a running erasure after its current batch and hands it back; the next engine resumes it, each row once', async () => {
    const p = await person(40);
    const worker = newEngine();
    await worker.start();
    let stopping: Promise<void> | undefined;
    redaction.onCall = (calls) => {
      if (calls === 5) stopping = worker.stop({ interrupt: true });
    };
    const request = await worker.anonymize({ subjectId: p.id, actor: admin });
    await until(() => stopping !== undefined);
    await stopping;
    redaction.onCall = undefined;
    const handedBack = await engine.getRequest(request.id, engine.system);
    expect(handedBack.status).toBe('running');
    expect(handedBack.progress.done).toBeGreaterThan(0);
    expect(handedBack.progress.done).toBeLessThan(41);
    const [row] = await ds.query(`SELECT ${ds.driver.escape('lease_owner')} AS owner FROM ${ds.driver.escape('privacy_requests')} WHERE ${ds.driver.escape('id')} = ${db.kind === 'postgres' ? '$1' : '?'}`, [request.id]);
    expect(row.owner).toBeNull(); // handed back at once: no waiting for the lease to expire

    const next = newEngine();
    await next.start(); // offers unfinished requests to its queue
    expect((await next.waitForRequest(request.id, { actor: next.system, timeoutMs: 60_000 })).status).toBe('completed');
    expect(redaction.calls).toBe(40); // no batch ran twice
    expect(await ds.getRepository(Note).count({ where: { person: { id: p.id }, body: '[gone]' } })).toBe(40);
  });

  it('a queued request is cancelled at once, and never runs', async () => {
    const idle = newEngine({ queue: idleQueue });
    await idle.start();
    const p = await person(1);
    const request = await idle.anonymize({ subjectId: p.id, actor: admin });
    const cancelled = await idle.cancel({ requestId: request.id, actor: admin });
    expect(cancelled).toMatchObject({ status: 'cancelled', finishedAt: expect.any(String) });
    const other = newEngine();
    await other.start();
    expect((await other.waitForRequest(request.id, { actor: other.system })).status).toBe('cancelled');
    expect(redaction.calls).toBe(0);
    await expect(idle.cancel({ requestId: request.id, actor: { id: 'x', roles: ['admin'], tenantId: 'org-b' } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a transient failure (serialization failure, deadlock) is retried from the checkpoint and the request completes, each row once', async () => {
    for (const failCode of ['40001', 'ER_LOCK_DEADLOCK']) {
      const p = await person(9);
      Object.assign(redaction, { calls: 0, failAt: 5, failures: 2, failCode });
      const done = await finished(await engine.anonymize({ subjectId: p.id, actor: admin }));
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      expect((done.outcome as { receipt: { entities: Record<string, { rows: number }> } }).receipt.entities.Note.rows).toBe(9);
      const notes = await ds.getRepository(Note).find({ where: { person: { id: p.id } } });
      expect(notes.map((n) => n.body)).toEqual(Array(9).fill('[gone]'));
    }
  });

  it('a transient failure that outlasts policy.retries, or a permanent one, fails the request with its reason', async () => {
    const p = await person(3);
    Object.assign(redaction, { calls: 0, failAt: 1, failures: 100, failCode: '40P01' });
    const failed = await finished(await engine.anonymize({ subjectId: p.id, actor: admin }));
    expect(failed.status).toBe('failed');
    expect(redaction.calls).toBe(4); // the first run and three retries
    expect(failed.error?.message).toMatch(/Step 'redact' failed on Note\.body \(Error 40P01\)/);

    const q = await person(3);
    Object.assign(redaction, { calls: 0, failAt: 1, failures: 100, failCode: undefined });
    const permanent = await finished(await engine.anonymize({ subjectId: q.id, actor: admin }));
    expect(permanent.status).toBe('failed');
    expect(redaction.calls).toBe(1);
  });

  it('a failed export says "Data export failed. Please retry" and where it failed', async () => {
    const broken: StoragePort = { ...createMemoryStorage(), name: 'broken', put: async () => Promise.reject(new Error('disk full')) };
    const e = newEngine({ storage: broken });
    await e.start();
    const p = await person(1);
    const done = await e.waitForRequest((await e.export({ subjectId: p.id, actor: admin })).id, { actor: e.system });
    expect(done.status).toBe('failed');
    expect(done.error?.message).toMatch(/^Data export failed\. Please retry\. /);
  });

  it('extendDeadline moves dueAt and records the extension, up to two more months (GDPR) or 45 days (CCPA); not for a finished request', async () => {
    const idle = newEngine({ queue: idleQueue });
    await idle.start();
    const DAY = 24 * 60 * 60 * 1000;
    const gdpr = await idle.export({ subjectId: (await person(1)).id, actor: admin });
    const once = await idle.extendDeadline({ requestId: gdpr.id, actor: admin, days: 30, reason: 'complex request' });
    expect(Date.parse(once.dueAt) - Date.parse(gdpr.dueAt)).toBe(30 * DAY);
    expect(once.deadlineExtensions).toEqual([{ days: 30, reason: 'complex request', by: admin.id, at: expect.any(String) }]);
    const twice = await idle.extendDeadline({ requestId: gdpr.id, actor: admin, days: 30, reason: 'many requests' });
    expect(Date.parse(twice.dueAt) - Date.parse(gdpr.dueAt)).toBe(60 * DAY);
    await expect(idle.extendDeadline({ requestId: gdpr.id, actor: admin, days: 1, reason: 'more' })).rejects.toMatchObject({ code: 'VALIDATION' });
    expect((await idle.getRequest(gdpr.id, idle.system)).deadlineExtensions).toHaveLength(2);

    const ccpa = await idle.export({ subjectId: (await person(1)).id, actor: admin, regulation: 'ccpa' });
    await expect(idle.extendDeadline({ requestId: ccpa.id, actor: admin, days: 46, reason: 'x' })).rejects.toMatchObject({ code: 'VALIDATION' });
    expect((await idle.extendDeadline({ requestId: ccpa.id, actor: admin, days: 45, reason: 'x' })).deadlineExtensions).toHaveLength(1);
    await expect(idle.extendDeadline({ requestId: ccpa.id, actor: { id: 'someone', roles: [], tenantId: 'org-a' }, days: 1, reason: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });

    await idle.cancel({ requestId: ccpa.id, actor: admin });
    await expect(idle.extendDeadline({ requestId: ccpa.id, actor: admin, days: 1, reason: 'x' })).rejects.toBeInstanceOf(ConflictError);
    await idle.cancel({ requestId: gdpr.id, actor: admin });
  });

  it('listRequestsPage filters by tenant, status, type, subject and overdue, pages with a cursor, and shows an actor only what it may read; every read call without an actor is a ValidationError', async () => {
    let offset = 0;
    const DAY = 24 * 60 * 60 * 1000;
    const e = newEngine({ queue: idleQueue, tablePrefix: 'lst_', clock: { now: () => new Date(Date.now() + offset) } });
    await e.start();
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await e.export({ subjectId: (await person(0)).id, actor: admin })).id);
    const b = await ds.getRepository(Person).save({ organizationId: 'org-b', email: 'b@mail.example' });
    const adminB = { id: 'dpo-b', roles: ['admin'], tenantId: 'org-b' };
    const other = await e.anonymize({ subjectId: b.id, actor: adminB });
    await e.cancel({ requestId: mine[0], actor: admin });

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await e.listRequestsPage({ limit: 2, cursor, actor: e.system });
      pages.push(page.requests.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    // Newest first (requests of one millisecond by id), each once, over three pages.
    const all = await e.listRequests({ actor: e.system });
    expect(all.map((r) => r.id).sort()).toEqual([other.id, ...mine].sort());
    expect(all.map((r) => Date.parse(r.createdAt))).toEqual(all.map((r) => Date.parse(r.createdAt)).sort((x, y) => y - x));
    expect(pages.flat()).toEqual(all.map((r) => r.id));
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2]);

    expect((await e.listRequests({ actor: admin })).map((r) => r.id).sort()).toEqual([...mine].sort());
    expect((await e.listRequests({ actor: adminB })).map((r) => r.id)).toEqual([other.id]);
    expect(await e.listRequests({ actor: admin, tenantId: 'org-b' })).toEqual([]);
    expect((await e.listRequests({ actor: e.system, type: 'anonymize' })).map((r) => r.id)).toEqual([other.id]);
    expect((await e.listRequests({ actor: e.system, status: 'cancelled' })).map((r) => r.id)).toEqual([mine[0]]);
    expect((await e.listRequests({ actor: e.system, subjectId: b.id, tenantId: 'org-b' })).map((r) => r.id)).toEqual([other.id]);
    expect(await e.listRequests({ actor: e.system, overdue: true })).toEqual([]);
    offset = 31 * DAY;
    expect((await e.listRequests({ actor: e.system, overdue: true })).map((r) => r.id).sort()).toEqual([other.id, ...mine.slice(1)].sort());
    await expect(e.listRequests({ actor: e.system, cursor: 'nonsense' })).rejects.toMatchObject({ code: 'VALIDATION' });

    // The read calls: an actor is authorized, engine.system reads any request.
    expect((await e.getRequest(other.id, e.system)).id).toBe(other.id);
    await expect(e.getRequest(other.id, admin)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(e.waitForRequest(other.id, { actor: admin, timeoutMs: 100 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await e.waitForRequest(mine[0], { actor: admin })).status).toBe('cancelled');
    // No reader at all is refused, typed, before anything is read: a forgotten actor never lists every tenant.
    const missing = { name: 'ValidationError', code: 'VALIDATION', message: expect.stringContaining('Missing actor: pass the actor reading on whose behalf, or engine.system') };
    const untyped = e as unknown as { getRequest(id: string): Promise<unknown>; listRequests(f?: object): Promise<unknown>; listRequestsPage(f?: object): Promise<unknown>; waitForRequest(id: string, o?: object): Promise<unknown> };
    await expect(untyped.getRequest(other.id)).rejects.toMatchObject(missing);
    await expect(untyped.listRequests()).rejects.toMatchObject(missing);
    await expect(untyped.listRequests({ status: 'queued' })).rejects.toMatchObject(missing);
    await expect(untyped.listRequestsPage({ limit: 1 })).rejects.toMatchObject(missing);
    await expect(untyped.waitForRequest(other.id)).rejects.toMatchObject(missing);
    await expect(untyped.waitForRequest(other.id, { timeoutMs: 100 })).rejects.toMatchObject(missing);
    for (const id of [other.id, ...mine.slice(1)]) await e.cancel({ requestId: id, actor: id === other.id ? adminB : admin });
  });
});
