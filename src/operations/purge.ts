import type { StoredRequest } from '../db/request-store.js';
import type { ReviewItem } from '../request.js';
import { randomBytes } from 'node:crypto';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { AdapterError } from '../errors.js';
import type { ResolvedDataMap, ResolvedEntity, ResolvedField } from '../metadata/data-map.js';
import type { RawRow } from '../db/subject-rows.js';
import { sqlOf } from '../db/dialect.js';
import { hiddenCondition } from '../db/soft-delete.js';
import { decodeRaw } from '../vault/vault.js';
import { keyMatcher, selectRows, updateRows } from '../db/batch-sql.js';
import { type HidePayload, keyString, pkNames, redactPage } from './erasure-steps.js';
import { laterInForce } from './erasure-stack.js';
import { type OperationContext, addReview, callProviders, saveCheckpoint, withStep } from './operation-context.js';
import { inTransaction } from '../db/transaction.js';

export interface PurgeOutcome {
  sourceRequestId: string;
  forced: boolean;
  keyDestroyed: boolean;
  removed: Record<string, number>;
  /** Hidden rows other kept rows still reference: their personal columns emptied, left hidden instead of removed. */
  redactedInstead: Record<string, number>;
  providers: Array<{ name: string; status: 'done' | 'manual action required' | 'failed'; error?: string }>;
}

interface PurgeCheckpoint {
  shredded: boolean;
  /** Last hide entry fully done. */
  seq: number | null;
  /** Progress inside the entry being done row by row: its seq and how many of its rows are done. */
  partial?: { seq: number; rows: number };
  removed: Record<string, number>;
  redactedInstead: Record<string, number>;
}

/**
 * Irreversible end of an erasure: the vault's data key is destroyed first (crypto-shredding), the
 * encrypted originals are deleted, then the hidden rows are removed for good, batch by batch.
 */
export async function runPurge(ctx: OperationContext, source: StoredRequest, forced: boolean): Promise<PurgeOutcome> {
  const { dataSource, map, request } = ctx;
  const review: ReviewItem[] = [...request.body.review];
  const cp = (request.body.checkpoint as PurgeCheckpoint | undefined) ?? {
    shredded: false,
    seq: null,
    removed: {},
    redactedInstead: {},
  };

  if (!cp.shredded) {
    await withStep({ step: 'shred' }, async () => {
      await ctx.vault.shred(source.id);
      await ctx.vault.deleteEntries(source.id, ['redact', 'remove', 'provider']);
    });
    cp.shredded = true;
    await saveCheckpoint(ctx, dataSource, { ...cp });
  }

  const byName = new Map<string, ResolvedEntity>(map.entities.map((e) => [e.name, e]));
  const add = (counts: Record<string, number>, name: string, n: number) => ({ ...counts, [name]: (counts[name] ?? 0) + n });
  const notOurs = await rowsNoLongerHidden(ctx, source);
  for await (const entry of ctx.vault.entries(source.id, { kinds: ['hide'], from: cp.seq ?? undefined, pageSize: HIDE_ENTRIES_PER_READ })) {
    await ctx.checkCancelled();
    const payload = entry.payload as HidePayload;
    const entity = byName.get(payload.e);
    const keys = payload.keys.map((k) => k.map(decodeRaw)).filter((k) => !notOurs.keys.get(payload.e)?.has(keyString(k)));
    if (entity && keys.length) {
      try {
        // The counts change only once the transaction has committed: a retried attempt must not count twice.
        cp.removed = await withRetry(() =>
          inTransaction(dataSource, async (tx) => {
            const removed = add(cp.removed, entity.name, await deleteHidden(tx.queryRunner!, dataSource, entity, keys));
            await saveCheckpoint(ctx, tx, { ...cp, removed, seq: entry.seq });
            return removed;
          }),
        );
        cp.seq = entry.seq;
        continue;
      } catch (error) {
        // Only "still referenced" sends rows down the row-by-row path; anything else fails the purge.
        if (!isForeignKeyViolation(error)) throw error;
      }
      // Row by row, each row's outcome committed with the checkpoint: a resumed purge neither repeats nor recounts a row.
      const from = cp.partial?.seq === entry.seq ? cp.partial.rows : 0;
      for (let i = from; i < keys.length; i++) {
        const key = keys[i];
        const partial = { seq: entry.seq, rows: i + 1 };
        try {
          cp.removed = await withRetry(() =>
            inTransaction(dataSource, async (tx) => {
              const removed = add(cp.removed, entity.name, await deleteHidden(tx.queryRunner!, dataSource, entity, [key]));
              await saveCheckpoint(ctx, tx, { ...cp, removed, partial });
              return removed;
            }),
          );
        } catch (error) {
          if (!isForeignKeyViolation(error)) throw error;
          // Kept rows point at it: it cannot go, so its personal columns are emptied for good and it stays hidden.
          const next = [...review];
          cp.redactedInstead = await withRetry(() =>
            inTransaction(dataSource, async (tx) => {
              const left = await emptyRow(tx, dataSource, map, entity, key);
              addReview(next, { item: entity.name, reason: 'hidden rows still referenced by kept rows had their personal columns emptied and stay hidden instead of removed' });
              for (const column of left) {
                addReview(next, { item: `${entity.name}.${column}`, reason: 'unique and NOT NULL without a @Redact rule: could not be emptied on a hidden row purge could not remove' });
              }
              const redactedInstead = add(cp.redactedInstead, entity.name, 1);
              await saveCheckpoint(ctx, tx, { ...cp, redactedInstead, partial }, {}, { review: next });
              return redactedInstead;
            }),
          );
          review.splice(0, review.length, ...next);
        }
        cp.partial = partial;
      }
    }
    cp.seq = entry.seq;
    await saveCheckpoint(ctx, dataSource, { ...cp });
  }
  await ctx.vault.deleteEntries(source.id, ['hide']);
  for (const restore of notOurs.restores) await ctx.vault.deleteEntries(restore, ['unhide']);

  const providers = await callProviders(ctx, 'purge', { id: source.subjectId, tenantId: source.tenantId, requestId: source.id }, review);
  const now = ctx.now().getTime();
  await inTransaction(dataSource, async (tx) => {
    await ctx.store.update(source.id, { body: { purgedAt: now, purgedBy: request.id } }, now, undefined, tx);
    await saveCheckpoint(ctx, tx, { ...cp }, {}, { review, ...(forced ? { warnings: [...request.body.warnings, 'purged-before-window-end'] } : {}) });
  });
  return { sourceRequestId: source.id, forced, keyDestroyed: true, removed: cp.removed, redactedInstead: cp.redactedInstead, providers };
}

