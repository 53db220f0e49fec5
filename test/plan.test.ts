import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NotFoundError, PrivacyEngine, ValidationError, createMemoryStorage, type Actor, type ErasureReceipt, type OperationPlan } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { dumpTables } from './support/table-dump.js';
import { Contact, Ticket, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };

/** The per-entity counts a plan promises, in the shape of an erasure receipt's `entities`. */
function promised(plan: OperationPlan) {
  const actionNames = { redact: 'anonymized', hide: 'hidden', remove: 'removed' } as const;
  return Object.fromEntries(
    plan.entities
      .filter((e) => e.rows > 0 && (e.action === 'redact' || e.action === 'hide' || e.action === 'remove'))
      .map((e) => [e.entity, { action: actionNames[e.action as keyof typeof actionNames], rows: e.rows, fields: e.action === 'redact' ? e.fields.map((f) => f.name).sort() : undefined }]),
  );
}
function done(receipt: ErasureReceipt) {
  return Object.fromEntries(
    Object.entries(receipt.entities).map(([entity, c]) => [entity, { action: c.action, rows: c.rows, fields: c.action === 'anonymized' ? [...c.fields].sort() : undefined }]),
  );
}

describeEachDatabase('dry-run plans', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: 'plan-secret-plan-secret-plan-secret-plan',
      storage: createMemoryStorage(),
      policy: { batchSize: 2 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  for (const operation of ['delete', 'anonymize'] as const) {
    it(`plan(${operation}) writes nothing, and the ${operation} then does what it counted, entity by entity`, async () => {
      const alice = await seedContact(ds, 'org-a', `tokplan${operation.slice(0, 3)}`);
      const bob = await seedContact(ds, 'org-a', `tokpbob${operation.slice(0, 3)}`);
      // A ticket Alice is only CC'd on: shared, flagged rather than erased.
      await ds.getRepository(Ticket).save({ title: 'shared', description: 'bob asks', requester: bob.contact, ccs: [alice.contact] });

      const before = await dumpTables(ds);
      const plan = await engine.plan({ subjectId: alice.contact.id, operation, actor: admin });
      expect(await dumpTables(ds)).toEqual(before);

      expect(plan.operation).toBe(operation);
      expect(plan.subject.id).toBe(String(alice.contact.id));
      expect(plan.entities.map((e) => e.order)).toEqual(plan.entities.map((_, i) => i + 1));
      expect(plan.entities.at(-1)?.entity).toBe('Contact'); // the subject last: every link resolves through it
      expect(plan.estimate.basis).toMatch(/measured|default/);
      expect(plan.estimate.seconds).toBeGreaterThanOrEqual(0);

      const request = await engine[operation]({ subjectId: alice.contact.id, actor: admin });
      const finished = await engine.waitForRequest(request.id, { actor: engine.system });
      expect(finished.status).toBe('completed');
      const receipt = (finished.outcome as { receipt: ErasureReceipt }).receipt;
      expect(promised(plan)).toEqual(done(receipt));
      const byEntity = (a: { entity: string }, b: { entity: string }) => a.entity.localeCompare(b.entity);
      expect([...plan.retained].sort(byEntity)).toEqual(receipt.retained.map(({ until: _until, ...r }) => r).sort(byEntity));
      expect(plan.entities.filter((e) => e.shared > 0).map((e) => ({ category: e.category, entity: e.entity, rows: e.shared }))).toEqual(receipt.shared);
      expect(plan.totals.shared).toBeGreaterThan(0);
      // A measured rate replaces the default once a request of the kind has finished.
      const again = await engine.plan({ subjectId: bob.contact.id, operation, actor: admin });
      expect(again.estimate).toMatchObject({ basis: 'measured' });
    });
  }

  it('plans an export as the rows it reads per entity', async () => {
    const carol = await seedContact(ds, 'org-a', 'tokplanexp');
    const plan = await engine.plan({ subjectId: carol.contact.id, operation: 'export', actor: admin });
    const read = Object.fromEntries(plan.entities.filter((e) => e.read > 0).map((e) => [e.category, e.read]));
    for (const [category, count] of Object.entries(carol.counts)) expect(read[category] ?? 0, category).toBeGreaterThanOrEqual(count);
    expect(plan.totals.changed).toBe(0);
  });

  it('refuses an unknown operation and an unknown subject', async () => {
    await expect(engine.plan({ subjectId: 1, operation: 'purge' as never, actor: admin })).rejects.toBeInstanceOf(ValidationError);
    await expect(engine.plan({ subjectId: 999_999, operation: 'delete', actor: admin })).rejects.toBeInstanceOf(NotFoundError);
  });
});
