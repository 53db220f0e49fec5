import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DataSource, Table, TableIndex } from 'typeorm';
import { z } from 'zod';
import { AdapterError } from '../errors.js';
import { sqlOf } from '../db/dialect.js';
import type { QueueHandler, QueueJob, QueuePort } from '../ports/queue.js';
import { parseAdapterInput } from './adapter-options.js';

export interface TypeOrmQueueOptions {
  /** The host's DataSource (SQLite, PostgreSQL, MySQL or MariaDB). The queue never destroys it. */
  dataSource: DataSource;
  /** Defaults to 'privacy_jobs'. Created on first use with TypeORM's schema API. */
  tableName?: string;
  /** How often an idle worker looks for due jobs; defaults to 1000 ms. Enqueues in this process wake it at once. */
  pollIntervalMs?: number;
  /**
   * How long a claim holds without a heartbeat; defaults to 30 s. A worker that dies loses its jobs to another
   * after this long. Workers' clocks must agree to well within it.
   */
  leaseMs?: number;
  /** Heartbeat period; defaults to a third of leaseMs. */
  heartbeatMs?: number;
  /** Jobs this worker runs at once; defaults to 1. */
  concurrency?: number;
  /** Deliveries before a job is marked failed (handler failures and lease takeovers both count); defaults to 5. */
  maxAttempts?: number;
  /** First retry delay, doubled at each attempt up to maxBackoffMs; defaults to 1000 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Names this worker in lease owners; defaults to host:pid:random. */
  workerId?: string;
  /** Where polling errors go (a database that went away, say); codes and names only. */
  logger?: { warn(message: string, fields?: Record<string, unknown>): void };
}

const optionsSchema = z.object({
  dataSource: z.custom<DataSource>((d) => d instanceof DataSource || typeof (d as DataSource | undefined)?.createQueryRunner === 'function', 'a TypeORM DataSource'),
  tableName: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'letters, digits and underscores')
    .default('privacy_jobs'),
  pollIntervalMs: z.number().int().min(5).max(600_000).default(1000),
  leaseMs: z.number().int().min(200).max(86_400_000).default(30_000),
  heartbeatMs: z.number().int().min(50).optional(),
  concurrency: z.number().int().min(1).max(1000).default(1),
  maxAttempts: z.number().int().min(1).max(1000).default(5),
  backoffMs: z.number().int().min(0).max(86_400_000).default(1000),
  maxBackoffMs: z.number().int().min(0).max(86_400_000).default(300_000),
  workerId: z.string().min(1).max(80).optional(),
  logger: z.custom<{ warn(message: string, fields?: Record<string, unknown>): void }>((l) => typeof (l as { warn?: unknown } | undefined)?.warn === 'function').optional(),
});

type Status = 'waiting' | 'running' | 'failed';

