import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import type { DataSource } from 'typeorm';
import { type Actor, type PrivacyRequest, PrivacyEngine, createLocalStorage } from '../src/index.js';
import type { ClockPort, QueuePort } from '../src/ports/index.js';
import { BENCH_TABLES, Contact, SUBJECT_ID, TENANT_ID } from './schema.js';
import { type DbKind, openDataSource } from './seed.js';

/** What every case is told by the orchestrator (bench/run.ts) through bench/child.ts. */
export interface CaseContext {
  db: DbKind;
  /** Database to work on: `pe_bench_<n>`, or its scratch copy for cases that change data. */
  database: string;
  /** The subject's rows in that database. */
  rows: number;
  batchSize: number;
  /** An empty folder for files the case writes (archives); removed afterwards. */
  workDir: string;
  /** Time box of the naive row-by-row loops; their full-N time is extrapolated from it. */
  naiveSeconds: number;
  /** Requests of the queue cases. */
  queueRequests: number;
}

export interface CaseOutput {
  /** Units processed: the subject's rows, or requests for the queue cases. */
  rows: number;
  seconds: number;
  unit?: 'rows' | 'requests';
  /** Anything else worth keeping in the JSON (max rows per transaction, archive size, extrapolation...). */
  extra?: Record<string, unknown>;
}

export type Operation = 'baseline' | 'export' | 'anonymize' | 'delete' | 'purge' | 'queue';
export type Role = 'engine' | 'floor' | 'naive';

export interface BenchCase {
  name: string;
  operation: Operation;
  role: Role;
  databases: DbKind[];
  /** Changes the data: runs on a fresh scratch copy of the seeded database. */
  mutates?: boolean;
  /** Runs once per database, on the smallest N (its work does not depend on N). */
  oncePerDatabase?: boolean;
  /** A reason when the case cannot run in this build (checked at run time); it is then reported, not run. */
  unavailable?(): string | undefined;
  run(ctx: CaseContext): Promise<CaseOutput>;
}

/** Marks the child's result line on stdout. */
export const RESULT_PREFIX = 'BENCH_RESULT ';

export const ADMIN: Actor = { id: 'bench-admin', roles: ['admin'], tenantId: TENANT_ID };
const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
const HOUR = 60 * 60 * 1000;

let profiler: Session | undefined;
let profileWritten: Promise<void> = Promise.resolve();
let cpuAtStart: { process: NodeJS.CpuUsage; machine: number | undefined } | undefined;
let timedCpu: { process_cpu_s: number; machine_cpu_s: number | null } | undefined;

/** Busy CPU seconds of the whole machine since boot (Linux /proc/stat): the database servers' work included. */
function machineCpu(): number | undefined {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait (USER_HZ = 100).
    const busy = ticks.slice(0, 8).reduce((a, b) => a + b, 0) - ticks[3] - ticks[4];
    return busy / 100;
  } catch {
    return undefined;
  }
}

/** CPU seconds spent while the clock ran: this process (all its threads, the libuv pool included) and the machine. */
export function timedCpuSeconds(): typeof timedCpu {
  return timedCpu;
}

/**
 * Starts a case's clock. With BENCH_CPU_PROFILE=<file> (npm run bench -- --profile) it also starts the V8 CPU
 * profiler, so the profile covers the timed work only, not start-up.
 */
export function startTimer(): number {
  const file = process.env.BENCH_CPU_PROFILE;
  if (file && !profiler) {
    profiler = new Session();
    profiler.connect();
    profiler.post('Profiler.enable');
    profiler.post('Profiler.start');
  }
  cpuAtStart = { process: process.cpuUsage(), machine: machineCpu() };
  return performance.now();
}

