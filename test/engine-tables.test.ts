import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MetadataError, PrivacyEngine, createLocalStorage, type Actor, type PrivacyEngineOptions } from '../src/index.js';
import { SqlParams, dialectOf, quoteIdentifier } from '../src/db/dialect.js';
import { ENGINE_SCHEMA_VERSION } from '../src/db/engine-tables.js';
import { describeEachDatabase } from './support/databases.js';
import { createLayout1Tables } from './support/engine-tables-v1.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const SECRET = 'tables-secret-tables-secret-tables-secret';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const admin: Actor = { id: 'dpo', roles: ['admin'], tenantId: 'org-a' };

async function engineOn(ds: DataSource, extra: Partial<PrivacyEngineOptions> = {}): Promise<PrivacyEngine> {
  return new PrivacyEngine({
    dataSource: ds,
    subject: Contact,
    tenantColumn: 'organizationId',
    secret: SECRET,
    storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-tables-')) }),
    logger: quiet,
    ...extra,
  });
}

async function insertRow(ds: DataSource, table: string, row: Record<string, unknown>): Promise<void> {
  const params = new SqlParams(dialectOf(ds));
  const columns = Object.keys(row).map((c) => quoteIdentifier(ds, c));
  const values = Object.values(row).map((v) => params.add(v));
  await ds.query(`INSERT INTO ${quoteIdentifier(ds, table)} (${columns.join(', ')}) VALUES (${values.join(', ')})`, params.values);
}

async function layoutVersion(ds: DataSource, metaTable: string): Promise<string> {
  const [row] = await ds.query(`SELECT ${quoteIdentifier(ds, 'value')} AS v FROM ${metaTable} WHERE ${quoteIdentifier(ds, 'name')} = 'schema_version'`);
  return String(row.v);
}