/** DELETE of the given rows that are still hidden; returns how many the database actually removed. */
async function deleteHidden(runner: QueryRunner, dataSource: DataSource, entity: ResolvedEntity, keys: unknown[][]): Promise<number> {
  const { table, params } = sqlOf(dataSource);
  const match = await keyMatcher(runner, dataSource, entity.metadata.tablePath, pkNames(entity));
  let removed = 0;
  for (let i = 0; i < keys.length; i += 1000) {
    const p = params();
    const where = `${match(keys.slice(i, i + 1000), p)} AND ${hiddenCondition(dataSource, entity, p)}`;
    const result = await runner.query(`DELETE FROM ${table(entity.metadata.tablePath)} WHERE ${where}`, p.values, true);
    // Counting fails closed: a driver that does not say how many rows went is an error, not "all of them".
    if (typeof result.affected !== 'number') throw new AdapterError('database', `The database did not report how many ${entity.name} rows a DELETE removed`);
    removed += result.affected;
  }
  return removed;
}

function driverError(error: unknown): { code?: unknown; errno?: unknown } {
  const e = error as { driverError?: { code?: unknown; errno?: unknown }; code?: unknown; errno?: unknown } | null;
  return e?.driverError ?? e ?? {};
}

/** A DELETE refused because rows still reference the row: PostgreSQL 23503, MySQL/MariaDB 1451 (1217 on old servers), SQLite FOREIGNKEY. */
export function isForeignKeyViolation(error: unknown): boolean {
  const { code, errno } = driverError(error);
  return code === '23503' || errno === 1451 || errno === 1217 || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** Deadlocks, serialization failures, lock and statement timeouts, a busy SQLite file: the same statement may pass when tried again. */
export function isTransient(error: unknown): boolean {
  const { code, errno } = driverError(error);
  if (typeof code === 'string' && (['40P01', '40001', '55P03', '57014'].includes(code) || /^SQLITE_(BUSY|LOCKED)/.test(code))) return true;
  return errno === 1213 || errno === 1205;
}

const ATTEMPTS = 4;

/** Hide entries list keys only (a batch's worth, ~6 bytes a row as JSON): read 32 per query, not one. */
const HIDE_ENTRIES_PER_READ = 32;

/** Runs `fn` again after a transient failure, with exponential backoff (50, 100, 200 ms plus jitter); other errors pass through. */
export async function withRetry<T>(fn: () => Promise<T>, attempts = ATTEMPTS): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** (attempt - 1) + Math.floor(Math.random() * 25)));
    }
  }
}

/**
 * Empties a hidden row purge could not remove: @Redact fields on unique columns get their rule (which keeps
 * them distinct), every other column is set to NULL, or to an empty value of its type when NOT NULL ('' for
 * text, 0, false, the epoch, {}). Left alone: the row's structure — keys, foreign keys, columns other tables
 * reference, the delete-date, version and discriminator columns, the tenant column. Returns the columns that
 * could not be emptied (unique, NOT NULL, without a rule), for review.
 */
