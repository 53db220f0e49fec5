import { randomUUID } from 'node:crypto';
import { AdapterError } from '../errors.js';
import { DataSource, type QueryRunner } from 'typeorm';
import { type Dialect, SqlParams, dialectOf, quoteIdentifier, quoteTablePath } from './dialect.js';
import type { SqlExecutor } from './dialect.js';
import type { PrivacyRequest, Regulation, RequestStatus, RequestType, ReviewItem } from '../request.js';

/** Everything about a request that is not a column of its own. */
export interface RequestBody {
  regulation: Regulation;
  warnings: string[];
  review: ReviewItem[];
  error?: { code: string; message: string };
  outcome?: Record<string, unknown>;
  /** Operation input (e.g. which request a restore undoes) — ids only. */
  params?: Record<string, unknown>;
  /** Set on an erasure request once a restore or purge has acted on it. */
  restoredAt?: number;
  restoredBy?: string;
  purgedAt?: number;
  purgedBy?: string;
  /** Deadline extensions (times in epoch ms). */
  deadlineExtensions?: Array<{ days: number; reason: string; by: string; at: number }>;
  /** Where a running operation stopped, so another worker resumes instead of repeating. */
  checkpoint?: Record<string, unknown>;
}

export interface StoredRequest {
  id: string;
  type: RequestType;
  status: RequestStatus;
  subjectType: string;
  subjectId: string;
  tenantId: string | null;
  requestedBy: string;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  dueAt: number;
  progressDone: number;
  progressTotal: number;
  body: RequestBody;
  /** The worker running the request and until when its claim holds (epoch ms, wall clock); null when none does. */
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
}

export interface NewRequest {
  type: RequestType;
  subjectType: string;
  subjectId: string;
  tenantId: string | null;
  requestedBy: string;
  regulation: Regulation;
  now: number;
  dueAt: number;
  params?: Record<string, unknown>;
  /** When set, a second queued/running request of this family for the same subject is refused by the database. */
  activeFamily?: ActiveFamily;
}

/** Requests of one family run one at a time per subject: exports side by side with erasures, erasures one by one. */
export type ActiveFamily = 'export' | 'erasure';

export type RequestPatch = Partial<Pick<StoredRequest, 'status' | 'startedAt' | 'finishedAt' | 'progressDone' | 'progressTotal' | 'dueAt'>> & {
  body?: Partial<RequestBody>;
  releaseActiveKey?: boolean;
  /** Takes the active key again (a retried request); the unique index refuses it while another request holds it. */
  acquireActiveFamily?: ActiveFamily;
  /** Clears the lease: the request's work ended (or never started). */
  releaseLease?: boolean;
};

const COLUMNS = [
  'id', 'type', 'status', 'subject_type', 'subject_id', 'tenant_id', 'requested_by', 'active_family', 'created_at', 'updated_at',
  'started_at', 'finished_at', 'due_at', 'progress_done', 'progress_total', 'body',
] as const;

/** Persists requests in the engine's table; the table, not the queue, is the source of truth. */
export class RequestStore {
  private readonly dialect: Dialect;
  private readonly table: string;

  constructor(
    private readonly dataSource: DataSource,
    /** Table path, schema-qualified where the DataSource names a schema. */
    tablePath: string,
  ) {
    this.dialect = dialectOf(dataSource);
    this.table = quoteTablePath(dataSource, tablePath);
  }

  private q(name: string): string {
    return quoteIdentifier(this.dataSource, name);
  }

  async insert(input: NewRequest): Promise<StoredRequest> {
    const row: StoredRequest = {
      id: randomUUID(),
      type: input.type,
      status: 'queued',
      subjectType: input.subjectType,
      subjectId: input.subjectId,
      tenantId: input.tenantId,
      requestedBy: input.requestedBy,
      createdAt: input.now,
      updatedAt: input.now,
      startedAt: null,
      finishedAt: null,
      dueAt: input.dueAt,
      progressDone: 0,
      progressTotal: 0,
      leaseOwner: null,
      leaseExpiresAt: null,
      body: { regulation: input.regulation, warnings: [], review: [], ...(input.params ? { params: input.params } : {}) },
    };
    const params = new SqlParams(this.dialect);
    const values = [
      row.id, row.type, row.status, row.subjectType, row.subjectId, row.tenantId, row.requestedBy, input.activeFamily ?? null,
      row.createdAt, row.updatedAt, null, null, row.dueAt, 0, 0, JSON.stringify(row.body),
    ].map((v) => params.add(v));
    await this.dataSource.query(
      `INSERT INTO ${this.table} (${COLUMNS.map((c) => this.q(c)).join(', ')}) VALUES (${values.join(', ')})`,
      params.values,
    );
    return row;
  }

