import { setTimeout as sleep } from 'node:timers/promises';
import { type DataSource, Table, TableIndex } from 'typeorm';
import { z } from 'zod';
import { sqlOf } from '../db/dialect.js';
import { AdapterError, ValidationError } from '../errors.js';
import type { AuditHead, AuditPort, AuditRecord } from '../ports/audit.js';
import { assertFollows } from '../audit/chain.js';
import { exclusive } from '../db/transaction.js';

export interface TypeormAuditOptions {
  dataSource: DataSource;
  /** Table for the entries (`privacy_audit` by default, `schema.table` on PostgreSQL); the head pointers go into `<table>_heads`. */
  table?: string;
}

export interface TypeormAudit extends AuditPort {
  /** Creates the two tables when missing; every other method calls it first. */
  ensureTables(): Promise<void>;
  readonly tables: { entries: string; heads: string };
}

const optionsSchema = z.object({ dataSource: z.any(), table: z.string().regex(/^([A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,50}$/).optional() }).strict();

const MAX_ATTEMPTS = 50;

/**
 * Appends queue per DataSource and lock key, shared by every adapter instance in this process: per tenant and
 * table on servers, and one queue for all of SQLite, whose single connection cannot hold two transactions at once.
 */
const appendQueues = new WeakMap<DataSource, Map<string, Promise<unknown>>>();

function queueFor(dataSource: DataSource): Map<string, Promise<unknown>> {
  let queues = appendQueues.get(dataSource);
  if (!queues) appendQueues.set(dataSource, (queues = new Map()));
  return queues;
}

interface Row {
  seq: string | number;
  at: string | number;
  tenant_id: string;
  actor_id: string;
  action: string;
  request_id: string | null;
  subject_type: string | null;
  subject_id: string | null;
  subject_hash: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

function toRecord(row: Row): AuditRecord {
  const record: AuditRecord = {
    seq: Number(row.seq),
    at: new Date(Number(row.at)),
    tenantId: row.tenant_id,
    actorId: row.actor_id,
    action: row.action,
    details: JSON.parse(row.details),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
  if (row.request_id !== null) record.requestId = row.request_id;
  if (row.subject_type !== null) record.subject = { type: row.subject_type, id: row.subject_id ?? '', keyedHash: row.subject_hash ?? '' };
  return record;
}

/**
 * An append-only audit table in the host's database (SQLite, PostgreSQL, MySQL/MariaDB). Appends of one tenant
 * are serialized by a compare-and-set on its head row, inside the transaction that inserts the entry, so
 * concurrent writers (in this process or others) never fork the chain; a loser re-reads the head and retries.
 */
export function createTypeormAudit(options: TypeormAuditOptions): TypeormAudit {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success || !options.dataSource?.options) {
    throw new ValidationError('Invalid audit table options', (parsed.error?.issues ?? []).map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
  }
  const { dataSource } = options;
  const entries = options.table ?? 'privacy_audit';
  const heads = `${entries}_heads`;
  const sql = sqlOf(dataSource);
  const { q } = sql;
  const E = sql.table(entries);
  const H = sql.table(heads);
  const columns = ['tenant_id', 'seq', 'at', 'actor_id', 'action', 'request_id', 'subject_type', 'subject_id', 'subject_hash', 'details', 'prev_hash', 'hash'];
  let ready: Promise<void> | undefined;
  // Appends from this process queue up; the head's compare-and-set covers other processes.
  const queues = queueFor(dataSource);
  const lockKey = (tenantId: string) => (sql.dialect === 'sqlite' ? '*' : `${entries}\u0000${tenantId}`);

  const ensureTables = () =>
    (ready ??= (async () => {
      const longText = sql.dialect === 'mysql' ? 'longtext' : 'text';
      const runner = dataSource.createQueryRunner();
      try {
        await runner.createTable(
          new Table({
            name: entries,
            columns: [
              { name: 'id', type: sql.dialect === 'sqlite' ? 'integer' : 'bigint', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
              { name: 'tenant_id', type: 'varchar', length: '191' },
              { name: 'seq', type: 'bigint' },
              { name: 'at', type: 'bigint' },
              { name: 'actor_id', type: 'varchar', length: '191' },
              { name: 'action', type: 'varchar', length: '64' },
              { name: 'request_id', type: 'varchar', length: '64', isNullable: true },
              { name: 'subject_type', type: 'varchar', length: '128', isNullable: true },
              { name: 'subject_id', type: 'varchar', length: '191', isNullable: true },
              { name: 'subject_hash', type: 'varchar', length: '128', isNullable: true },
              { name: 'details', type: longText },
              { name: 'prev_hash', type: 'varchar', length: '64' },
              { name: 'hash', type: 'varchar', length: '64' },
            ],
            indices: [new TableIndex({ name: `IDX_${entries.split('.').pop()}_chain`, columnNames: ['tenant_id', 'seq'] })],
          }),
          true,
        );
        await runner.createTable(
          new Table({
            name: heads,
            columns: [
              { name: 'tenant_id', type: 'varchar', length: '191', isPrimary: true },
              { name: 'seq', type: 'bigint' },
              { name: 'hash', type: 'varchar', length: '64' },
            ],
          }),
          true,
        );
      } catch (cause) {
        ready = undefined;
        throw new AdapterError('typeorm-audit', `Could not create the audit tables ${entries} and ${heads}`, cause);
      } finally {
        await runner.release();
      }
    })());

  const readHead = async (tenantId: string): Promise<AuditHead | null> => {
    const params = sql.params();
    const rows: { seq: string | number; hash: string }[] = await dataSource.query(`SELECT ${q('seq')}, ${q('hash')} FROM ${H} WHERE ${q('tenant_id')} = ${params.add(tenantId)}`, params.values);
    return rows.length ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
  };

  /** One attempt: true when the record and the new head were committed, false when another writer moved the head. */
  const tryAppend = async (tenantId: string, head: AuditHead | null, record: AuditRecord): Promise<boolean> => {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      let moved: boolean;
      if (head) {
        const params = sql.params();
        const result = await runner.query(
          `UPDATE ${H} SET ${q('seq')} = ${params.add(record.seq)}, ${q('hash')} = ${params.add(record.hash)} WHERE ${q('tenant_id')} = ${params.add(tenantId)} AND ${q('seq')} = ${params.add(head.seq)} AND ${q('hash')} = ${params.add(head.hash)}`,
          params.values,
          true,
        );
        moved = result.affected === 1;
      } else {
        const params = sql.params();
        // A concurrent first append makes this fail on the primary key: that writer won.
        moved = await runner
          .query(`INSERT INTO ${H} (${q('tenant_id')}, ${q('seq')}, ${q('hash')}) VALUES (${params.add(tenantId)}, ${params.add(record.seq)}, ${params.add(record.hash)})`, params.values)
          .then(
            () => true,
            () => false,
          );
      }
      if (!moved) {
        await runner.rollbackTransaction();
        return false;
      }
      const params = sql.params();
      const values = [
        record.tenantId,
        record.seq,
        record.at.getTime(),
        record.actorId,
        record.action,
        record.requestId ?? null,
        record.subject?.type ?? null,
        record.subject?.id ?? null,
        record.subject?.keyedHash ?? null,
        JSON.stringify(record.details),
        record.prevHash,
        record.hash,
      ];
      await runner.query(`INSERT INTO ${E} (${columns.map(q).join(', ')}) VALUES (${values.map((value) => params.add(value)).join(', ')})`, params.values);
      await runner.commitTransaction();
      return true;
    } catch (cause) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => {});
      throw cause;
    } finally {
      await runner.release();
    }
  };

  const appendNow = async (tenantId: string, seal: (head: AuditHead | null) => AuditRecord): Promise<AuditRecord> => {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const head = await readHead(tenantId);
      const record = seal(head);
      assertFollows(tenantId, head, record);
      if (await tryAppend(tenantId, head, record)) return record;
      await sleep(Math.floor(Math.random() * 5 * attempt));
    }
    throw new AdapterError('typeorm-audit', `Could not append to the audit trail after ${MAX_ATTEMPTS} attempts (too many concurrent writers)`);
  };

  return {
    name: 'typeorm',
    tables: { entries, heads },
    ensureTables,
    async append(tenantId, seal) {
      await ensureTables();
      const key = lockKey(tenantId);
      const previous = queues.get(key) ?? Promise.resolve();
      // On SQLite the append's transaction also waits for the engine's own (one connection, one transaction).
      const next = previous.catch(() => {}).then(() => exclusive(dataSource, () => appendNow(tenantId, seal)));
      queues.set(key, next);
      try {
        return await next;
      } catch (cause) {
        throw cause instanceof AdapterError || cause instanceof ValidationError ? cause : new AdapterError('typeorm-audit', 'Could not append to the audit trail', cause);
      } finally {
        if (queues.get(key) === next) queues.delete(key);
      }
    },
    async list(tenantId, { afterSeq = 0, limit }) {
      await ensureTables();
      const params = sql.params();
      const rows: Row[] = await dataSource.query(
        `SELECT ${columns.map(q).join(', ')} FROM ${E} WHERE ${q('tenant_id')} = ${params.add(tenantId)} AND ${q('seq')} > ${params.add(afterSeq)} ORDER BY ${q('seq')}, ${q('id')} LIMIT ${Math.max(1, Math.trunc(limit))}`,
        params.values,
      );
      return rows.map(toRecord);
    },
    async head(tenantId) {
      await ensureTables();
      return readHead(tenantId);
    },
    async removeThrough(tenantId, seq) {
      await ensureTables();
      const params = sql.params();
      const runner = dataSource.createQueryRunner();
      try {
        const result = await runner.query(`DELETE FROM ${E} WHERE ${q('tenant_id')} = ${params.add(tenantId)} AND ${q('seq')} <= ${params.add(seq)}`, params.values, true);
        return Number(result.affected ?? 0);
      } finally {
        await runner.release();
      }
    },
  };
}
