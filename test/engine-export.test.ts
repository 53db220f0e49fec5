import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { beforeAll, afterAll, expect, it } from 'vitest';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PrivacyEngine,
  ValidationError,
  createLocalStorage,
  type Actor,
} from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { Contact, Opportunity, crmEntities } from './fixtures/crm.js';
import { type SeededContact, seedContact } from './fixtures/crm-seed.js';
import { createTestLogger } from './support/test-logger.js';

const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const admin: Actor = { id: 'admin-1', roles: ['admin'], tenantId: 'org-a' };

describeEachDatabase('export of a CRM contact', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let alice: SeededContact;
  let bob: SeededContact;
  let carol: SeededContact;
  const logger = createTestLogger();

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
    alice = await seedContact(ds, 'org-a', 'tokalice01');
    bob = await seedContact(ds, 'org-a', 'tokbob0002', {});
    carol = await seedContact(ds, 'org-b', 'tokcarol03');
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: SECRET,
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-export-')) }),
      policy: { batchSize: 2 }, // tiny pages so keyset pagination crosses many page boundaries
      logger,
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  async function exportAndRead(subjectId: number, actor: Actor = admin) {
    const queued = await engine.export({ subjectId, actor });
    expect(queued.status).toBe('queued');
    const done = await engine.waitForRequest(queued.id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    const download = await engine.download({ requestId: done.id, actor });
    return { request: done, files: await readZip(await streamToBuffer(download.stream)), download };
  }

  it('logs a MISSING_KEYSET_INDEX warning at start-up for each fixture link without a (link, id) index, with the statement that fixes it', async () => {
    const logged = logger.warnings('MISSING_KEYSET_INDEX');
    expect(logged.map((w) => w.message)).toEqual(engine.dataMap().warnings.filter((w) => w.code === 'MISSING_KEYSET_INDEX').map((w) => w.message));
    expect(logged.map((w) => w.message.split(':')[0]).sort()).toEqual(['ConsentRecord', 'LeadScore', 'Opportunity', 'Ticket']);
    for (const warning of logged) expect(warning.fields?.suggestion).toMatch(/^CREATE INDEX /);
  });

  it('holds every category with exact record counts, soft-deleted rows included', async () => {
    const { request, files } = await exportAndRead(alice.contact.id);
    expect([...files.keys()].sort()).toEqual(
      [
        'README.md',
        'summary.csv',
        'summary.json',
        ...Object.keys(alice.counts).flatMap((c) => [`categories/${c}.csv`, `categories/${c}.json`]),
      ].sort(),
    );
    const summary = JSON.parse(files.get('summary.json')!);
    expect(summary.meta.formatVersion).toBe(1);
    expect(summary.meta.requestId).toBe(request.id);
    expect(summary.meta.subject).toEqual({ type: 'Contact', id: String(alice.contact.id), displayName: 'Firsttokalice01 Lasttokalice01' });
    expect(summary.meta.counts).toEqual(alice.counts);
    for (const [category, n] of Object.entries(alice.counts)) {
      expect(summary.categories[category].records, category).toHaveLength(n);
      const file = JSON.parse(files.get(`categories/${category}.json`)!);
      expect(file.records).toEqual(summary.categories[category].records);
    }
    expect((request.outcome as { counts: Record<string, number> }).counts).toEqual(alice.counts);
    expect(request.progress).toEqual({ done: 25, total: 25, percent: 100 });

    // The archived note and the archived opportunity (with its quote and invoice behind it) are there.
    const activities = summary.categories.activities.records;
    expect(activities.filter((a: { deletedAt: string | null }) => a.deletedAt !== null)).toHaveLength(1);
    expect(summary.categories.opportunities.records.map((o: { name: string }) => o.name).sort()).toEqual(['Expansion 2024', 'Renewal 2026']);
    expect(summary.categories.invoices.records.map((i: { number: string }) => i.number).sort()).toEqual(['INV-tokalice01-1', 'INV-tokalice01-2']);
    // Audit entries of another type with the same id stay out.
    expect(summary.categories['audit-log'].records.every((e: { entityType: string }) => e.entityType === 'Contact')).toBe(true);
  });

  it('writes values portably: ISO dates, JSON documents, decimals, booleans', async () => {
    const { files } = await exportAndRead(alice.contact.id);
    const summary = JSON.parse(files.get('summary.json')!);
    const [profile] = summary.categories.profile.records;
    expect(profile._entity).toBe('Contact');
    expect(profile._id).toBe(String(alice.contact.id));
    expect(profile.email).toBe('tokalice01@mail.example');
    expect(profile.customFields).toEqual({ nickname: 'nick-tokalice01', tier: 'gold' });
    expect(profile.birthday).toBe('1984-06-15');
    expect(profile.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(profile.deletedAt).toBeNull();
    const call = summary.categories.activities.records.find((a: { kind: string }) => a.kind === 'call');
    expect(call.occurredAt).toBe('2025-01-10T09:30:00.000Z');
    expect(call.contactId).toBe(alice.contact.id);
    const consent = summary.categories.consents.records.find((c: { purpose: string }) => c.purpose === 'newsletter');
    expect(consent.granted).toBe(true);
    expect(summary.categories.opportunities.records.map((o: { amount: unknown }) => Number(o.amount)).sort()).toEqual([1200, 5400.5]);

    const csv = files.get('summary.csv')!;
    expect(csv.split(/\r?\n/)[0]).toBe('category,entity,record_id,field,value');
    expect(csv).toContain(`profile,Contact,${alice.contact.id},email,tokalice01@mail.example`);
    const readme = files.get('README.md')!;
    expect(readme).toContain('10 years (tax law)');
    expect(readme).toContain('Legal obligation (Art. 6(1)(c))');
    expect(readme).not.toContain('tokalice01');
  });

  it('never includes another contact, even one sharing the company, a ticket or a campaign', async () => {
    const { files } = await exportAndRead(alice.contact.id);
    const all = [...files.values()].join('\n');
    expect(all).toContain('tokalice01');
    expect(all).not.toContain('tokbob0002');
    expect(all).not.toContain('tokcarol03');
  });

  it('refuses a second active export for the same contact with the existing request', async () => {
    const first = await engine.export({ subjectId: bob.contact.id, actor: admin });
    const second = engine.export({ subjectId: bob.contact.id, actor: admin });
    await expect(second).rejects.toBeInstanceOf(ConflictError);
    await expect(second).rejects.toMatchObject({ code: 'CONFLICT', message: 'Already requested for this contact', existingRequestId: first.id });
    await engine.waitForRequest(first.id, { actor: engine.system });
    const again = await engine.export({ subjectId: bob.contact.id, actor: admin });
    expect((await engine.waitForRequest(again.id, { actor: engine.system })).status).toBe('completed');
  });

  it('treats a contact of another tenant, or an unknown id, as not found', async () => {
    await expect(engine.export({ subjectId: carol.contact.id, actor: admin })).rejects.toBeInstanceOf(NotFoundError);
    await expect(engine.export({ subjectId: carol.contact.id, actor: admin, tenantId: 'org-b' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(engine.export({ subjectId: 999_999, actor: admin })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'Contact 999999 was not found' });
  });

  it('lets only admins of the tenant, or the subject themself, export', async () => {
    const agent: Actor = { id: 'agent-7', roles: ['sales'], tenantId: 'org-a' };
    await expect(engine.export({ subjectId: alice.contact.id, actor: agent })).rejects.toBeInstanceOf(ForbiddenError);
    const self: Actor = { id: 'user-alice', roles: [], tenantId: 'org-a', subjectId: alice.contact.id };
    const { files } = await exportAndRead(alice.contact.id, self);
    expect(JSON.parse(files.get('summary.json')!).meta.counts).toEqual(alice.counts);
    const otherSelf: Actor = { id: 'user-bob', roles: [], tenantId: 'org-a', subjectId: bob.contact.id };
    await expect(engine.export({ subjectId: alice.contact.id, actor: otherSelf })).rejects.toBeInstanceOf(ForbiddenError);
    const request = (await engine.listRequests({ actor: engine.system, subjectId: alice.contact.id, type: 'export', status: 'completed' }))[0];
    await expect(engine.download({ requestId: request.id, actor: otherSelf })).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('rejects bad input with a typed validation error', async () => {
    await expect(engine.export({ subjectId: 'not-a-number', actor: admin })).rejects.toBeInstanceOf(ValidationError);
    await expect(engine.export({ subjectId: alice.contact.id, actor: { id: '', roles: [] } as Actor })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(engine.export({ actor: admin } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(engine.export({ subjectId: alice.contact.id, actor: { id: 'x', roles: ['admin'] } })).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('exports a soft-deleted contact too', async () => {
    const dana = await seedContact(ds, 'org-a', 'tokdana004');
    await ds.getRepository(Contact).softDelete(dana.contact.id);
    const { files } = await exportAndRead(dana.contact.id);
    const summary = JSON.parse(files.get('summary.json')!);
    expect(summary.meta.counts).toEqual(dana.counts);
    expect(summary.categories.profile.records[0].deletedAt).not.toBeNull();
  });

  it('describes the resolved data map as plain JSON', () => {
    const map = engine.dataMap();
    expect(JSON.parse(JSON.stringify(map))).toEqual(map);
    expect(map.subject).toMatchObject({ entity: 'Contact', tenantColumn: 'organizationId', category: 'profile' });
    const invoice = map.entities.find((e) => e.name === 'Invoice')!;
    expect(invoice).toMatchObject({ category: 'invoices', onErase: 'retain', retention: { basis: 'Tax law: 10 years' } });
    expect(invoice.links).toEqual([{ kind: 'relation', path: 'quote.opportunity.primaryContact', through: ['Quote', 'Opportunity', 'Contact'], sharing: 'exclusive' }]);
    expect(map.entities.find((e) => e.name === 'Ticket')!.links.map((l) => l.path)).toEqual(['requester', 'ccs']);
    expect(map.entities.find((e) => e.name === 'Contact')!.fields.find((f) => f.name === 'email')).toMatchObject({ redact: 'email', identifying: true });
    expect(map.categories.find((c) => c.name === 'invoices')).toMatchObject({ legalBasis: 'Legal obligation (Art. 6(1)(c))', entities: ['Invoice'] });
    // Activity and SyncedEmail declare the (link, id) index; LeadScore does not, so it is flagged.
    const flagged = map.warnings.filter((w) => w.code === 'MISSING_KEYSET_INDEX').map((w) => w.entity);
    expect(flagged).toContain('LeadScore');
    expect(flagged).not.toContain('Activity');
  });

  it('keeps archived rows along a link path: an archived opportunity still links its quotes and invoices', async () => {
    const archived = (await ds.getRepository(Opportunity).find({ where: { primaryContact: { id: alice.contact.id } }, withDeleted: true })).find((o) => o.archivedAt);
    expect(archived).toBeDefined();
    const { files } = await exportAndRead(alice.contact.id);
    const summary = JSON.parse(files.get('summary.json')!);
    const opportunity = summary.categories.opportunities.records.find((r: { id: number }) => r.id === archived!.id);
    expect(opportunity).toMatchObject({ name: 'Expansion 2024' });
    expect(opportunity.archivedAt).not.toBeNull();
    // The quote and the invoice reach Alice only through the archived opportunity.
    expect(summary.categories.quotes.records.map((r: { number: string }) => r.number)).toContain('Q-tokalice01-2');
    expect(summary.categories.invoices.records.map((r: { number: string }) => r.number)).toContain('INV-tokalice01-2');
  });
});
