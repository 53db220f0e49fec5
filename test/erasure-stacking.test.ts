import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { PrivacyEngine, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { allTextValues, dumpTables } from './support/table-dump.js';
import { Activity, Contact, LeadScore, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const DAY = 24 * 60 * 60 * 1000;
const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };

describeEachDatabase('stacked erasures of one subject', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let offset = 0;

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: 'stacking-secret-stacking-secret-stacking-secret',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-stack-')) }),
      clock: { now: () => new Date(Date.now() + offset) },
      policy: { batchSize: 2, recoveryWindowDays: 30 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
  });
  beforeEach(() => {
    offset = 0;
  });
  afterAll(async () => engine?.stop());

  async function run(request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  async function exportWarnings(subjectId: number): Promise<string[]> {
    return (await run(engine.export({ subjectId, actor: admin }))).warnings;
  }

  const newActivity = (contact: Contact, token: string) =>
    ds.getRepository(Activity).save({ kind: 'note' as const, subject: `later note ${token}`, body: `later body ${token}`, occurredAt: new Date(Date.UTC(2025, 6, 1)), contact });

  /** The dump without one row the host added after the first erasure (that erasure does not cover it). */
  function withoutRow(dump: Record<string, unknown[]>, table: string, id: number) {
    return { ...dump, [table]: dump[table].filter((r: any) => r.id !== id) };
  }
  const rowOf = (dump: Record<string, unknown[]>, table: string, id: number) => dump[table].find((r: any) => r.id === id);

  // ---- defect 1: restore order -----------------------------------------------------------------

  it('refuses to restore an anonymize while a later delete is in force, naming the delete, for whole, category and record restores', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkA01');
    const before = await dumpTables(ds);
    const a1 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const d2 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    const activityId = (await ds.getRepository(Activity).findOneOrFail({ where: { contact: { id: seeded.contact.id } }, withDeleted: true })).id;

    for (const filter of [{}, { categories: ['activities'] }, { records: [{ entity: 'Activity', id: activityId }] }]) {
      const error = await engine.restore({ requestId: a1.id, actor: admin, ...filter }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CONFLICT', details: { requestId: a1.id, laterRequestId: d2.id } });
      expect((error as Error).message).toContain(d2.id);
    }

    await run(engine.restore({ requestId: d2.id, actor: admin }));
    expect(await exportWarnings(seeded.contact.id)).toEqual(['subject-anonymized']);
    await run(engine.restore({ requestId: a1.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(before);
    expect(await exportWarnings(seeded.contact.id)).toEqual([]);
  });

  it('refuses to restore an erasure whose later erasure was purged, naming it, with WINDOW_CLOSED', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkB02');
    const a1 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const d2 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    await run(engine.purge({ requestId: d2.id, actor: admin, force: true }));
    const error = await engine.restore({ requestId: a1.id, actor: admin }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WINDOW_CLOSED', details: { requestId: a1.id, laterRequestId: d2.id } });
    expect((error as Error).message).toContain(d2.id);
    // The purge made the delete permanent: the subject stays deleted.
    expect(await exportWarnings(seeded.contact.id)).toEqual(['subject-deleted']);
  });

  it('the subject state follows the newest erasure still in force after each restore', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkC03');
    const d1 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    await newActivity(seeded.contact, 'tokstkC03new');
    const a2 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    expect(await exportWarnings(seeded.contact.id)).toEqual(['subject-anonymized']);
    await run(engine.restore({ requestId: a2.id, actor: admin }));
    expect(await exportWarnings(seeded.contact.id)).toEqual(['subject-deleted']);
    await run(engine.restore({ requestId: d1.id, actor: admin }));
    expect(await exportWarnings(seeded.contact.id)).toEqual([]);
  });

  // ---- defect 7: a later erasure erases what is new ----------------------------------------------

  it('a second anonymize erases rows added and fields edited after the first, and only those; restoring it puts back only what it changed', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkD04');
    const before = await dumpTables(ds);
    const a1 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const added = await newActivity(seeded.contact, 'tokstkD04new');
    await ds.getRepository(Contact).update({ id: seeded.contact.id }, { phone: '+33 7 tokstkD04' });
    const beforeSecond = await dumpTables(ds);

    const a2 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const { receipt } = a2.outcome as any;
    expect(receipt.alreadyErasedBy).toBeUndefined();
    expect(receipt.entities.Activity).toMatchObject({ rows: 1, fields: ['body', 'subject'] });
    expect(receipt.entities.Contact).toMatchObject({ rows: 1, fields: ['phone'] });
    expect(receipt.entities.Ticket?.rows ?? 0).toBe(0);
    expect(receipt.verification.passed).toBe(true);
    const text = (await dumpTables(ds)).crm_activity.concat((await dumpTables(ds)).crm_contact);
    expect(JSON.stringify(text)).not.toContain('tokstkD04');

    await run(engine.restore({ requestId: a2.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(beforeSecond);
    await run(engine.restore({ requestId: a1.id, actor: admin }));
    // Everything the first anonymize covered is as it was before it (the phone included); the later row keeps its own values.
    const after = await dumpTables(ds);
    expect(withoutRow(after, 'crm_activity', added.id)).toEqual(before);
    expect(rowOf(after, 'crm_activity', added.id)).toEqual(rowOf(beforeSecond, 'crm_activity', added.id));
  });

  it('a later erasure that finds nothing new completes with a receipt of zero rows', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkE05');
    await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const afterFirst = await dumpTables(ds);
    const again = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const { receipt } = again.outcome as any;
    expect(receipt.alreadyErasedBy).toBeUndefined();
    expect(Object.values(receipt.entities as Record<string, { rows: number }>).reduce((n, e) => n + e.rows, 0)).toBe(0);
    expect(receipt.verification.passed).toBe(true);
    expect(await dumpTables(ds)).toEqual(afterFirst);
  });

  it('a second delete with nothing new changes nothing and is undone before the first', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkK11');
    const before = await dumpTables(ds);
    const d1 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    const afterFirst = await dumpTables(ds);
    const d2 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    const { receipt } = d2.outcome as any;
    expect(Object.values(receipt.entities as Record<string, { rows: number }>).reduce((n, e) => n + e.rows, 0)).toBe(0);
    expect(await dumpTables(ds)).toEqual(afterFirst);
    await expect(engine.restore({ requestId: d1.id, actor: admin })).rejects.toMatchObject({ code: 'CONFLICT' });
    await run(engine.restore({ requestId: d2.id, actor: admin }));
    await run(engine.restore({ requestId: d1.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(before);
  });

  it('delete after anonymize erases a row added in between; undoing both in order gives back the original rows', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkF06');
    const before = await dumpTables(ds);
    const a1 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const added = await newActivity(seeded.contact, 'tokstkF06new');
    const beforeSecond = await dumpTables(ds);
    const d2 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    expect((d2.outcome as any).receipt.entities.Activity).toMatchObject({ rows: 1 });
    expect((await ds.getRepository(Activity).findOneByOrFail({ id: added.id })).body).not.toContain('tokstkF06');
    await run(engine.restore({ requestId: d2.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(beforeSecond);
    await run(engine.restore({ requestId: a1.id, actor: admin }));
    const after = await dumpTables(ds);
    expect(withoutRow(after, 'crm_activity', added.id)).toEqual(before);
    expect(rowOf(after, 'crm_activity', added.id)).toEqual(rowOf(beforeSecond, 'crm_activity', added.id));
  });

  it('anonymize after delete erases rows added since and leaves the rows the delete hid alone', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkG07');
    const before = await dumpTables(ds);
    const d1 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    const added = await newActivity(seeded.contact, 'tokstkG07new');
    const beforeSecond = await dumpTables(ds);
    const a2 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const { receipt } = a2.outcome as any;
    expect(receipt.entities.Activity).toMatchObject({ rows: 1 });
    expect(receipt.entities.Contact?.rows ?? 0).toBe(0);
    expect((await ds.getRepository(Activity).findOneByOrFail({ id: added.id })).body).not.toContain('tokstkG07');
    await run(engine.restore({ requestId: a2.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(beforeSecond);
    await run(engine.restore({ requestId: d1.id, actor: admin }));
    const after = await dumpTables(ds);
    expect(withoutRow(after, 'crm_activity', added.id)).toEqual(before);
    expect(rowOf(after, 'crm_activity', added.id)).toEqual(rowOf(beforeSecond, 'crm_activity', added.id));
  });

  it('after the first erasure was purged, a later one still leaves what the purged one wrote alone', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkI09');
    const a1 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    await run(engine.purge({ requestId: a1.id, actor: admin, force: true }));
    await newActivity(seeded.contact, 'tokstkI09new');
    const a2 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const { receipt } = a2.outcome as any;
    expect(receipt.stackedOn).toEqual([a1.id]);
    expect(receipt.entities.Activity).toMatchObject({ rows: 1 });
    expect(receipt.entities.Contact?.rows ?? 0).toBe(0);
  });

  it('a row a partial restore brought back is new to a later erasure, and restoring that erasure brings it back again', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkJ10');
    const before = await dumpTables(ds);
    const a1 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    const activity = await ds.getRepository(Activity).findOneOrFail({ where: { contact: { id: seeded.contact.id } }, order: { id: 'ASC' }, withDeleted: true });
    await run(engine.restore({ requestId: a1.id, actor: admin, records: [{ entity: 'Activity', id: activity.id }] }));
    const a2 = await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    expect((a2.outcome as any).receipt.entities.Activity).toMatchObject({ rows: 1 });
    expect((await ds.getRepository(Activity).findOneOrFail({ where: { id: activity.id }, withDeleted: true })).body).not.toContain('tokstkJ10');
    await run(engine.restore({ requestId: a2.id, actor: admin }));
    await run(engine.restore({ requestId: a1.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(before);
  });

  it('after both erasures of a stack are purged, none of the original values is left anywhere', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkH08');
    await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    await newActivity(seeded.contact, 'tokstkH08new');
    await run(engine.anonymize({ subjectId: seeded.contact.id, actor: admin }));
    offset = 31 * DAY;
    const mine = (await engine.purgeExpired()).filter((p) => p.subject.id === String(seeded.contact.id));
    expect(mine).toHaveLength(1); // one erasure-family request at a time: the second waits for the next sweep
    await engine.waitForRequest(mine[0].id, { actor: engine.system });
    const next = (await engine.purgeExpired()).filter((p) => p.subject.id === String(seeded.contact.id));
    expect(next).toHaveLength(1);
    await engine.waitForRequest(next[0].id, { actor: engine.system });
    const text = (await allTextValues(ds)).join('\n');
    for (const value of ['tokstkH08@mail.example', 'FirsttokstkH08', 'LasttokstkH08', 'later body tokstkH08new', 'nick-tokstkH08']) expect(text).not.toContain(value);
  });

  it('refuses to purge an erasure that hid rows while a later one that removed rows stands, naming it; purged newest first, both go', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkP09');
    const d1 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    // A row added after D1 that points at the contact D1 hid; D2 removes it, and restoring D2 would need the contact.
    await ds.getRepository(LeadScore).save({ score: 5, reason: 'later tokstkP09new', contact: seeded.contact });
    const d2 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));

    const error = await engine.purge({ requestId: d1.id, actor: admin, force: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFLICT', details: { requestId: d1.id, laterRequestId: d2.id } });
    expect((error as Error).message).toContain(d2.id);

    await run(engine.purge({ requestId: d2.id, actor: admin, force: true }));
    await run(engine.purge({ requestId: d1.id, actor: admin, force: true }));
    // Kept activities still point at the contact: it stays hidden with its personal columns emptied.
    expect(await ds.getRepository(Contact).findOne({ where: { id: seeded.contact.id } })).toBeNull();
    expect(await ds.getRepository(LeadScore).count({ where: { reason: 'later tokstkP09new' } })).toBe(0);
    const text = (await allTextValues(ds)).join('\n');
    for (const value of ['tokstkP09@mail.example', 'later tokstkP09new']) expect(text).not.toContain(value);
  });

  it('a purge leaves alone a row a partial restore brought back and a later erasure hid again; that erasure can still restore it', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkQ10');
    const d1 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    await run(engine.restore({ requestId: d1.id, actor: admin, records: [{ entity: 'Contact', id: seeded.contact.id }] }));
    const d2 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    expect(await ds.getRepository(Contact).findOne({ where: { id: seeded.contact.id } })).toBeNull();

    await run(engine.purge({ requestId: d1.id, actor: admin, force: true }));
    // D2 hid the contact again: it is still there, hidden, for D2 to restore or purge.
    expect(await ds.getRepository(Contact).findOne({ where: { id: seeded.contact.id }, withDeleted: true })).toMatchObject({ email: 'tokstkQ10@mail.example' });
    await run(engine.restore({ requestId: d2.id, actor: admin }));
    expect(await ds.getRepository(Contact).findOne({ where: { id: seeded.contact.id } })).toMatchObject({ email: 'tokstkQ10@mail.example' });
  });

  it('a purge leaves alone a row a partial restore brought back, even after a later erasure hid and purged it', async () => {
    const seeded = await seedContact(ds, 'org-a', 'tokstkR11');
    const d1 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    await run(engine.restore({ requestId: d1.id, actor: admin, categories: ['profile'] }));
    const d2 = await run(engine.delete({ subjectId: seeded.contact.id, actor: admin }));
    await run(engine.purge({ requestId: d2.id, actor: admin, force: true }));
    const afterD2 = rowOf(await dumpTables(ds), 'crm_contact', seeded.contact.id);
    expect(afterD2).toBeDefined();

    await run(engine.purge({ requestId: d1.id, actor: admin, force: true }));
    // The contact was D2's to purge, and D2 did (emptied, since kept activities point at it): D1 changes nothing.
    expect(rowOf(await dumpTables(ds), 'crm_contact', seeded.contact.id)).toEqual(afterD2);
  });
});
