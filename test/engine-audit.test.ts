import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PrivacyEngine, createMemoryAudit, createMemoryStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { type SeededContact, seedContact } from './fixtures/crm-seed.js';
import { createTestLogger } from './support/test-logger.js';

const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const admin: Actor = { id: 'admin-1', roles: ['admin'], tenantId: 'org-a' };

describeEachDatabase('the engine audit trail', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let ada: SeededContact;
  const token = 'tokadaaudit7';

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
    ada = await seedContact(ds, 'org-a', token);
    engine = new PrivacyEngine({ dataSource: ds, subject: Contact, tenantColumn: 'organizationId', secret: SECRET, storage: createMemoryStorage(), logger: createTestLogger() });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  const run = async (request: Promise<PrivacyRequest>) => {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  };

  it('records export, anonymize, restore, delete and forced purge of a CRM contact in the host table without one personal token of the subject', async () => {
    const id = ada.contact.id;
    const exported = await run(engine.export({ subjectId: id, actor: admin, regulation: 'ccpa' }));
    await streamToBuffer((await engine.download({ requestId: exported.id, actor: admin })).stream);
    const anonymized = await run(engine.anonymize({ subjectId: id, actor: admin }));
    await run(engine.restore({ requestId: anonymized.id, actor: admin }));
    const deleted = await run(engine.delete({ subjectId: id, actor: admin }));
    const purge = await run(engine.purge({ requestId: deleted.id, actor: admin, force: true }));

    // The completion entry follows the status change by a moment: wait for the last one.
    let rows: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100 && !rows.some((row) => row.action === 'purge.completed'); i++) {
      rows = await ds.query('SELECT * FROM privacy_audit ORDER BY id');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const actions = rows.map((row) => `${row.action}:${JSON.parse(String(row.details)).type ?? ''}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        'request.submitted:export', 'request.started:export', 'request.completed:export', 'download.served:export',
        'request.submitted:anonymize', 'request.completed:anonymize', 'artifact.deleted:export',
        'request.submitted:restore', 'restore.completed:restore', 'request.submitted:delete', 'request.completed:delete',
        'request.submitted:purge', 'purge.completed:purge',
      ]),
    );
    const detailsOf = (action: string, requestId: string) => JSON.parse(String(rows.find((row) => row.action === action && row.request_id === requestId)!.details));
    expect(detailsOf('request.submitted', exported.id)).toMatchObject({ type: 'export', regulation: 'ccpa' });
    expect(detailsOf('request.completed', exported.id).counts).toEqual(ada.counts);
    expect(detailsOf('purge.completed', purge.id)).toMatchObject({ forced: true, sourceRequestId: deleted.id });
    for (const row of rows) {
      expect(row.tenant_id).toBe('org-a');
      expect(row.subject_id).toBe(String(id));
      expect(row.subject_hash).toMatch(/^[0-9a-f]{64}$/);
    }

    // Every personal value the seed wrote about Ada, anywhere in the audit tables.
    const personal = [token, `First${token}`, `Last${token}`, `${token}@mail.example`, `+33 6 ${token.slice(0, 8)}`, '1984-06-15', `nick-${token}`, `Company of ${token}`, '203.0.113.77'];
    const everything = JSON.stringify([rows, await ds.query('SELECT * FROM privacy_audit_heads')]);
    for (const value of personal) expect(everything).not.toContain(value);
    expect((await engine.audit.verify({ tenantId: 'org-a' })).ok).toBe(true);
  });

  it('exports the trail as CSV and JSON and prunes it with a checkpoint that still verifies', async () => {
    const csv = (await streamToBuffer(engine.audit.export({ tenantId: 'org-a', format: 'csv' }))).toString('utf8');
    expect(csv.split('\n')[0]).toBe('seq,at,tenant_id,actor_id,action,request_id,subject_type,subject_id,subject_keyed_hash,details,prev_hash,hash');
    const json = JSON.parse((await streamToBuffer(engine.audit.export({ tenantId: 'org-a', format: 'json', from: new Date(0) }))).toString('utf8'));
    expect(json.length).toBe(csv.trim().split('\n').length - 1);
    const { pruned } = await engine.audit.prune({ tenantId: 'org-a', olderThan: new Date(Date.now() + 1000), actorId: 'retention-job' });
    expect(pruned).toBe(json.length);
    expect(await engine.audit.verify({ tenantId: 'org-a' })).toMatchObject({ ok: true });
  });

  it('records a failed erasure with its error code, and its retry', async () => {
    const audit = createMemoryAudit();
    let fail = true;
    // No retries: the provider's lost connection (transient, so never only flagged for review) fails the request.
    const failing = new PrivacyEngine({ dataSource: ds, subject: Contact, tenantColumn: 'organizationId', secret: SECRET, storage: createMemoryStorage(), audit, tablePrefix: 'fail_', logger: createTestLogger(), policy: { retries: 0 } });
    failing.registerProvider('flaky', { name: 'flaky', purpose: 'Fails once', legalBasis: 'Contract' }, {
      async *export() {},
      async anonymize() {
        if (fail) throw Object.assign(new Error('provider down'), { code: 'ECONNRESET' });
      },
    });
    await failing.start();
    try {
      const other = await seedContact(ds, 'org-a', 'tokfailaud1');
      const failed = await failing.waitForRequest((await failing.anonymize({ subjectId: other.contact.id, actor: admin })).id, { actor: failing.system });
      expect(failed.status).toBe('failed');
      fail = false;
      for (let i = 0; i < 100 && !audit.raw.read('org-a').some((r) => r.action === 'request.failed'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      await failing.retry({ requestId: failed.id, actor: admin });
      await failing.waitForRequest(failed.id, { actor: failing.system });
      let records = audit.raw.read('org-a');
      for (let i = 0; i < 100 && records.filter((r) => r.action === 'request.completed').length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        records = audit.raw.read('org-a');
      }
      expect(records.map((r) => r.action)).toEqual(['request.submitted', 'request.started', 'request.failed', 'request.retried', 'request.started', 'request.completed']);
      expect(records[2].details).toMatchObject({ type: 'anonymize', code: failed.error!.code });
      expect(records[3].details).toMatchObject({ previousStatus: 'failed' });
      expect(JSON.stringify(records)).not.toContain('tokfailaud1');
    } finally {
      await failing.stop();
    }
  });

  it('writes to the AuditPort given as the audit option, and verify names an entry edited there', async () => {
    const audit = createMemoryAudit();
    const other = new PrivacyEngine({ dataSource: ds, subject: Contact, tenantColumn: 'organizationId', secret: SECRET, storage: createMemoryStorage(), audit, tablePrefix: 'alt_', logger: createTestLogger() });
    await other.start();
    try {
      const done = await other.waitForRequest((await other.export({ subjectId: ada.contact.id, actor: admin })).id, { actor: other.system });
      let records = audit.raw.read('org-a');
      for (let i = 0; i < 100 && records.length < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        records = audit.raw.read('org-a');
      }
      expect(records.map((r) => r.action)).toEqual(['request.submitted', 'request.started', 'request.completed']);
      expect(records.every((r) => r.requestId === done.id)).toBe(true);
      expect(Number((await ds.query(`SELECT COUNT(*) AS n FROM privacy_audit WHERE request_id = '${done.id}'`))[0].n)).toBe(0);
      audit.raw.write('org-a', records.map((r) => (r.seq === 2 ? { ...r, actorId: 'someone-else' } : r)));
      expect(await other.audit.verify({ tenantId: 'org-a' })).toMatchObject({ ok: false, problems: [expect.objectContaining({ kind: 'edited', seq: 2 })] });
    } finally {
      await other.stop();
    }
  });
});
