import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTypeOrmQueue } from '../../src/adapters/typeorm-queue.js';
import type { QueueJobContext } from '../../src/ports/queue.js';
import { queueConformance } from '../../src/testing/index.js';
import { describeEachDatabase } from '../support/databases.js';

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'support', 'queue-worker.ts');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
let tables = 0;
const freshTable = () => `jobs_${process.pid}_${++tables}`;

describeEachDatabase('TypeORM queue', (db) => {
  let dataSource: DataSource;
  const sources: DataSource[] = [];
  beforeAll(async () => {
    dataSource = await db.createDataSource([]);
  });
  afterAll(async () => {
    for (const source of sources) if (source.isInitialized) await source.destroy();
  });

  async function openShared(): Promise<{ options: DataSourceOptions; open(): Promise<DataSource> }> {
    const { options } = await db.createDatabase();
    return {
      options,
      async open() {
        const source = new DataSource({ ...options, entities: [], synchronize: false, logging: false } as DataSourceOptions);
        await source.initialize();
        sources.push(source);
        return source;
      },
    };
  }

  queueConformance(
    db.label,
    ({ concurrency }) => createTypeOrmQueue({ dataSource, tableName: freshTable(), concurrency, pollIntervalMs: 25, backoffMs: 10 }),
    { describe, it, expect },
  );

  it('retries a failing job with growing delays, then marks it failed after maxAttempts', async () => {
    const tableName = freshTable();
    const queue = createTypeOrmQueue({ dataSource, tableName, pollIntervalMs: 10, backoffMs: 100, maxAttempts: 3 });
    const calls: Array<{ attempt: number; at: number }> = [];
    await queue.start(async (_job, context) => {
      calls.push({ attempt: context!.attempt, at: Date.now() });
      throw Object.assign(new Error('secret value alice@example.com'), { code: 'TRANSIENT' });
    });
    await queue.enqueue({ requestId: 'flaky' });
    await queue.drain();
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3]);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(100);
    expect(calls[2].at - calls[1].at).toBeGreaterThanOrEqual(200);
    const q = (name: string) => dataSource.driver.escape(name);
    const rows = await dataSource.query(`SELECT ${q('status')} AS s, ${q('attempts')} AS a, ${q('last_error')} AS e FROM ${q(tableName)}`);
    // The failure is kept for inspection by code only: the error's message (which may hold personal data) is not stored.
    expect(rows.map((r: { s: string; a: unknown; e: string }) => ({ s: r.s, a: Number(r.a), e: r.e }))).toEqual([{ s: 'failed', a: 3, e: 'TRANSIENT' }]);

    // Enqueuing the request again gives the failed job a fresh start.
    await queue.enqueue({ requestId: 'flaky' });
    await queue.drain();
    expect(calls.map((c) => c.attempt)).toEqual([1, 2, 3, 1, 2, 3]);
    await queue.close();
  });

  it('marks failed, without running it, a job whose lease expired after its last allowed attempt', async () => {
    const tableName = freshTable();
    const queue = createTypeOrmQueue({ dataSource, tableName, pollIntervalMs: 20, maxAttempts: 2 });
    const q = (name: string) => dataSource.driver.escape(name);
    await queue.enqueue({ requestId: 'poison' });
    // As a worker leaves it when it dies on its second delivery: running, lease expired.
    await dataSource.query(
      `UPDATE ${q(tableName)} SET ${q('status')} = 'running', ${q('attempts')} = 2, ${q('lease_owner')} = 'dead-worker', ${q('lease_expires_at')} = ${Date.now() - 1000}`,
    );
    const seen: string[] = [];
    await queue.start(async (job) => {
      seen.push(job.requestId);
    });
    await queue.drain();
    await queue.close();
    expect(seen).toEqual([]);
    const rows = await dataSource.query(`SELECT ${q('status')} AS s, ${q('last_error')} AS e, ${q('lease_owner')} AS o FROM ${q(tableName)}`);
    expect(rows).toEqual([{ s: 'failed', e: 'LEASE_EXPIRED', o: null }]);
  });

  it('two workers on one database run each of 40 jobs exactly once', async () => {
    const shared = await openShared();
    const tableName = freshTable();
    const runs = new Map<string, string[]>();
    const queues = await Promise.all(
      ['w1', 'w2'].map(async (name) => {
        const queue = createTypeOrmQueue({ dataSource: await shared.open(), tableName, concurrency: 2, pollIntervalMs: 20, workerId: name });
        await queue.start(async (job) => {
          runs.set(job.requestId, [...(runs.get(job.requestId) ?? []), name]);
          await sleep(20);
        });
        return queue;
      }),
    );
    for (let i = 0; i < 40; i++) await queues[i % 2].enqueue({ requestId: `job-${i}` });
    await Promise.all(queues.map((queue) => queue.drain()));
    await Promise.all(queues.map((queue) => queue.close()));
    expect([...runs.keys()].sort()).toEqual(Array.from({ length: 40 }, (_, i) => `job-${i}`).sort());
    for (const [, by] of runs) expect(by.length).toBe(1);
    const byWorker = (name: string) => [...runs.values()].filter((by) => by[0] === name).length;
    expect(byWorker('w1')).toBeGreaterThan(0);
    expect(byWorker('w2')).toBeGreaterThan(0);
  });

  it('keeps a job that outlives its lease to the worker that heartbeats it, while another worker polls', async () => {
    const shared = await openShared();
    const tableName = freshTable();
    const runs: string[] = [];
    const queues = await Promise.all(
      ['w1', 'w2'].map(async (name) => {
        const queue = createTypeOrmQueue({ dataSource: await shared.open(), tableName, leaseMs: 400, pollIntervalMs: 20, workerId: name });
        await queue.start(async () => {
          runs.push(name);
          await sleep(1500);
        });
        return queue;
      }),
    );
    await queues[0].enqueue({ requestId: 'long' });
    await Promise.all(queues.map((queue) => queue.drain()));
    await Promise.all(queues.map((queue) => queue.close()));
    expect(runs).toHaveLength(1);
  });

  it('aborts the handler\'s signal when its lease is taken from it, and the stale worker then changes nothing', async () => {
    const tableName = freshTable();
    const queue = createTypeOrmQueue({ dataSource, tableName, leaseMs: 300, pollIntervalMs: 20 });
    const q = (name: string) => dataSource.driver.escape(name);
    let aborted = false;
    await queue.start(async (_job, context) => {
      // Another owner takes the row over, as a worker would after this one stalled past its lease.
      await dataSource.query(`UPDATE ${q(tableName)} SET ${q('lease_owner')} = 'someone-else', ${q('lease_expires_at')} = ${Date.now() + 60_000}`);
      await new Promise<void>((resolve) => {
        context!.signal.addEventListener('abort', () => resolve());
        setTimeout(resolve, 3000);
      });
      aborted = context!.signal.aborted;
    });
    await queue.enqueue({ requestId: 'stolen' });
    const deadline = Date.now() + 5000;
    while (!aborted && Date.now() < deadline) await sleep(20);
    await queue.close();
    expect(aborted).toBe(true);
    // Its success did not delete the job the new owner holds.
    const rows = await dataSource.query(`SELECT ${q('lease_owner')} AS o FROM ${q(tableName)}`);
    expect(rows).toEqual([{ o: 'someone-else' }]);
  });

  it('takes over the job of a worker process killed mid-job once its lease expires, and not before', async () => {
    const shared = await openShared();
    const tableName = freshTable();
    const leaseMs = 1500;
    const local = createTypeOrmQueue({ dataSource: await shared.open(), tableName, leaseMs, pollIntervalMs: 25 });
    await local.enqueue({ requestId: 'long-job', tenantId: 'org-a' });

    const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify({ options: shared.options, tableName, leaseMs })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const startedLine = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const line = out.split('\n').find((l) => l.startsWith('started '));
        if (line) resolve(line);
      });
      child.on('exit', (code) => reject(new Error(`worker exited (${code}) before starting the job: ${stderr}`)));
    });
    const startedAt = Date.now();
    expect(startedLine).toBe('started long-job 1');
    // Let it heartbeat a few times, then kill it without any cleanup.
    await sleep(leaseMs);
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const killedAt = Date.now();

    const deliveries: Array<{ requestId: string; tenantId: string | null | undefined; attempt: number; at: number }> = [];
    await local.start(async (job, context?: QueueJobContext) => {
      deliveries.push({ requestId: job.requestId, tenantId: job.tenantId, attempt: context!.attempt, at: Date.now() });
    });
    await local.drain();
    await local.close();
    expect(deliveries.map(({ at: _at, ...rest }) => rest)).toEqual([{ requestId: 'long-job', tenantId: 'org-a', attempt: 2 }]);
    // The dead worker's last heartbeat was no earlier than when it started the job, so its lease outlived that by leaseMs.
    expect(deliveries[0].at - startedAt).toBeGreaterThanOrEqual(leaseMs);
    expect(deliveries[0].at).toBeGreaterThanOrEqual(killedAt);
    const q = (name: string) => shared.options.type === 'postgres' || shared.options.type === 'better-sqlite3' ? `"${name}"` : `\`${name}\``;
    const [{ n }] = await (await shared.open()).query(`SELECT COUNT(*) AS n FROM ${q(tableName)}`);
    expect(Number(n)).toBe(0);
  });
});

describe('TypeORM queue options', () => {
  it('refuses a table name that is not a plain identifier, with a VALIDATION error', () => {
    expect(() => createTypeOrmQueue({ dataSource: new DataSource({ type: 'better-sqlite3', database: ':memory:' }), tableName: 'jobs; drop table x' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
  });
});