describeEachDatabase('engine tables: schema, layout version, migration', (db) => {
  const engines: PrivacyEngine[] = [];
  const sources: DataSource[] = [];
  afterAll(async () => {
    for (const e of engines) await e.stop();
    for (const s of sources) if (s.isInitialized) await s.destroy();
  });

  if (db.kind === 'postgres') it("on PostgreSQL, the engine's tables are created and queried in the DataSource's schema", async () => {
    const { options } = await db.createDatabase();
    const ds = new DataSource({ ...options, schema: 'crm_app', entities: crmEntities } as unknown as DataSourceOptions);
    sources.push(ds);
    await ds.initialize();
    await ds.query('CREATE SCHEMA crm_app');
    await ds.synchronize();
    const { contact } = await seedContact(ds, 'org-a', 'tokschema1');
    const engine = await engineOn(ds);
    engines.push(engine);
    await engine.start();
    for (const call of [() => engine.export({ subjectId: contact.id, actor: admin }), () => engine.delete({ subjectId: contact.id, actor: admin })]) {
      const done = await engine.waitForRequest((await call()).id, { actor: engine.system });
      expect(done.error).toBeUndefined();
      expect(done.status).toBe('completed');
    }
    const erased = (await engine.listRequests({ actor: engine.system, type: 'delete' }))[0];
    const restored = await engine.waitForRequest((await engine.restore({ requestId: erased.id, actor: admin })).id, { actor: engine.system });
    expect(restored.status).toBe('completed');
    // The audit trail went to the schema's table as well (no entry leaked to the public schema).
    expect(Number((await ds.query('SELECT COUNT(*) AS n FROM crm_app.privacy_audit'))[0].n)).toBeGreaterThan(5);
    const tables: Array<{ table_schema: string; table_name: string }> = await ds.query(
      "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name LIKE 'privacy\\_%' ORDER BY table_name",
    );
    expect(tables.map((t) => `${t.table_schema}.${t.table_name}`)).toEqual([
      'crm_app.privacy_audit',
      'crm_app.privacy_audit_heads',
      'crm_app.privacy_meta',
      'crm_app.privacy_requests',
      'crm_app.privacy_subject_states',
      'crm_app.privacy_tenant_limits',
      'crm_app.privacy_vault',
    ]);
  });

  it('start() records the layout version and refuses tables of a newer version, naming both versions', async () => {
    const ds = await db.createDataSource(crmEntities);
    const engine = await engineOn(ds);
    engines.push(engine);
    await engine.start();
    const meta = quoteIdentifier(ds, 'privacy_meta');
    expect(await layoutVersion(ds, meta)).toBe(String(ENGINE_SCHEMA_VERSION));
    await ds.query(`UPDATE ${meta} SET ${quoteIdentifier(ds, 'value')} = '99'`);
    const newer = await engineOn(ds);
    const started = newer.start();
    await expect(started).rejects.toBeInstanceOf(MetadataError);
    await expect(started).rejects.toThrow(new RegExp(`version 99.*supports \\(${ENGINE_SCHEMA_VERSION}\\)`));
  });

  describeLayout1Migration();

  it('start() migrates layout-3 tables to layout 4: the tenant and updated-at indexes and the tenant limits table, requests kept', async () => {
    const ds = await db.createDataSource(crmEntities);
    const { contact } = await seedContact(ds, 'org-a', 'tokmigrat3');
    const first = await engineOn(ds);
    await first.start();
    const queued = await first.export({ subjectId: contact.id, actor: admin });
    await first.stop();
    // Back to what layout 3 had: no layout-4 indexes, no tenant limits table, version 3.
    const runner = ds.createQueryRunner();
    try {
      for (const name of ['IDX_privacy_requests_tenant', 'IDX_privacy_requests_updated']) await runner.dropIndex('privacy_requests', name);
      await runner.dropTable('privacy_tenant_limits');
      await ds.query(`UPDATE ${quoteIdentifier(ds, 'privacy_meta')} SET ${quoteIdentifier(ds, 'value')} = '3'`);

      const engine = await engineOn(ds, { rateLimits: { maxRunning: 1 } });
      engines.push(engine);
      await engine.start();
      expect(await layoutVersion(ds, quoteIdentifier(ds, 'privacy_meta'))).toBe('4');
      const requests = (await runner.getTable('privacy_requests'))!;
      expect(requests.indices.map((i) => i.name)).toEqual(expect.arrayContaining(['IDX_privacy_requests_tenant', 'IDX_privacy_requests_updated']));
      expect(await runner.hasTable('privacy_tenant_limits')).toBe(true);
      // The request queued under layout 3 runs under the new limits.
      expect((await engine.waitForRequest(queued.id, { actor: engine.system })).status).toBe('completed');
    } finally {
      await runner.release();
    }
  });

  function describeLayout1Migration() {
    let ds: DataSource;
    let contactId: number;
    const erasureId = randomUUID();
    const exportId = randomUUID();

    beforeAll(async () => {
      ds = await db.createDataSource(crmEntities);
      const { contact } = await seedContact(ds, 'org-a', 'tokmigrat1');
      contactId = contact.id;
      await createLayout1Tables(ds);
      const now = Date.now();
      const common = { subject_type: 'Contact', tenant_id: 'org-a', requested_by: 'dpo', updated_at: now, due_at: now + 1e9, progress_done: 0, progress_total: 0 };
      // Layout 1 stored ids as callers spelled them and joined keys with '|'.
      await insertRow(ds, 'privacy_requests', {
        ...common,
        id: erasureId,
        type: 'anonymize',
        status: 'completed',
        subject_id: `0${contactId}`,
        active_key: null,
        created_at: now - 2000,
        started_at: now - 2000,
        finished_at: now - 1000,
        body: JSON.stringify({ regulation: 'gdpr', warnings: [], review: [], outcome: { receipt: { requestId: erasureId } } }),
      });
      await insertRow(ds, 'privacy_requests', {
        ...common,
        id: exportId,
        type: 'export',
        status: 'queued',
        subject_id: `00${contactId}`,
        active_key: `export|Contact|org-a|00${contactId}`,
        created_at: now - 500,
        started_at: null,
        finished_at: null,
        body: JSON.stringify({ regulation: 'gdpr', warnings: [], review: [] }),
      });
      await insertRow(ds, 'privacy_subject_states', { subject_key: `Contact|org-a|0${contactId}`, state: 'anonymized', request_id: erasureId, updated_at: now - 1000 });
    });

    it('start() migrates layout-1 tables: canonical ids, states and active requests carried over, joined key columns gone', async () => {
      const engine = await engineOn(ds);
      engines.push(engine);
      await engine.start();
      expect(await layoutVersion(ds, quoteIdentifier(ds, 'privacy_meta'))).toBe(String(ENGINE_SCHEMA_VERSION));

      // The export queued under layout 1 resumes, and sees the subject state the old joined key recorded.
      const resumed = await engine.waitForRequest(exportId, { actor: engine.system });
      expect(resumed.error).toBeUndefined();
      expect(resumed.status).toBe('completed');
      expect(resumed.subject.id).toBe(String(contactId));
      expect(resumed.warnings).toEqual(['subject-anonymized']);
      expect((await engine.listRequests({ actor: engine.system, subjectId: contactId })).map((r) => r.id).sort()).toEqual([erasureId, exportId].sort());

      const runner = ds.createQueryRunner();
      try {
        expect((await runner.getTable('privacy_requests'))!.findColumnByName('active_key')).toBeUndefined();
        expect((await runner.getTable('privacy_subject_states'))!.findColumnByName('subject_key')).toBeUndefined();
        // Layout 3: request leases, and one vault entry per (request, kind, seq).
        const requests = (await runner.getTable('privacy_requests'))!;
        expect(requests.findColumnByName('lease_owner')).toBeDefined();
        expect(requests.findColumnByName('lease_expires_at')).toBeDefined();
        const vaultIndices = (await runner.getTable('privacy_vault'))!.indices;
        expect(vaultIndices.find((i) => i.name === 'UQ_privacy_vault_request')).toMatchObject({ isUnique: true, columnNames: ['request_id', 'kind', 'seq'] });
        expect(vaultIndices.find((i) => i.name === 'IDX_privacy_vault_request')).toBeUndefined();
        // Layout 4: the indexes rate limits and event pollers read by, and the tenant limits table.
        // (TypeORM's PostgreSQL introspection does not keep the column order of an index.)
        expect([...requests.indices.find((i) => i.name === 'IDX_privacy_requests_tenant')!.columnNames].sort()).toEqual(['status', 'tenant_id']);
        expect(requests.indices.find((i) => i.name === 'IDX_privacy_requests_updated')).toMatchObject({ columnNames: ['updated_at'] });
        expect((await runner.getTable('privacy_tenant_limits'))!.columns.map((col) => col.name).sort()).toEqual(['refilled_at', 'tenant_key', 'tokens_milli']);
      } finally {
        await runner.release();
      }

      // A second start() finds the current layout and changes nothing.
      const again = await engineOn(ds);
      engines.push(again);
      await again.start();
      expect(await layoutVersion(ds, quoteIdentifier(ds, 'privacy_meta'))).toBe(String(ENGINE_SCHEMA_VERSION));
    });
  }
});