  async get(id: string, executor: SqlExecutor = this.dataSource): Promise<StoredRequest | null> {
    const params = new SqlParams(this.dialect);
    const rows = await executor.query(`SELECT * FROM ${this.table} WHERE ${this.q('id')} = ${params.add(id)}`, params.values);
    return rows.length ? this.fromRow(rows[0]) : null;
  }

  /** The queued or running request of a family for one subject (type and canonical id), if any. */
  async findActive(subjectType: string, subjectId: string, family: ActiveFamily): Promise<StoredRequest | null> {
    const params = new SqlParams(this.dialect);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT * FROM ${this.table} WHERE ${this.q('subject_type')} = ${params.add(subjectType)} AND ${this.q('subject_id')} = ${params.add(subjectId)} AND ${this.q('active_family')} = ${params.add(family)}`,
      params.values,
    );
    const found = rows.map((r) => this.fromRow(r)).find((r) => r.subjectType === subjectType && r.subjectId === subjectId);
    return found ?? null;
  }

  /** Requests a crashed or stopped process left queued or running (or cancelled but not yet ended), oldest first. */
  async listUnfinished(): Promise<StoredRequest[]> {
    const rows = await this.dataSource.query(
      `SELECT * FROM ${this.table} WHERE ${this.q('status')} IN ('queued', 'running') OR (${this.q('status')} = 'cancelled' AND ${this.q('finished_at')} IS NULL) ORDER BY ${this.q('created_at')}`,
    );
    return rows.map((r: Record<string, unknown>) => this.fromRow(r));
  }

  /** The oldest queued requests (offered to the queue again when a rate limit deferred them). */
  async listQueued(limit: number): Promise<StoredRequest[]> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT * FROM ${this.table} WHERE ${this.q('status')} = 'queued' ORDER BY ${this.q('created_at')} LIMIT ${Math.trunc(limit)}`,
    );
    return rows.map((r) => this.fromRow(r));
  }

  /**
   * Requests changed at or after `since` (the writer's clock, epoch ms), oldest change first, at most `limit`:
   * what another process's event poller reads.
   */
  async listChangedSince(since: number, limit: number): Promise<StoredRequest[]> {
    const params = new SqlParams(this.dialect);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT * FROM ${this.table} WHERE ${this.q('updated_at')} >= ${params.add(since)} ORDER BY ${this.q('updated_at')}, ${this.q('id')} LIMIT ${Math.trunc(limit)}`,
      params.values,
    );
    return rows.map((r) => this.fromRow(r));
  }

  /** The latest change time in the table (the event poller starts from there), or null when it is empty. */
  async lastChange(): Promise<number | null> {
    const [row] = await this.dataSource.query(`SELECT MAX(${this.q('updated_at')}) AS ${this.q('m')} FROM ${this.table}`);
    return row?.m === null || row?.m === undefined ? null : Number(row.m);
  }

  /** Running requests whose lease expired before `wallNow`: their worker died or stopped heartbeating. */
  async listExpiredLeases(wallNow: number): Promise<StoredRequest[]> {
    const params = new SqlParams(this.dialect);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT * FROM ${this.table} WHERE ${this.q('status')} = 'running' AND ${this.q('lease_expires_at')} < ${params.add(wallNow)} ORDER BY ${this.q('created_at')} LIMIT 100`,
      params.values,
    );
    return rows.map((r) => this.fromRow(r));
  }

  async list(filter: {
    subjectType?: string;
    subjectId?: string;
    tenantId?: string | null;
    type?: RequestType;
    status?: RequestStatus;
    limit?: number;
    /** Only requests still open (queued or running) whose deadline passed before this time. */
    overdueAt?: number;
    /** Only requests after this one in the list's order (newest first): a page's cursor. */
    before?: { createdAt: number; id: string };
  }): Promise<StoredRequest[]> {
    const params = new SqlParams(this.dialect);
    const where: string[] = [];
    if (filter.overdueAt !== undefined) where.push(`${this.q('status')} IN ('queued', 'running') AND ${this.q('due_at')} < ${params.add(filter.overdueAt)}`);
    if (filter.before) {
      const c = this.q('created_at');
      where.push(`(${c} < ${params.add(filter.before.createdAt)} OR (${c} = ${params.add(filter.before.createdAt)} AND ${this.q('id')} > ${params.add(filter.before.id)}))`);
    }
    if (filter.subjectType !== undefined) where.push(`${this.q('subject_type')} = ${params.add(filter.subjectType)}`);
    if (filter.subjectId !== undefined) where.push(`${this.q('subject_id')} = ${params.add(filter.subjectId)}`);
    if (filter.tenantId !== undefined && filter.tenantId !== null) where.push(`${this.q('tenant_id')} = ${params.add(filter.tenantId)}`);
    if (filter.type) where.push(`${this.q('type')} = ${params.add(filter.type)}`);
    if (filter.status) where.push(`${this.q('status')} = ${params.add(filter.status)}`);
    const rows = await this.dataSource.query(
      `SELECT * FROM ${this.table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${this.q('created_at')} DESC, ${this.q('id')} LIMIT ${Math.trunc(filter.limit ?? 100)}`,
      params.values,
    );
    // The key columns compare exactly (binary collation on MySQL); checked again here so no collation can widen a filter.
    return rows
      .map((r: Record<string, unknown>) => this.fromRow(r))
      .filter(
        (r: StoredRequest) =>
          (filter.subjectType === undefined || r.subjectType === filter.subjectType) &&
          (filter.subjectId === undefined || r.subjectId === filter.subjectId) &&
          (filter.tenantId === undefined || filter.tenantId === null || r.tenantId === filter.tenantId),
      );
  }

  /** Every request matching the filter, oldest first, a page at a time (for sweeps such as purgeExpired). */
  async *iterate(filter: { type?: RequestType; status?: RequestStatus }): AsyncGenerator<StoredRequest> {
    let after: { createdAt: number; id: string } | null = null;
    for (;;) {
      const params = new SqlParams(this.dialect);
      const where: string[] = [];
      if (filter.type) where.push(`${this.q('type')} = ${params.add(filter.type)}`);
      if (filter.status) where.push(`${this.q('status')} = ${params.add(filter.status)}`);
      if (after) {
        const c = this.q('created_at');
        where.push(`(${c} > ${params.add(after.createdAt)} OR (${c} = ${params.add(after.createdAt)} AND ${this.q('id')} > ${params.add(after.id)}))`);
      }
      const rows: Record<string, unknown>[] = await this.dataSource.query(
        `SELECT * FROM ${this.table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${this.q('created_at')}, ${this.q('id')} LIMIT 500`,
        params.values,
      );
      for (const row of rows) yield this.fromRow(row);
      if (rows.length < 500) return;
      const last = this.fromRow(rows[rows.length - 1]);
      after = { createdAt: last.createdAt, id: last.id };
    }
  }

  /**
   * Claims a request for one worker: a queued one, or a running one whose lease expired (its worker died or stopped
   * heartbeating). A running request under a live lease is refused, so no request runs twice at once.
   * `wallNow` is the wall clock (leases must not follow a host's test clock). Returns the claimed request or null.
   */
  async claim(id: string, owner: string, wallNow: number, leaseMs: number, now: number, executor: SqlExecutor = this.dataSource): Promise<StoredRequest | null> {
    const params = new SqlParams(this.dialect);
    const expires = this.q('lease_expires_at');
    const sql = `UPDATE ${this.table} SET ${this.q('status')} = 'running', ${this.q('lease_owner')} = ${params.add(owner)}, ${expires} = ${params.add(wallNow + leaseMs)},
      ${this.q('started_at')} = COALESCE(${this.q('started_at')}, ${params.add(now)}), ${this.q('updated_at')} = ${params.add(now)}
      WHERE ${this.q('id')} = ${params.add(id)} AND (${this.q('status')} = 'queued' OR (${this.q('status')} = 'running' AND (${expires} IS NULL OR ${expires} < ${params.add(wallNow)})))`;
    if ((await countedUpdate(executor, sql, params.values)) === 0) return null;
    const claimed = await this.get(id, executor);
    return claimed?.leaseOwner === owner ? claimed : null;
  }

  /** Extends a lease this worker still holds; false once another worker took the request over or its work ended. */
  async renewLease(id: string, owner: string, wallNow: number, leaseMs: number): Promise<boolean> {
    const params = new SqlParams(this.dialect);
    const sql = `UPDATE ${this.table} SET ${this.q('lease_expires_at')} = ${params.add(wallNow + leaseMs)} WHERE ${this.q('id')} = ${params.add(id)} AND ${this.q('lease_owner')} = ${params.add(owner)} AND ${this.q('status')} = 'running'`;
    return (await countedUpdate(this.dataSource, sql, params.values)) === 1;
  }

  /**
   * Applies a patch; with `onlyIfStatus` it is a compare-and-set on the status, so two workers cannot
   * both take the same queued request. With `leaseOwner` it is also fenced by the lease: a worker that lost
   * the request changes nothing. Returns the updated request, or null when a condition failed.
   */
  async update(
    id: string,
    patch: RequestPatch,
    now: number,
    onlyIfStatus?: RequestStatus[],
    executor: SqlExecutor = this.dataSource,
    leaseOwner?: string,
  ): Promise<StoredRequest | null> {
    if (!(await this.apply(id, patch, now, onlyIfStatus, executor, leaseOwner))) return null;
    return this.get(id, executor);
  }

  /** update() without reading the request back (a batch's checkpoint: one round trip fewer); true when written. */
  async apply(
    id: string,
    patch: RequestPatch,
    now: number,
    onlyIfStatus?: RequestStatus[],
    executor: SqlExecutor = this.dataSource,
    leaseOwner?: string,
  ): Promise<boolean> {
    const current = await this.get(id, executor);
    if (!current || (onlyIfStatus && !onlyIfStatus.includes(current.status))) return false;
    if (leaseOwner !== undefined && current.leaseOwner !== leaseOwner) return false;
    const body: RequestBody = { ...current.body, ...(patch.body ?? {}) };
    const params = new SqlParams(this.dialect);
    const sets: string[] = [
      `${this.q('updated_at')} = ${params.add(now)}`,
      `${this.q('body')} = ${params.add(JSON.stringify(body))}`,
    ];
    const columns: Array<[keyof RequestPatch, string]> = [
      ['status', 'status'], ['startedAt', 'started_at'], ['finishedAt', 'finished_at'], ['progressDone', 'progress_done'], ['progressTotal', 'progress_total'], ['dueAt', 'due_at'],
    ];
    for (const [key, column] of columns) {
      if (patch[key] !== undefined) sets.push(`${this.q(column)} = ${params.add(patch[key])}`);
    }
    if (patch.releaseActiveKey) sets.push(`${this.q('active_family')} = NULL`);
    else if (patch.acquireActiveFamily !== undefined) sets.push(`${this.q('active_family')} = ${params.add(patch.acquireActiveFamily)}`);
    if (patch.releaseLease) sets.push(`${this.q('lease_owner')} = NULL`, `${this.q('lease_expires_at')} = NULL`);
    let where = `${this.q('id')} = ${params.add(id)}`;
    if (onlyIfStatus) where += ` AND ${this.q('status')} IN (${onlyIfStatus.map((s) => params.add(s)).join(', ')})`;
    if (leaseOwner !== undefined) where += ` AND ${this.q('lease_owner')} = ${params.add(leaseOwner)}`;
    const sql = `UPDATE ${this.table} SET ${sets.join(', ')} WHERE ${where}`;
    if (onlyIfStatus || leaseOwner !== undefined) return (await countedUpdate(executor, sql, params.values)) > 0;
    await executor.query(sql, params.values);
    return true;
  }

  private fromRow(row: Record<string, unknown>): StoredRequest {
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return {
      id: String(row.id),
      type: row.type as RequestType,
      status: row.status as RequestStatus,
      subjectType: String(row.subject_type),
      subjectId: String(row.subject_id),
      tenantId: row.tenant_id === null || row.tenant_id === undefined ? null : String(row.tenant_id),
      requestedBy: String(row.requested_by),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
      startedAt: num(row.started_at),
      finishedAt: num(row.finished_at),
      dueAt: Number(row.due_at),
      progressDone: Number(row.progress_done),
      progressTotal: Number(row.progress_total),
      leaseOwner: row.lease_owner === null || row.lease_owner === undefined ? null : String(row.lease_owner),
      leaseExpiresAt: num(row.lease_expires_at),
      body: JSON.parse(String(row.body)) as RequestBody,
    };
  }
}

