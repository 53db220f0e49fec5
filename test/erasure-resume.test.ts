import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import { PrivacyEngine, createLocalStorage } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { dumpTables } from './support/table-dump.js';
import { Activity, Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'erasure-worker.ts');
const BATCH = 3;
const WORKER_SECRET = 'resume-secret-resume-secret-resume-secret-01';

function runWorker(input: Record<string, unknown>): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', worker, JSON.stringify({ batchSize: BATCH, secret: WORKER_SECRET, ...input })], { encoding: 'utf8', timeout: 180_000 });
  return { status: result.status, signal: result.signal, stderr: result.stderr };
}

/**
 * Redacted values that are random by design (emails, phones) are masked, and so are seeding times (the two
 * databases were seeded moments apart); everything else must match exactly.
 */
function masked(dump: Record<string, unknown[]>) {
  const random = /^(redacted-[a-z0-9]+@redacted\.invalid|[a-z0-9]{12})$/;
  return JSON.parse(JSON.stringify(dump, (k, v) => (['createdAt', 'deletedAt', 'archivedAt'].includes(k) && v !== null ? '<time>' : typeof v === 'string' && random.test(v) ? '<random>' : v)));
}

describeEachDatabase('a worker killed mid-erasure resumes and ends like an uninterrupted run', (db) => {
  const sources: DataSource[] = [];
  afterAll(async () => {
    for (const ds of sources) if (ds.isInitialized) await ds.destroy();
  });

  async function seededDatabase(): Promise<{ options: DataSourceOptions; ds: DataSource; subjectId: number }> {
    const { options } = await db.createDatabase();
    const ds = new DataSource({ ...options, entities: crmEntities, synchronize: true, logging: false } as DataSourceOptions);
    await ds.initialize();
    sources.push(ds);
    const seeded = await seedContact(ds, 'org-a', 'tokcrash01');
    await seedContact(ds, 'org-a', 'tokother02');
    // Enough rows for many batches.
    await ds.getRepository(Activity).save(
      Array.from({ length: 45 }, (_, i) => ({ kind: 'note' as const, subject: `extra ${i}`, body: `tokcrash01 body ${i}`, occurredAt: new Date(Date.UTC(2025, 5, 1, 0, i)), contact: seeded.contact })),
    );
    return { options, ds, subjectId: seeded.contact.id };
  }

  it('at a random statement', async () => {
    const storageDir = await mkdtemp(path.join(os.tmpdir(), 'pe-resume-'));
    const crashed = await seededDatabase();
    const twin = await seededDatabase();
    const original = await dumpTables(crashed.ds);
    expect(masked(await dumpTables(twin.ds))).toEqual(masked(original));

    // Somewhere past the start-up statements and well before the end of ~20 batches.
    const killAt = 40 + Math.floor(Math.random() * 60);
    const killed = runWorker({ options: crashed.options, mode: 'anonymize', subjectId: crashed.subjectId, killAt, storageDir });
    expect(killed.signal, `worker should have been killed at statement ${killAt}; stderr: ${killed.stderr}`).toBe('SIGKILL');
    const [left] = await crashed.ds.query(`SELECT ${crashed.ds.driver.escape('status')} AS s FROM ${crashed.ds.driver.escape('privacy_requests')}`);
    expect(left.s).toBe('running');

    const resumed = runWorker({ options: crashed.options, mode: 'resume', storageDir });
    expect(resumed.status, resumed.stderr).toBe(0);
    const straight = runWorker({ options: twin.options, mode: 'anonymize', subjectId: twin.subjectId, storageDir });
    expect(straight.status, straight.stderr).toBe(0);

    const receipt = async (ds: DataSource) => {
      const [row] = await ds.query(`SELECT ${ds.driver.escape('body')} AS b, ${ds.driver.escape('status')} AS s FROM ${ds.driver.escape('privacy_requests')}`);
      expect(row.s).toBe('completed');
      return JSON.parse(row.b).outcome.receipt;
    };
    const a = await receipt(crashed.ds);
    const b = await receipt(twin.ds);
    // Same rows changed, each exactly once (counts come from checkpoints committed with each batch).
    expect(a.entities).toEqual(b.entities);
    expect(a.entities.Activity.rows).toBe(49);
    expect(a.verification).toEqual(b.verification);
    expect(masked(await dumpTables(crashed.ds))).toEqual(masked(await dumpTables(twin.ds)));

    // And the vault still holds the true originals.
    const engine = new PrivacyEngine({
      dataSource: crashed.ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: WORKER_SECRET,
      storage: createLocalStorage({ directory: storageDir }),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
    const restore = await engine.restore({ requestId: a.requestId, actor: { id: 'dpo', roles: ['admin'], tenantId: 'org-a' } });
    expect((await engine.waitForRequest(restore.id, { actor: engine.system })).status).toBe('completed');
    await engine.stop();
    const restored = await dumpTables(crashed.ds);
    expect(restored).toEqual(original);
  });
});
