import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createBullMqQueue } from '../../src/adapters/bullmq.js';
import { createTypeOrmQueue } from '../../src/adapters/typeorm-queue.js';
import type { QueuePort } from '../../src/ports/index.js';
import { type BenchCase, type CaseContext, ADMIN, elapsed, startEngine, startTimer } from '../harness.js';
import { OTHER_CONTACTS, SUBJECT_ID } from '../schema.js';
import { openDataSource } from '../seed.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Each worker process runs this many requests at once. */
const CONCURRENCY = 2;

/**
 * Small export requests (the tenant's other contacts, ~40 rows each) run by 1 or 2 worker PROCESSES sharing a
 * durable queue: the TypeORM table queue in the same database, or BullMQ on Redis. This process only asks (its
 * engine's queue never starts a worker); requests per second from the first engine.export() call until every
 * request is completed. The workers are started (and report ready) before the clock starts.
 */
export function queueDurable(kind: 'typeorm' | 'bullmq', processes: 1 | 2): BenchCase {
  return {
    name: `queue-${kind}-${processes}p`,
    operation: 'queue',
    role: 'engine',
    databases: kind === 'typeorm' ? ['postgres', 'mysql'] : ['postgres'],
    oncePerDatabase: true,
    async run(ctx) {
      const queueName = `pe-bench-${randomUUID().slice(0, 8)}`;
      const queueSource = kind === 'typeorm' ? await openDataSource(ctx.db, ctx.database) : undefined;
      const shared: QueuePort = queueSource ? createTypeOrmQueue({ dataSource: queueSource }) : createBullMqQueue({ redisUrl: REDIS_URL, queueName });
      // Enqueues only: this process is the web app, the workers run the requests.
      const askOnly: QueuePort = { name: shared.name, enqueue: (job) => shared.enqueue(job), start: async () => undefined, drain: async () => undefined, close: () => shared.close() };
      const workers = await Promise.all(Array.from({ length: processes }, () => startWorker(ctx, kind, queueName)));
      const { engine, dataSource, stop } = await startEngine(ctx, { queue: askOnly });
      try {
        const subjects = Array.from({ length: ctx.queueRequests }, (_, i) => SUBJECT_ID + 1 + (i % (OTHER_CONTACTS / 2)));
        const t0 = startTimer();
        const ids: string[] = [];
        for (const subjectId of subjects) ids.push((await engine.export({ subjectId, actor: ADMIN })).id);
        const q = (n: string) => dataSource.driver.escape(n);
        const inList = ids.map((id) => `'${id}'`).join(', ');
        for (;;) {
          const [row] = await dataSource.query(`SELECT COUNT(*) AS n FROM ${q('privacy_requests')} WHERE ${q('id')} IN (${inList}) AND ${q('status')} IN ('completed', 'failed', 'cancelled')`);
          if (Number(row.n) === ids.length) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const seconds = elapsed(t0);
        const [done] = await dataSource.query(`SELECT COUNT(*) AS n FROM ${q('privacy_requests')} WHERE ${q('id')} IN (${inList}) AND ${q('status')} = 'completed'`);
        if (Number(done.n) !== ids.length) throw new Error(`${ids.length - Number(done.n)} of ${ids.length} requests did not complete`);
        return { rows: ids.length, seconds, unit: 'requests', extra: { queue: kind, worker_processes: processes, concurrency_per_process: CONCURRENCY } };
      } finally {
        await Promise.all(workers.map(stopWorker));
        await stop();
        await queueSource?.destroy();
      }
    },
  };
}

function startWorker(ctx: CaseContext, kind: 'typeorm' | 'bullmq', queueName: string): Promise<ChildProcess> {
  // Run from the repository root (npm run bench): the worker runs from source under tsx.
  const script = path.resolve('bench', 'queue-worker.ts');
  const input = { db: ctx.db, database: ctx.database, batchSize: ctx.batchSize, workDir: ctx.workDir, queue: kind, concurrency: CONCURRENCY, queueName, redisUrl: REDIS_URL };
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(input)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += String(chunk);
      if (out.includes('READY\n')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`queue worker exited (${code}) before it was ready`)));
  });
}

function stopWorker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on('exit', () => resolve());
    child.stdin!.end();
  });
}