interface ClaimedJob {
  job: QueueJob;
  attempt: number;
  owner: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A PII-free label for a handler's failure: its code or class name, never its message. */
function errorLabel(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const label = typeof code === 'string' ? code : error instanceof Error ? error.name : typeof error;
  return label.slice(0, 200);
}

/** How many rows a statement changed, from TypeORM's structured result; fails closed on an unknown shape. */
function affected(result: { affected?: number | null }): number {
  if (typeof result.affected === 'number') return result.affected;
  throw new AdapterError('typeorm-queue', 'The database driver did not say how many rows a statement changed');
}

/**
 * Durable jobs in the host's own database: each job is a row, claimed under a lease (owner, expiry) that a
 * heartbeat renews while the handler runs. PostgreSQL and MySQL/MariaDB claim with `FOR UPDATE SKIP LOCKED`, so
 * any number of workers share the table without blocking one another; SQLite claims in one atomic UPDATE (its
 * database lock makes one claimer at a time). A job whose lease expired (its worker stopped heartbeating) is taken
 * over; a job is removed when its handler succeeds and retried with backoff when it throws.
 */
export function createTypeOrmQueue(options: TypeOrmQueueOptions): QueuePort {
  const opts = parseAdapterInput(optionsSchema, options, 'TypeORM queue options');
  const { dataSource, concurrency, leaseMs, maxAttempts } = opts;
  const heartbeatMs = opts.heartbeatMs ?? Math.max(50, Math.floor(leaseMs / 3));
  const workerId = opts.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const sql = sqlOf(dataSource);
  const q = sql.q;
  const table = sql.table(opts.tableName);

  let ready: Promise<void> | undefined;
  let handler: QueueHandler | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let wakeAgain = false;
  const running = new Set<Promise<void>>();

  async function exec(statement: string, parameters: unknown[]): Promise<number> {
    const runner = dataSource.createQueryRunner();
    try {
      return affected(await runner.query(statement, parameters, true));
    } finally {
      await runner.release();
    }
  }

  async function createTable(): Promise<void> {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.createTable(
        new Table({
          name: opts.tableName,
          columns: [
            { name: 'request_id', type: 'varchar', length: '64', isPrimary: true },
            { name: 'tenant_id', type: 'varchar', length: '191', isNullable: true },
            { name: 'status', type: 'varchar', length: '16' },
            { name: 'attempts', type: 'integer', default: 0 },
            // Epoch milliseconds, like the engine's own tables: independent of each driver's time zone handling.
            { name: 'run_at', type: 'bigint' },
            { name: 'lease_owner', type: 'varchar', length: '128', isNullable: true },
            { name: 'lease_expires_at', type: 'bigint', isNullable: true },
            { name: 'last_error', type: 'varchar', length: '200', isNullable: true },
            { name: 'created_at', type: 'bigint' },
            { name: 'updated_at', type: 'bigint' },
          ],
          indices: [new TableIndex({ name: `IDX_${opts.tableName}_due`, columnNames: ['status', 'run_at'] })],
        }),
        true,
      );
    } catch (error) {
      // Two workers starting together both try to create it; the loser finds it there.
      if (!(await runner.hasTable(opts.tableName).catch(() => false))) throw new AdapterError('typeorm-queue', `Could not create the job table ${opts.tableName}`, error);
    } finally {
      await runner.release();
    }
  }

  const ensureTable = () => (ready ??= createTable().catch((error) => {
    ready = undefined;
    throw error;
  }));

  function dueCondition(params: ReturnType<typeof sql.params>, now: number): string {
    const n1 = params.add('waiting');
    const t1 = params.add(now);
    const n2 = params.add('running');
    const t2 = params.add(now);
    return `(${q('status')} = ${n1} AND ${q('run_at')} <= ${t1}) OR (${q('status')} = ${n2} AND ${q('lease_expires_at')} < ${t2})`;
  }