/** Seconds since startTimer(); stops and writes the CPU profile when one is running. */
export function elapsed(t0: number): number {
  const seconds = (performance.now() - t0) / 1000;
  if (cpuAtStart) {
    const used = process.cpuUsage(cpuAtStart.process);
    const machine = machineCpu();
    timedCpu = {
      process_cpu_s: Number(((used.user + used.system) / 1e6).toFixed(2)),
      machine_cpu_s: machine !== undefined && cpuAtStart.machine !== undefined ? Number((machine - cpuAtStart.machine).toFixed(2)) : null,
    };
    cpuAtStart = undefined;
  }
  const session = profiler;
  if (session) {
    profiler = undefined;
    profileWritten = new Promise((resolve, reject) =>
      session.post('Profiler.stop', (error, result) => {
        if (error) return reject(error);
        writeFileSync(process.env.BENCH_CPU_PROFILE!, JSON.stringify(result.profile));
        session.disconnect();
        resolve();
      }),
    );
  }
  return seconds;
}

export function profileFlushed(): Promise<void> {
  return profileWritten;
}

export interface BenchEngine {
  engine: PrivacyEngine;
  dataSource: DataSource;
  stop(): Promise<void>;
}

/** Connects and starts an engine the way a host does; timing starts after this. */
/** The engine with encryption at rest turned off: only to measure what encrypting the archive costs. */
class PlaintextArchiveEngine extends PrivacyEngine {
  protected override readonly encryptArchives: boolean = false;
}

export async function startEngine(
  ctx: Pick<CaseContext, 'db' | 'database' | 'batchSize' | 'workDir'>,
  options: { queue?: QueuePort; clock?: ClockPort; plaintextArchives?: boolean; lease?: { durationMs: number; heartbeatMs?: number } } = {},
): Promise<BenchEngine> {
  const dataSource = await openDataSource(ctx.db, ctx.database);
  const { plaintextArchives, ...engineOptions } = options;
  const engine = new (plaintextArchives ? PlaintextArchiveEngine : PrivacyEngine)({
    dataSource,
    subject: Contact,
    tenantColumn: 'organizationId',
    secret: SECRET,
    storage: createLocalStorage({ directory: ctx.workDir }),
    policy: { batchSize: ctx.batchSize },
    ...engineOptions,
  });
  await engine.start();
  return {
    engine,
    dataSource,
    stop: async () => {
      await engine.stop();
      await dataSource.destroy();
    },
  };
}

/** Waits for a request and insists that it completed. */
export async function completed(engine: PrivacyEngine, request: PrivacyRequest): Promise<PrivacyRequest> {
  const done = await engine.waitForRequest(request.id, { actor: engine.system, timeoutMs: 4 * HOUR });
  if (done.status !== 'completed') throw new Error(`${done.type} request ${done.id} ended ${done.status}: ${JSON.stringify(done.error ?? null)}`);
  return done;
}

/** The engine's erasure operations exist in this build (the lead is writing them; checked at run time). */
export function erasureUnavailable(): string | undefined {
  const engine = PrivacyEngine.prototype as unknown as Record<string, unknown>;
  return typeof engine.anonymize === 'function' && typeof engine.delete === 'function' && typeof engine.purge === 'function'
    ? undefined
    : 'pending (engine erasure not built yet)';
}

/**
 * How many of the subject's rows one transaction wrote at most, measured after `work`: exact on PostgreSQL,
 * from the xmin of the rows (the transaction that wrote their current version). MariaDB has no such column
 * and sampling information_schema.innodb_trx can only give a lower bound, so it is not measured there; the
 * batching is the same code on both.
 */
export async function measureTransactions<T>(ctx: CaseContext, dataSource: DataSource, work: () => Promise<T>): Promise<{ result: T; maxRowsPerTxn?: number }> {
  const result = await work();
  return { result, maxRowsPerTxn: ctx.db === 'postgres' ? await maxRowsPerXmin(dataSource) : undefined };
}

async function maxRowsPerXmin(dataSource: DataSource): Promise<number> {
  let max = 0;
  const tables = BENCH_TABLES.map((t) => t.table);
  for (const table of tables) {
    const [row] = await dataSource.query(
      `SELECT COALESCE(MAX(n), 0) AS n FROM (SELECT COUNT(*) AS n FROM "${table}" WHERE "contactId" = $1 GROUP BY xmin::text) AS t`,
      [SUBJECT_ID],
    );
    max = Math.max(max, Number(row.n));
  }
  return max;
}
