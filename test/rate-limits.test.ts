import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { PrivacyEngine, ValidationError, createLocalStorage } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { idleQueue } from './support/idle-queue.js';
import { Activity, Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'lease-worker.ts');
const SECRET = 'rate-limit-secret-rate-limit-secret-0001';
const BATCH = 10;
const TENANTS = ['org-r0', 'org-r1', 'org-r2', 'org-r3'];
const PER_TENANT = 4;
/** org-r1 runs up to three requests at once, sharing one bucket of this many rows a second. */
const RATE = 120;
const LIMITS = { maxRunning: 1, retryMs: 150, perTenant: { 'org-r0': { maxRunning: 2 }, 'org-r1': { maxRunning: 3, rowsPerSecond: RATE } } };
const maxRunningOf = (tenant: string) => (LIMITS.perTenant as Record<string, { maxRunning?: number }>)[tenant]?.maxRunning ?? LIMITS.maxRunning;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function runWorker(input: Record<string, unknown>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify({ batchSize: BATCH, secret: SECRET, leaseMs: 2000, ...input })], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

/** The most intervals [start, end) open at one instant. */
function maxOverlap(intervals: Array<[number, number]>): number {
  const points = intervals.flatMap(([s, e]) => [[s, 1], [e, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of points) max = Math.max(max, (open += d));
  return max;
}

describeEachDatabase('per-tenant rate limits across two worker processes', (db) => {
  const sources: DataSource[] = [];
  afterAll(async () => {
    for (const ds of sources) if (ds.isInitialized) await ds.destroy();
  });

  it(`${TENANTS.length} tenants × ${PER_TENANT} exports: no tenant ever over maxRunning, none starved, org-r1 within ${RATE} rows/s`, { timeout: 90_000 }, async () => {
    const { options } = await db.createDatabase();
    const ds = new DataSource({ ...options, entities: crmEntities, synchronize: true, logging: false } as DataSourceOptions);
    await ds.initialize();
    sources.push(ds);
    const storageDir = await mkdtemp(path.join(os.tmpdir(), 'pe-rate-'));
    const asker = new PrivacyEngine({ dataSource: ds, subject: Contact, tenantColumn: 'organizationId', secret: SECRET, queue: idleQueue, storage: createLocalStorage({ directory: storageDir }), logger: quiet });
    await asker.start();
    const ids: string[] = [];
    for (const [t, tenant] of TENANTS.entries()) {
      for (let i = 0; i < PER_TENANT; i++) {
        const { contact } = await seedContact(ds, tenant, `tokrate${t}x${i}`);
        // The throttled tenant's subjects hold more rows, so its rate is measured over several seconds.
        if (tenant === 'org-r1') {
          await ds.getRepository(Activity).save(
            Array.from({ length: 100 }, (_, j) => ({ kind: 'note' as const, subject: `s ${j}`, body: `b ${j}`, occurredAt: new Date(Date.UTC(2025, 5, 1, i, j)), contact })),
          );
        }
        ids.push((await asker.export({ subjectId: contact.id, actor: { id: 'dpo', roles: ['admin'], tenantId: tenant } })).id);
      }
    }

    // Sampled while the workers run: requests held under a live lease, per tenant.
    const q = (n: string) => ds.driver.escape(n);
    let sampling = true;
    const sampled = new Map<string, number>();
    const sampler = (async () => {
      while (sampling) {
        const rows: Array<{ t: string; n: unknown }> = await ds.query(
          `SELECT ${q('tenant_id')} AS t, COUNT(*) AS n FROM ${q('privacy_requests')} WHERE ${q('status')} = 'running' AND ${q('lease_owner')} IS NOT NULL AND ${q('lease_expires_at')} >= ${Date.now()} GROUP BY ${q('tenant_id')}`,
        );
        for (const row of rows) sampled.set(row.t, Math.max(sampled.get(row.t) ?? 0, Number(row.n)));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    // SQLite: a single claimer per process (one connection).
    const input = { options, storageDir, rateLimits: LIMITS, concurrency: db.kind === 'sqlite' ? 1 : 3 };
    const results = await Promise.all([runWorker(input), runWorker(input)]);
    sampling = false;
    await sampler;
    for (const r of results) expect(r.code, r.stderr).toBe(0);

    // None starved: every request of every tenant completed.
    const requests = await asker.listRequests({ actor: asker.system, limit: 1000 });
    await asker.stop();
    expect(requests.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const r of requests) expect(r.status, JSON.stringify(r.error)).toBe('completed');

    for (const tenant of TENANTS) {
      const own = requests.filter((r) => r.subject.tenantId === tenant);
      const intervals = own.map((r) => [Date.parse(r.startedAt!), Date.parse(r.finishedAt!)] as [number, number]);
      // Never over the limit: neither in the recorded run intervals nor in any sample.
      expect(maxOverlap(intervals), tenant).toBeLessThanOrEqual(maxRunningOf(tenant));
      expect(sampled.get(tenant) ?? 0, tenant).toBeLessThanOrEqual(maxRunningOf(tenant));
    }
    // The limit is a limit, not a queue of one: org-r0 (2) and org-r1 (3) did run requests side by side.
    expect(maxOverlap(requests.filter((r) => r.subject.tenantId === 'org-r1').map((r) => [Date.parse(r.startedAt!), Date.parse(r.finishedAt!)]))).toBeGreaterThan(1);

    // Rows per second: at most RATE·span + one second of burst + one batch per running request; and it did slow down.
    const throttled = requests.filter((r) => r.subject.tenantId === 'org-r1');
    const rows = throttled.reduce((n, r) => n + r.progress.total, 0);
    const span = (Math.max(...throttled.map((r) => Date.parse(r.finishedAt!))) - Math.min(...throttled.map((r) => Date.parse(r.startedAt!)))) / 1000;
    expect(rows).toBeGreaterThan(3 * RATE);
    expect(rows, `${rows} rows in ${span} s`).toBeLessThanOrEqual(RATE * span * 1.1 + RATE + 3 * BATCH);
    expect(span, `${rows} rows in ${span} s`).toBeGreaterThanOrEqual((0.8 * (rows - RATE - 3 * BATCH)) / RATE);
  });
});

describe('rateLimits options', () => {
  // A real DataSource, never connected: the options are validated when the engine is constructed.
  const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
  const build = (rateLimits: unknown) => new PrivacyEngine({ dataSource, subject: Contact, secret: SECRET, rateLimits } as never);

  it('are validated with zod: a bad limit, an unknown key or a perTenant that is not a function is a ValidationError naming the path', () => {
    expect(() => build({ maxRunning: 2, rowsPerSecond: 500, perTenant: () => undefined, retryMs: 200 })).not.toThrow();
    const cases: Array<[unknown, string]> = [
      [{ maxRunning: 0 }, 'rateLimits.maxRunning'],
      [{ maxRunning: 1.5 }, 'rateLimits.maxRunning'],
      [{ rowsPerSecond: -1 }, 'rateLimits.rowsPerSecond'],
      [{ perTenant: { 'org-a': { maxRunning: 1 } } }, 'rateLimits.perTenant'],
      [{ retryMs: 1 }, 'rateLimits.retryMs'],
      [{ maxRuning: 1 }, 'rateLimits'],
    ];
    for (const [rateLimits, path] of cases) {
      let error: unknown;
      try {
        build(rateLimits);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(rateLimits)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path), JSON.stringify(rateLimits)).toContain(path);
    }
  });
});
