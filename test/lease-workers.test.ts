import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { PrivacyEngine, type QueuePort, createLocalStorage } from '../src/index.js';
import { describeEachDatabase, getRedisUrl } from './support/databases.js';
import { idleQueue } from './support/idle-queue.js';
import { dumpTables } from './support/table-dump.js';
import { Activity, Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'lease-worker.ts');
const BATCH = 3;
const LEASE_MS = 1000;
const SECRET = 'lease-secret-lease-secret-lease-secret-0001';
const SUBJECTS = 3;
/** Workers killed per database; PRIVACY_TEST_LEASE_KILLS=20 for a longer soak. */
const KILLS = Number(process.env.PRIVACY_TEST_LEASE_KILLS ?? 3);
const redisUrl = getRedisUrl();
const prefix = `pe-lease-${randomUUID().slice(0, 8)}`;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const admin = { id: 'dpo', roles: ['admin'], tenantId: 'org-a' };


function runWorker(input: Record<string, unknown>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify({ batchSize: BATCH, secret: SECRET, leaseMs: LEASE_MS, ...input })], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** Redacted values that are random by design and seeding times differ between the two databases; the rest must match. */
function masked(dump: Record<string, unknown[]>) {
  const random = /^(redacted-[a-z0-9]+@redacted\.invalid|[a-z0-9]{12})$/;
  return JSON.parse(JSON.stringify(dump, (k, v) => (['createdAt', 'deletedAt', 'archivedAt'].includes(k) && v !== null ? '<time>' : typeof v === 'string' && random.test(v) ? '<random>' : v)));
}

describeEachDatabase('several worker processes on one database, some SIGKILLed: every request runs to one end, exactly once', (db) => {
  const sources: DataSource[] = [];
  afterAll(async () => {
    for (const ds of sources) if (ds.isInitialized) await ds.destroy();
  });

  async function seeded(): Promise<{ options: DataSourceOptions; ds: DataSource; subjectIds: number[] }> {
    const { options } = await db.createDatabase();
    const ds = new DataSource({ ...options, entities: crmEntities, synchronize: true, logging: false } as DataSourceOptions);
    await ds.initialize();
    sources.push(ds);
    const subjectIds: number[] = [];
    for (let i = 0; i < SUBJECTS; i++) {
      const { contact } = await seedContact(ds, 'org-a', `toklease${i}x`);
      await ds.getRepository(Activity).save(
        Array.from({ length: 15 }, (_, j) => ({ kind: 'note' as const, subject: `extra ${j}`, body: `toklease${i}x body ${j}`, occurredAt: new Date(Date.UTC(2025, 5, 1, i, j)), contact })),
      );
      subjectIds.push(contact.id);
    }
    return { options, ds, subjectIds };
  }

  function engineOn(ds: DataSource, storageDir: string, queue?: QueuePort): PrivacyEngine {
    return new PrivacyEngine({
      dataSource: ds, subject: Contact, tenantColumn: 'organizationId', secret: SECRET, queue,
      storage: createLocalStorage({ directory: storageDir }), policy: { batchSize: BATCH }, logger: quiet,
    });
  }

  async function vaultShape(ds: DataSource): Promise<unknown[]> {
    const q = (n: string) => ds.driver.escape(n);
    const rows: Array<{ kind: string; n: unknown }> = await ds.query(`SELECT ${q('kind')} AS kind, COUNT(*) AS n FROM ${q('privacy_vault')} GROUP BY ${q('kind')} ORDER BY ${q('kind')}`);
    return rows.map((r) => [r.kind, Number(r.n)]);
  }

  it(`two workers, ${KILLS} of them killed at random statements`, () => killAndCompare());

  // BullMQ's stalled-job recovery re-delivers a killed worker's job; the lease keeps it from running beside a live one.
  if (db.kind === 'postgres' && redisUrl) {
    it(`on BullMQ (Redis): two workers, ${KILLS} of them killed at random statements`, () => killAndCompare({ redisUrl, queueName: `lease-${randomUUID().slice(0, 8)}`, prefix }));
  }

  async function killAndCompare(bullmq?: { redisUrl: string; queueName: string; prefix: string }): Promise<void> {
    const storageDir = await mkdtemp(path.join(os.tmpdir(), 'pe-lease-'));
    const crashed = await seeded();
    const twin = await seeded();

    // The requests are asked for here; only the worker processes run them.
    // (Each worker's start() offers every unfinished request to its queue: BullMQ's job ids keep that to one job each.)
    const asker = engineOn(crashed.ds, storageDir, idleQueue);
    await asker.start();
    const ids = [];
    for (const subjectId of crashed.subjectIds) ids.push((await asker.anonymize({ subjectId, actor: admin })).id);
    await asker.stop();

    let kills = 0;
    const log: string[] = [];
    const next = (): Record<string, unknown> => {
      if (kills >= KILLS) return { options: crashed.options, storageDir, bullmq };
      kills++;
      return { options: crashed.options, storageDir, bullmq, killAt: 20 + Math.floor(Math.random() * 150) };
    };
    // Each slot keeps a worker alive: a killed one is replaced at once, until one ends normally.
    const slot = async (): Promise<void> => {
      for (;;) {
        const input = next();
        const result = await runWorker(input);
        log.push(`killAt=${String(input.killAt)} -> ${result.signal ?? result.code}`);
        if (result.signal === 'SIGKILL') continue;
        expect(result.code, `${log.join('; ')}\n${result.stderr}`).toBe(0);
        return;
      }
    };
    await Promise.all([slot(), slot()]);

    const straight = engineOn(twin.ds, storageDir);
    await straight.start();
    const twinIds = [];
    for (const subjectId of twin.subjectIds) twinIds.push((await straight.anonymize({ subjectId, actor: admin })).id);
    for (const id of twinIds) expect((await straight.waitForRequest(id, { actor: straight.system })).status).toBe('completed');
    await straight.stop();

    // One end each: completed, finished, its lease and its active key released.
    const q = (n: string) => crashed.ds.driver.escape(n);
    const rows: Array<Record<string, unknown>> = await crashed.ds.query(`SELECT * FROM ${q('privacy_requests')} ORDER BY ${q('created_at')}`);
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const row of rows) {
      expect(row.status, `${log.join('; ')} ${String(row.body)}`).toBe('completed');
      expect(row.finished_at).not.toBeNull();
      expect(row.lease_owner).toBeNull();
      expect(row.active_family).toBeNull();
    }
    const receipts = async (ds: DataSource) => {
      const all: Array<{ b: string }> = await ds.query(`SELECT ${ds.driver.escape('body')} AS b FROM ${ds.driver.escape('privacy_requests')} ORDER BY ${ds.driver.escape('created_at')}`);
      return all.map((r) => JSON.parse(r.b).outcome.receipt.entities);
    };
    // Each row changed exactly once (the counts come from checkpoints committed with each batch) ...
    expect(await receipts(crashed.ds)).toEqual(await receipts(twin.ds));
    // ... the vault holds one entry per batch, as an uninterrupted run's ...
    expect(await vaultShape(crashed.ds)).toEqual(await vaultShape(twin.ds));
    // ... and the data is the same.
    expect(masked(await dumpTables(crashed.ds))).toEqual(masked(await dumpTables(twin.ds)));
  }
});

afterAll(async () => {
  if (!redisUrl) return;
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});