  /** Takes up to `limit` due jobs under a new lease owner and returns them. */
  async function claim(limit: number): Promise<ClaimedJob[]> {
    const owner = `${workerId}:${randomUUID()}`;
    const now = Date.now();
    const setLease = (params: ReturnType<typeof sql.params>) =>
      `${q('status')} = ${params.add('running')}, ${q('lease_owner')} = ${params.add(owner)}, ${q('lease_expires_at')} = ${params.add(now + leaseMs)}, ` +
      `${q('attempts')} = ${q('attempts')} + 1, ${q('updated_at')} = ${params.add(now)}`;

    if (sql.dialect === 'mysql') {
      // MySQL cannot UPDATE a table it selects from in a subquery: lock the candidates first, in one transaction.
      const runner = dataSource.createQueryRunner();
      try {
        await runner.startTransaction();
        const params = sql.params();
        const rows: Array<{ request_id: string }> = await runner.query(
          `SELECT ${q('request_id')} FROM ${table} WHERE ${dueCondition(params, now)} ORDER BY ${q('run_at')} LIMIT ${Math.trunc(limit)} FOR UPDATE SKIP LOCKED`,
          params.values,
        );
        if (rows.length > 0) {
          const update = sql.params();
          const set = setLease(update);
          const ids = rows.map((row) => update.add(row.request_id)).join(', ');
          await runner.query(`UPDATE ${table} SET ${set} WHERE ${q('request_id')} IN (${ids})`, update.values);
        }
        await runner.commitTransaction();
      } catch (error) {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      } finally {
        await runner.release();
      }
    } else {
      const params = sql.params();
      const set = setLease(params);
      // PostgreSQL: rows another worker is claiming are skipped, not waited for. SQLite: the statement is atomic.
      const lock = sql.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
      await exec(
        `UPDATE ${table} SET ${set} WHERE ${q('request_id')} IN (SELECT ${q('request_id')} FROM ${table} WHERE ${dueCondition(params, now)} ORDER BY ${q('run_at')} LIMIT ${Math.trunc(limit)}${lock})`,
        params.values,
      );
    }

    const params = sql.params();
    const rows: Array<{ request_id: string; tenant_id: string | null; attempts: number | string }> = await dataSource.query(
      `SELECT ${q('request_id')}, ${q('tenant_id')}, ${q('attempts')} FROM ${table} WHERE ${q('lease_owner')} = ${params.add(owner)}`,
      params.values,
    );
    const claimed: ClaimedJob[] = [];
    for (const row of rows) {
      const attempt = Number(row.attempts);
      if (attempt > maxAttempts) {
        // Taken over once too often: a job whose worker keeps dying must not loop for ever.
        await settle(row.request_id, owner, 'failed', { error: 'LEASE_EXPIRED' });
        continue;
      }
      claimed.push({ job: { requestId: row.request_id, tenantId: row.tenant_id }, attempt, owner });
    }
    return claimed;
  }

  /** Ends a delivery; only the current lease owner may (a worker that lost its lease changes nothing). */
  async function settle(requestId: string, owner: string, outcome: 'done' | Status, detail: { error?: string; runAt?: number } = {}): Promise<void> {
    const params = sql.params();
    let statement: string;
    if (outcome === 'done') {
      statement = `DELETE FROM ${table} WHERE ${q('request_id')} = ${params.add(requestId)} AND ${q('lease_owner')} = ${params.add(owner)}`;
    } else {
      const set =
        `${q('status')} = ${params.add(outcome)}, ${q('lease_owner')} = NULL, ${q('lease_expires_at')} = NULL, ` +
        `${q('run_at')} = ${params.add(detail.runAt ?? Date.now())}, ${q('last_error')} = ${params.add(detail.error ?? null)}, ${q('updated_at')} = ${params.add(Date.now())}`;
      statement = `UPDATE ${table} SET ${set} WHERE ${q('request_id')} = ${params.add(requestId)} AND ${q('lease_owner')} = ${params.add(owner)}`;
    }
    await exec(statement, params.values);
  }

  async function heartbeat(requestId: string, owner: string): Promise<boolean> {
    const params = sql.params();
    const now = Date.now();
    const set = `${q('lease_expires_at')} = ${params.add(now + leaseMs)}, ${q('updated_at')} = ${params.add(now)}`;
    return (await exec(`UPDATE ${table} SET ${set} WHERE ${q('request_id')} = ${params.add(requestId)} AND ${q('lease_owner')} = ${params.add(owner)}`, params.values)) === 1;
  }

  function backoff(attempt: number): number {
    return Math.min(opts.maxBackoffMs, opts.backoffMs * 2 ** Math.min(attempt - 1, 30));
  }