async function emptyRow(tx: EntityManager, dataSource: DataSource, map: ResolvedDataMap, entity: ResolvedEntity, key: unknown[]): Promise<string[]> {
  const [row] = (await selectRows(tx, dataSource, entity.metadata.tablePath, pkNames(entity), [key])) as RawRow[];
  if (!row) return [];
  const keep = structuralColumns(dataSource, map, entity);
  const ruled = entity.fields.filter((f) => f.redaction && f.facts.unique && !keep.has(f.column));
  if (ruled.length) await redactPage(tx, dataSource, { ...entity, fields: ruled }, [row]);
  const values = new Map<string, unknown>();
  const left: string[] = [];
  for (const field of entity.fields) {
    const column = field.column;
    if (keep.has(column) || ruled.includes(field)) continue;
    const raw = row[column.databaseName];
    if (raw === null || raw === undefined) continue;
    const empty = emptyValue(dataSource, field);
    if (empty === undefined) left.push(field.name);
    else values.set(column.databaseName, empty === null ? null : dataSource.driver.preparePersistentValue(empty, column));
  }
  const columns = entity.fields.map((f) => f.column).filter((c) => values.has(c.databaseName));
  if (columns.length) await updateRows(tx, dataSource, entity.metadata.tablePath, entity.primaryKey, columns, [{ key, values }]);
  return left;
}

function structuralColumns(dataSource: DataSource, map: ResolvedDataMap, entity: ResolvedEntity): Set<ColumnMetadata> {
  const metadata = entity.metadata;
  const keep = new Set<ColumnMetadata>(
    metadata.columns.filter((c) => c.isPrimary || c.relationMetadata || c.isDeleteDate || c.isVersion || c.isDiscriminator || c.isVirtualProperty),
  );
  for (const fk of metadata.foreignKeys) for (const c of fk.columns) keep.add(c);
  for (const other of dataSource.entityMetadatas) {
    for (const fk of other.foreignKeys) if (fk.referencedTablePath === metadata.tablePath) for (const c of fk.referencedColumns) keep.add(c);
  }
  if (entity.deleteDateColumn) keep.add(entity.deleteDateColumn);
  if (entity.isSubject && map.subject.tenantColumn) keep.add(map.subject.tenantColumn);
  return keep;
}

/** The value a column is emptied to: NULL when it may be, else an empty value of its kind; undefined when none fits. */
function emptyValue(dataSource: DataSource, field: ResolvedField): unknown {
  const { column, facts } = field;
  if (column.isNullable) return null;
  if (facts.kind === 'string' || facts.kind === 'text') return facts.unique ? randomToken(facts.length) : '';
  if (facts.unique) return undefined;
  switch (facts.kind) {
    case 'integer':
    case 'decimal':
      return 0;
    case 'boolean':
      return false;
    case 'date': {
      const type = dataSource.driver.normalizeType(column).toLowerCase();
      if (type === 'date') return '1970-01-01';
      if (type.startsWith('time') && !type.startsWith('timestamp')) return '00:00:00';
      // A MySQL TIMESTAMP starts one second after the epoch.
      return new Date(sqlOf(dataSource).dialect === 'mysql' && type.startsWith('timestamp') ? 1000 : 0);
    }
    case 'json':
      return {};
    case 'binary':
      return Buffer.alloc(0);
    default:
      if (column.enum?.length) return column.enum[0];
      if (/uuid/.test(dataSource.driver.normalizeType(column).toLowerCase())) return '00000000-0000-0000-0000-000000000000';
      return undefined;
  }
}

function randomToken(length: number | undefined): string {
  return randomBytes(16).toString('hex').slice(0, Math.max(1, Math.min(length ?? 32, 32)));
}

/**
 * Rows this erasure hid that are no longer its own: those a partial restore of it brought back (recorded as `unhide`
 * entries of the restore), and those a later erasure still standing hid again (after the host brought them back).
 * Another erasure may hold them now, so this purge leaves them alone.
 */
async function rowsNoLongerHidden(ctx: OperationContext, source: StoredRequest): Promise<{ keys: Map<string, Set<string>>; restores: string[] }> {
  const keys = new Map<string, Set<string>>();
  const collect = async (requestId: string, kind: 'hide' | 'unhide') => {
    for await (const entry of ctx.vault.entries(requestId, { kinds: [kind], pageSize: HIDE_ENTRIES_PER_READ })) {
      const { e, keys: entryKeys } = entry.payload as HidePayload;
      const set = keys.get(e) ?? new Set<string>();
      for (const key of entryKeys) set.add(keyString(key.map(decodeRaw)));
      keys.set(e, set);
    }
  };
  const restores = (await ctx.store.list({ subjectType: source.subjectType, subjectId: source.subjectId, tenantId: source.tenantId, type: 'restore', limit: 1000 }))
    .filter((r) => r.body.params?.sourceRequestId === source.id)
    .map((r) => r.id);
  for (const id of restores) await collect(id, 'unhide');
  for (const later of await laterInForce(ctx.store, source)) if (!later.body.purgedAt) await collect(later.id, 'hide');
  return { keys, restores };
}