/**
 * How many rows an UPDATE changed, read from TypeORM's structured result (`affected`) or a driver's own shape:
 * [rows, count] on PostgreSQL, `affectedRows` on MySQL/MariaDB, `changes` on better-sqlite3. A bare number is
 * refused: TypeORM's plain query() on SQLite returns the last insert rowid there, not a count. A shape it does not
 * know fails closed: a compare-and-set must never pass by guesswork.
 */
export function affectedRows(result: unknown): number {
  const count = (n: unknown) => (Number.isSafeInteger(n) && (n as number) >= 0 ? (n as number) : undefined);
  if (Array.isArray(result) && count(result[1]) !== undefined) return result[1];
  if (result && typeof result === 'object' && !Array.isArray(result)) {
    const r = result as Record<string, unknown>;
    const n = count(r.affected) ?? count(r.affectedRows) ?? count(r.changes);
    if (n !== undefined) return n;
  }
  throw new AdapterError('database', 'The database driver did not say how many rows an UPDATE changed');
}

/** Runs an UPDATE (or DELETE) and returns how many rows it changed, on the caller's transaction when it has one. */
export async function countedUpdate(executor: SqlExecutor, sql: string, parameters: unknown[] = []): Promise<number> {
  const runner = (executor as { queryRunner?: QueryRunner }).queryRunner;
  if (runner) return affectedRows(await runner.query(sql, parameters, true));
  if (executor instanceof DataSource) {
    const own = executor.createQueryRunner();
    try {
      return affectedRows(await own.query(sql, parameters, true));
    } finally {
      await own.release();
    }
  }
  return affectedRows(await executor.query(sql, parameters));
}