  async function run(claimed: ClaimedJob, run: QueueHandler): Promise<void> {
    const controller = new AbortController();
    const beat = setInterval(() => {
      heartbeat(claimed.job.requestId, claimed.owner).then(
        (held) => {
          if (!held) controller.abort(new AdapterError('typeorm-queue', `Lost the lease on request ${claimed.job.requestId}`));
        },
        (error) => opts.logger?.warn('typeorm-queue: heartbeat failed', { requestId: claimed.job.requestId, error: errorLabel(error) }),
      );
    }, heartbeatMs);
    try {
      let failure: unknown;
      let failed = false;
      try {
        await run(claimed.job, { attempt: claimed.attempt, signal: controller.signal });
      } catch (error) {
        failed = true;
        failure = error;
      }
      clearInterval(beat);
      if (!failed) await settle(claimed.job.requestId, claimed.owner, 'done');
      else if (claimed.attempt >= maxAttempts) await settle(claimed.job.requestId, claimed.owner, 'failed', { error: errorLabel(failure) });
      else await settle(claimed.job.requestId, claimed.owner, 'waiting', { error: errorLabel(failure), runAt: Date.now() + backoff(claimed.attempt) });
    } catch (error) {
      // The job's row could not be updated: its lease expires and another delivery follows (at least once).
      opts.logger?.warn('typeorm-queue: could not settle a job', { requestId: claimed.job.requestId, error: errorLabel(error) });
    } finally {
      clearInterval(beat);
    }
  }

  async function pollOnce(): Promise<void> {
    do {
      wakeAgain = false;
      while (!closed && handler && running.size < concurrency) {
        const jobs = await claim(concurrency - running.size);
        if (jobs.length === 0) break;
        for (const claimed of jobs) {
          const task: Promise<void> = run(claimed, handler).finally(() => {
            running.delete(task);
            wake();
          });
          running.add(task);
        }
      }
    } while (wakeAgain && !closed);
  }

  function wake(): void {
    if (closed || !handler) return;
    if (polling) {
      wakeAgain = true;
      return;
    }
    polling = pollOnce()
      .catch((error) => opts.logger?.warn('typeorm-queue: polling failed', { error: errorLabel(error) }))
      .finally(() => {
        polling = undefined;
      });
  }

  async function pending(): Promise<number> {
    const params = sql.params();
    const [row] = await dataSource.query(
      `SELECT COUNT(*) AS ${q('n')} FROM ${table} WHERE ${q('status')} IN (${params.add('waiting')}, ${params.add('running')})`,
      params.values,
    );
    return Number(row.n);
  }

  return {
    name: 'typeorm',
    async start(h) {
      await ensureTable();
      handler = h;
      closed = false;
      timer = setInterval(wake, opts.pollIntervalMs);
      wake();
    },
    async enqueue(job) {
      const parsed = parseAdapterInput(z.object({ requestId: z.string().min(1).max(64), tenantId: z.string().max(191).nullable().optional() }), job, 'queue job');
      await ensureTable();
      const now = Date.now();
      const params = sql.params();
      const values = [parsed.requestId, parsed.tenantId ?? null, 'waiting', 0, now, now, now].map((v) => params.add(v)).join(', ');
      const insert = `INSERT INTO ${table} (${['request_id', 'tenant_id', 'status', 'attempts', 'run_at', 'created_at', 'updated_at'].map(q).join(', ')}) VALUES (${values})`;
      // A job already waiting or running for this request is enough: the engine only ever enqueues request ids.
      if (sql.dialect === 'mysql') await dataSource.query(`${insert} ON DUPLICATE KEY UPDATE ${q('request_id')} = ${q('request_id')}`, params.values);
      else await dataSource.query(`${insert} ON CONFLICT (${q('request_id')}) DO NOTHING`, params.values);
      // A job that had failed for good is given a fresh start.
      const again = sql.params();
      const set = `${q('status')} = ${again.add('waiting')}, ${q('attempts')} = 0, ${q('run_at')} = ${again.add(now)}, ${q('last_error')} = NULL, ${q('updated_at')} = ${again.add(now)}`;
      await exec(`UPDATE ${table} SET ${set} WHERE ${q('request_id')} = ${again.add(parsed.requestId)} AND ${q('status')} = ${again.add('failed')}`, again.values);
      wake();
    },
    async drain() {
      await ensureTable();
      // Counts every worker's jobs: a job held by a dead worker keeps drain waiting until someone takes it over.
      while (running.size > 0 || (await pending()) > 0) await sleep(Math.min(opts.pollIntervalMs, 50));
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await polling;
      await Promise.all([...running]);
    },
  };
}
