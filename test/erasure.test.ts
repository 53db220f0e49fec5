import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { ConflictError, PrivacyEngine, WindowClosedError, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { allTextValues, dumpTables } from './support/table-dump.js';
import { Activity, Contact, Invoice, Opportunity, SyncedEmail, Ticket, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const DAY = 24 * 60 * 60 * 1000;
const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };

function originals(token: string) {
  return [`${token}@mail.example`, `First${token}`, `Last${token}`, `+33 6 ${token.slice(0, 8)}`];
}

describeEachDatabase('erasure: anonymize, delete, restore, purge', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let offset = 0;

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: 'erasure-secret-erasure-secret-erasure-secret',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-erasure-')) }),
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
    const queued = await request;
    expect(queued.status).toBe('queued');
    const done = await engine.waitForRequest(queued.id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  it('anonymize rewrites personal fields in place, keeps history, and a later export shows only redacted values', async () => {
    const alice = await seedContact(ds, 'org-a', 'tokanon001');
    const bystander = await seedContact(ds, 'org-a', 'tokbyst002');
    const before = await dumpTables(ds);

    const done = await run(engine.anonymize({ subjectId: alice.contact.id, actor: admin }));
    const { receipt } = done.outcome as any;
    expect(receipt.operation).toBe('anonymize');
    expect(receipt.verification).toMatchObject({ passed: true, valuesChecked: 4 });
    expect(receipt.entities.Contact).toEqual({ category: 'profile', action: 'anonymized', rows: 1, fields: ['birthday', 'customFields', 'email', 'firstName', 'lastName', 'notes', 'phone'] });
    expect(receipt.entities.Activity).toMatchObject({ action: 'anonymized', rows: 4, fields: ['body', 'subject'] });
    expect(receipt.retained.map((r: { entity: string }) => r.entity).sort()).toEqual(['AuditLogEntry', 'Campaign', 'Company', 'ConsentRecord', 'Invoice', 'Quote']);
    expect(JSON.stringify(done)).not.toContain('tokanon001');

    // Rows and history stay; identifying values are gone; the bystander is untouched.
    const contact = await ds.getRepository(Contact).findOneByOrFail({ id: alice.contact.id });
    expect(contact.email).toMatch(/^redacted-[a-z0-9]+@redacted\.invalid$/);
    expect(contact.phone).toMatch(/^[a-z0-9]+$/);
    expect(contact.birthday).toBe('1984-01-01');
    expect(contact.customFields).toEqual({ nickname: '[REDACTED]', tier: 'gold' });
    expect(await ds.getRepository(Activity).count({ where: { contact: { id: alice.contact.id } }, withDeleted: true })).toBe(4);
    const after = await dumpTables(ds);
    const bystanderRow = (dump: Record<string, unknown[]>) => dump.crm_contact.find((r: any) => r.id === bystander.contact.id);
    expect(bystanderRow(after)).toEqual(bystanderRow(before));

    const exported = await run(engine.export({ subjectId: alice.contact.id, actor: admin }));
    expect(exported.warnings).toEqual(['subject-anonymized']);
    const files = await readZip(await streamToBuffer((await engine.download({ requestId: exported.id, actor: admin })).stream));
    const text = [...files.values()].join('\n');
    for (const value of originals('tokanon001')) expect(text).not.toContain(value);
    expect(JSON.parse(files.get('summary.json')!).meta.warnings).toEqual(['subject-anonymized']);

    // Running it again finds nothing new; it stands on the first, so it is undone first, and the first still gives back the true originals.
    const second = await run(engine.anonymize({ subjectId: alice.contact.id, actor: admin }));
    expect((second.outcome as any).receipt.stackedOn).toEqual([done.id]);
    await expect(engine.restore({ requestId: done.id, actor: admin })).rejects.toBeInstanceOf(ConflictError);
    await run(engine.restore({ requestId: second.id, actor: admin }));
    await run(engine.restore({ requestId: done.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(before);
  });

  it('delete hides rows from ordinary queries at once, reports what is retained, and restore gives back an identical database', async () => {
    const bob = await seedContact(ds, 'org-a', 'tokdele003');
    const before = await dumpTables(ds);
    const done = await run(engine.delete({ subjectId: bob.contact.id, actor: admin }));

    expect(await ds.getRepository(Contact).findOneBy({ id: bob.contact.id })).toBeNull();
    expect(await ds.getRepository(Opportunity).count({ where: { primaryContact: { id: bob.contact.id } } })).toBe(0);
    expect(await ds.getRepository(Contact).findOne({ where: { id: bob.contact.id }, withDeleted: true })).not.toBeNull();
    // 'anonymize' entities are redacted, 'retain' entities untouched.
    const ticket = await ds.getRepository(Ticket).findOneOrFail({ where: { requester: { id: bob.contact.id } }, withDeleted: true });
    expect(ticket.description).not.toContain('tokdele003');
    expect(await ds.getRepository(Invoice).count()).toBeGreaterThan(0);

    const { receipt } = done.outcome as any;
    expect(receipt.entities.Contact).toMatchObject({ action: 'hidden', rows: 1 });
    expect(receipt.entities.Opportunity).toMatchObject({ action: 'hidden', rows: 1 }); // the other one was archived before
    expect(receipt.entities.SyncedEmail).toMatchObject({ action: 'removed', rows: 2 }); // no @DeleteDateColumn: snapshot, then delete
    expect(await ds.getRepository(SyncedEmail).count({ where: { contact: { id: bob.contact.id } }, withDeleted: true })).toBe(0);
    const invoices = receipt.retained.find((r: { entity: string }) => r.entity === 'Invoice');
    expect(invoices).toEqual({ category: 'invoices', entity: 'Invoice', rows: 2, legalBasis: 'Tax law: 10 years', until: new Date(2035, 0, 1).toISOString() });
    expect(receipt.verification.passed).toBe(true);
    expect(Date.parse(receipt.recoveryDeadline) - Date.parse(receipt.completedAt)).toBe(30 * DAY);

    const restore = await run(engine.restore({ requestId: done.id, actor: admin }));
    expect((restore.outcome as any).partial).toBe(false);
    expect(await dumpTables(ds)).toEqual(before);
    await expect(engine.restore({ requestId: done.id, actor: admin })).rejects.toBeInstanceOf(ConflictError);
    await expect(engine.purge({ requestId: done.id, actor: admin, force: true })).rejects.toThrow('was restored; there is nothing to purge');
  });

  it('restoring a delete that followed an anonymize leaves the subject anonymized', async () => {
    const hal = await seedContact(ds, 'org-a', 'tokstak009');
    const anonymized = await run(engine.anonymize({ subjectId: hal.contact.id, actor: admin }));
    const deleted = await run(engine.delete({ subjectId: hal.contact.id, actor: admin }));
    await run(engine.restore({ requestId: deleted.id, actor: admin }));
    const exported = await run(engine.export({ subjectId: hal.contact.id, actor: admin }));
    expect(exported.warnings).toEqual(['subject-anonymized']);
    await run(engine.restore({ requestId: anonymized.id, actor: admin }));
    const again = await run(engine.export({ subjectId: hal.contact.id, actor: admin }));
    expect(again.warnings).toEqual([]);
  });

  it('restores chosen categories only', async () => {
    const carol = await seedContact(ds, 'org-a', 'tokpart004');
    const before = await dumpTables(ds);
    const done = await run(engine.delete({ subjectId: carol.contact.id, actor: admin }));
    const partial = await run(engine.restore({ requestId: done.id, actor: admin, categories: ['emails'] }));
    expect((partial.outcome as any).restored).toEqual({ SyncedEmail: 2 });
    expect(await ds.getRepository(SyncedEmail).count({ where: { contact: { id: carol.contact.id } }, withDeleted: true })).toBe(2);
    expect(await ds.getRepository(Contact).findOneBy({ id: carol.contact.id })).toBeNull();
    await run(engine.restore({ requestId: done.id, actor: admin }));
    expect(await dumpTables(ds)).toEqual(before);
  });

  it('refuses restore after the window, purge before it without force, and restore after purge', async () => {
    const dan = await seedContact(ds, 'org-a', 'tokwind005');
    const done = await run(engine.delete({ subjectId: dan.contact.id, actor: admin }));
    await expect(engine.purge({ requestId: done.id, actor: admin })).rejects.toMatchObject({ code: 'CONFLICT' });
    offset = 31 * DAY;
    await expect(engine.restore({ requestId: done.id, actor: admin })).rejects.toBeInstanceOf(WindowClosedError);
    offset = 0;
    await run(engine.purge({ requestId: done.id, actor: admin, force: true }));
    const error = await engine.restore({ requestId: done.id, actor: admin }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WindowClosedError);
    expect((error as Error).message).toBe(`Request ${done.id} was purged; its data cannot be restored`);
  });

  it('purge after the window leaves no trace of the original values anywhere in the database, the vault included', async () => {
    const erin = await seedContact(ds, 'org-a', 'tokpurg006');
    const frank = await seedContact(ds, 'org-a', 'tokpurg007');
    const deleted = await run(engine.delete({ subjectId: erin.contact.id, actor: admin }));
    const anonymized = await run(engine.anonymize({ subjectId: frank.contact.id, actor: admin }));
    const textBefore = (await allTextValues(ds)).join('\n');
    expect(textBefore).toContain('tokpurg006@mail.example'); // hidden, still restorable

    offset = 31 * DAY;
    const purges = await engine.purgeExpired();
    const mine = purges.filter((p) => [String(erin.contact.id), String(frank.contact.id)].includes(p.subject.id));
    expect(mine).toHaveLength(2);
    for (const p of mine) {
      const done = await engine.waitForRequest(p.id, { actor: engine.system });
      expect(done.status).toBe('completed');
      expect((done.outcome as any).keyDestroyed).toBe(true);
    }
    const text = (await allTextValues(ds)).join('\n');
    for (const value of [...originals('tokpurg006'), ...originals('tokpurg007')]) expect(text).not.toContain(value);
    expect(await ds.getRepository(SyncedEmail).count({ where: { contact: { id: erin.contact.id } }, withDeleted: true })).toBe(0);
    await expect(engine.restore({ requestId: deleted.id, actor: admin })).rejects.toBeInstanceOf(WindowClosedError);
    await expect(engine.restore({ requestId: anonymized.id, actor: admin })).rejects.toBeInstanceOf(WindowClosedError);
  });

  it("refuses another tenant's admin (not found) and a non-admin of the tenant (forbidden), and changes nothing", async () => {
    const gina = await seedContact(ds, 'org-b', 'tokprov008');
    const before = await dumpTables(ds);
    await expect(engine.delete({ subjectId: gina.contact.id, actor: admin })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.anonymize({ subjectId: gina.contact.id, actor: { id: 'agent', roles: ['sales'], tenantId: 'org-b' } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await engine.listRequests({ actor: engine.system, subjectId: gina.contact.id, tenantId: 'org-b' })).toEqual([]);
    expect(await dumpTables(ds)).toEqual(before);
  });
});
