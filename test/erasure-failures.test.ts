import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Column, type DataSource, DeleteDateColumn, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { DataSubject, PersonalData, PrivacyEngine, Redact, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { idleQueue } from './support/idle-queue.js';
import { allTextValues, dumpTables } from './support/table-dump.js';

const DAY = 24 * 60 * 60 * 1000;
const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };

/** The custom redaction throws from its `failAt`-th call on (0: never), like a redaction service going down. */
const redaction = { calls: 0, failAt: 0 };

@Entity('ef_person')
@DataSubject({ onErase: 'delete' })
class Person {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('ef_note')
@Index(['person', 'id'])
@PersonalData({ category: 'notes', link: 'person', onErase: 'anonymize' })
class Note {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 })
  @Redact(() => {
    redaction.calls++;
    if (redaction.failAt && redaction.calls >= redaction.failAt) throw new Error('redaction service unavailable');
    return '[gone]';
  })
  body!: string;
  @ManyToOne(() => Person, { nullable: false }) person!: Person;
}

describeEachDatabase('failed erasures: resumable, restorable, purgeable', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let offset = 0;

  beforeAll(async () => {
    ds = await db.createDataSource([Person, Note]);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Person,
      tenantColumn: 'organizationId',
      secret: 'failures-secret-failures-secret-failures-secret',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-failures-')) }),
      clock: { now: () => new Date(Date.now() + offset) },
      policy: { batchSize: 2, recoveryWindowDays: 30 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
  });
  beforeEach(() => {
    offset = 0;
    redaction.calls = 0;
    redaction.failAt = 0;
  });
  afterAll(async () => engine?.stop());

  async function seed(token: string, notes = 7): Promise<Person> {
    const person = await ds.getRepository(Person).save({ organizationId: 'org-a', email: `${token}@mail.example` });
    await ds.getRepository(Note).save(Array.from({ length: notes }, (_, i) => ({ body: `note ${i} of ${token}`, person })));
    return person;
  }

  async function finish(request: Promise<PrivacyRequest>, status: PrivacyRequest['status'] = 'completed'): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.status).toBe(status);
    return done;
  }

  /** Anonymizes with the redaction failing on its 5th call: two batches of two notes commit, the third fails. */
  async function failedAnonymize(person: Person): Promise<PrivacyRequest> {
    redaction.calls = 0;
    redaction.failAt = 5;
    const failed = await finish(engine.anonymize({ subjectId: person.id, actor: admin }), 'failed');
    redaction.failAt = 0;
    const bodies = (await ds.getRepository(Note).find({ where: { person: { id: person.id } }, order: { id: 'ASC' } })).map((n) => n.body);
    expect(bodies.filter((b) => b === '[gone]')).toHaveLength(4);
    return failed;
  }

  it('restores what a failed anonymize committed, byte for byte', async () => {
    const person = await seed('tokfailA1');
    const before = await dumpTables(ds);
    const failed = await failedAnonymize(person);
    expect(failed.error?.code).toBe('INTERNAL');
    const restore = await finish(engine.restore({ requestId: failed.id, actor: admin }));
    expect((restore.outcome as any).restored).toEqual({ Note: 4 });
    expect(await dumpTables(ds)).toEqual(before);
  });

  it('retry resumes a failed anonymize from its last committed batch and completes it; no row is redacted twice', async () => {
    const person = await seed('tokfailB2');
    const before = await dumpTables(ds);
    const failed = await failedAnonymize(person);
    const queued = await engine.retry({ requestId: failed.id, actor: admin });
    expect(queued).toMatchObject({ id: failed.id, status: 'queued' });
    expect(queued.error).toBeUndefined();
    const done = await finish(Promise.resolve(queued));
    const { receipt } = done.outcome as any;
    expect(receipt.entities.Note).toMatchObject({ rows: 7 });
    expect(receipt.entities.Person).toMatchObject({ rows: 1 });
    expect(receipt.verification.passed).toBe(true);
    expect((await ds.getRepository(Note).find({ where: { person: { id: person.id } } })).every((n) => n.body === '[gone]')).toBe(true);
    // Had a batch been redacted twice, the vault would hold '[gone]' as its original.
    await finish(engine.restore({ requestId: done.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(before);
  });

  it('purges a failed anonymize on demand before its window with force, and by purgeExpired once the window from finishedAt has ended', async () => {
    const forced = await seed('tokfailC3');
    const failedForced = await failedAnonymize(forced);
    await expect(engine.purge({ requestId: failedForced.id, actor: admin })).rejects.toMatchObject({ code: 'CONFLICT' });
    const purge = await finish(engine.purge({ requestId: failedForced.id, actor: admin, force: true }));
    expect((purge.outcome as any).keyDestroyed).toBe(true);
    await expect(engine.restore({ requestId: failedForced.id, actor: admin })).rejects.toMatchObject({ code: 'WINDOW_CLOSED' });
    await expect(engine.retry({ requestId: failedForced.id, actor: admin })).rejects.toMatchObject({ code: 'CONFLICT' });

    const swept = await seed('tokfailD4');
    const failed = await failedAnonymize(swept);
    const finishedAt = Date.parse(failed.finishedAt!);
    offset = finishedAt + 29 * DAY - Date.now();
    expect((await engine.purgeExpired()).map((p) => p.subject.id)).not.toContain(String(swept.id));
    offset = finishedAt + 30 * DAY + 1000 - Date.now();
    const mine = (await engine.purgeExpired()).filter((p) => p.subject.id === String(swept.id));
    expect(mine).toHaveLength(1);
    await finish(Promise.resolve(mine[0]));
    // The originals of the committed batches are gone for good, the vault included.
    const text = (await allTextValues(ds)).join('\n');
    for (let i = 0; i < 4; i++) {
      expect(text).not.toContain(`note ${i} of tokfailC3`);
      expect(text).not.toContain(`note ${i} of tokfailD4`);
    }
  });

  it('a failed erasure that committed work stands: an earlier erasure is restored only after it', async () => {
    const person = await seed('tokfailE5', 2);
    const before = await dumpTables(ds);
    const first = await finish(engine.anonymize({ subjectId: person.id, actor: admin }));
    await ds.getRepository(Note).save(Array.from({ length: 5 }, (_, i) => ({ body: `later ${i} of tokfailE5`, person })));
    redaction.calls = 0;
    redaction.failAt = 3; // the first batch of the new notes commits, the second fails
    const failed = await finish(engine.anonymize({ subjectId: person.id, actor: admin }), 'failed');
    redaction.failAt = 0;
    const error = await engine.restore({ requestId: first.id, actor: admin }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFLICT', details: { laterRequestId: failed.id } });
    await finish(engine.restore({ requestId: failed.id, actor: admin }));
    await finish(engine.restore({ requestId: first.id, actor: admin }));
    const after = await dumpTables(ds);
    expect(after.ef_person).toEqual(before.ef_person);
    expect(after.ef_note.filter((n: any) => before.ef_note.some((b: any) => b.id === n.id))).toEqual(before.ef_note);
    expect(after.ef_note.filter((n: any) => String(n.body).startsWith('later'))).toHaveLength(5);
  });

  it('a cancelled erasure (status set directly: no public cancel() yet) is retried like a failed one', async () => {
    const person = await seed('tokfailG8');
    const failed = await failedAnonymize(person);
    const q = (name: string) => ds.driver.escape(name);
    const p = (i: number) => (db.kind === 'postgres' ? `$${i}` : '?');
    await ds.query(`UPDATE ${q('privacy_requests')} SET ${q('status')} = ${p(1)} WHERE ${q('id')} = ${p(2)}`, ['cancelled', failed.id]);
    await engine.retry({ requestId: failed.id, actor: admin });
    const done = await finish(engine.waitForRequest(failed.id, { actor: engine.system }));
    expect((done.outcome as any).receipt.entities.Note).toMatchObject({ rows: 7 });
  });

  it('refuses to retry while another erasure-family request of the subject is queued', async () => {
    const person = await seed('tokfailH9');
    const failed = await failedAnonymize(person);
    // A second engine whose queue never runs anything: its request stays queued and holds the subject.
    const idle = new PrivacyEngine({
      dataSource: ds,
      subject: Person,
      tenantColumn: 'organizationId',
      secret: 'failures-secret-failures-secret-failures-secret',
      queue: idleQueue,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await idle.start();
    const queued = await idle.delete({ subjectId: person.id, actor: admin });
    const error = await engine.retry({ requestId: failed.id, actor: admin }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFLICT', existingRequestId: queued.id });
    expect((await engine.getRequest(failed.id, engine.system)).status).toBe('failed');
    await idle.stop();
  });

  it('refuses to retry a completed erasure, a request that is not an erasure, a restored failure, and one a later erasure stands on', async () => {
    const person = await seed('tokfailF6', 3);
    const failed = await failedAnonymize(await seed('tokfailF7'));
    const completed = await finish(engine.anonymize({ subjectId: person.id, actor: admin }));
    await expect(engine.retry({ requestId: completed.id, actor: admin })).rejects.toMatchObject({ code: 'CONFLICT' });
    const exported = await finish(engine.export({ subjectId: person.id, actor: admin }));
    await expect(engine.retry({ requestId: exported.id, actor: admin })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(engine.retry({ requestId: 'no-such-request', actor: admin })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.retry({ requestId: failed.id } as never)).rejects.toMatchObject({ code: 'VALIDATION' });

    const later = await finish(engine.delete({ subjectId: Number(failed.subject.id), actor: admin }));
    const error = await engine.retry({ requestId: failed.id, actor: admin }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFLICT', details: { laterRequestId: later.id } });
    await finish(engine.restore({ requestId: later.id, actor: admin }));
    await finish(engine.restore({ requestId: failed.id, actor: admin }));
    await expect(engine.retry({ requestId: failed.id, actor: admin })).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