export function toPublicRequest(stored: StoredRequest, now: number): PrivacyRequest {
  const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());
  const total = stored.progressTotal;
  const done = Math.min(stored.progressDone, total || stored.progressDone);
  const percent = stored.status === 'completed' ? 100 : total > 0 ? Math.floor((done / total) * 100) : 0;
  let eta: string | undefined;
  if (stored.status === 'running' && stored.startedAt !== null && done > 0 && total > done) {
    const elapsed = now - stored.startedAt;
    eta = new Date(now + (elapsed / done) * (total - done)).toISOString();
  }
  const request: PrivacyRequest = {
    id: stored.id,
    type: stored.type,
    status: stored.status,
    subject: { type: stored.subjectType, id: stored.subjectId, tenantId: stored.tenantId },
    requestedBy: stored.requestedBy,
    regulation: stored.body.regulation,
    createdAt: iso(stored.createdAt)!,
    dueAt: iso(stored.dueAt)!,
    progress: { done, total, percent },
    warnings: [...stored.body.warnings],
    review: [...stored.body.review],
  };
  if (stored.startedAt !== null) request.startedAt = iso(stored.startedAt);
  if (stored.finishedAt !== null) request.finishedAt = iso(stored.finishedAt);
  if (eta) request.eta = eta;
  if (stored.body.error) request.error = stored.body.error;
  if (stored.body.deadlineExtensions?.length) request.deadlineExtensions = stored.body.deadlineExtensions.map((e) => ({ ...e, at: iso(e.at)! }));
  if (stored.body.outcome) request.outcome = stored.body.outcome;
  if (stored.type === 'export') withArtifactStatus(request, stored, now);
  return request;
}

/** An export's artifact carries its status as of `now`: pending until stored, then ready, downloaded or expired. */
function withArtifactStatus(request: PrivacyRequest, stored: StoredRequest, now: number): void {
  const artifact = (stored.body.outcome as { artifact?: { expiresAt: string; deletedAt?: string; downloadedAt?: string } } | undefined)?.artifact;
  if (!artifact) {
    if (stored.status === 'queued' || stored.status === 'running') request.outcome = { artifact: { status: 'pending' } };
    return;
  }
  const status = artifact.deletedAt || now >= Date.parse(artifact.expiresAt) ? 'expired' : artifact.downloadedAt ? 'downloaded' : 'ready';
  request.outcome = { ...stored.body.outcome, artifact: { ...artifact, status } };
}
