import { createHmac } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { type RowUpdate, keyIn, selectRows } from '../db/batch-sql.js';
import { type SqlExecutor, SqlParams, dialectOf, keysetAfter, quoteTablePath, sqlOf } from '../db/dialect.js';
import { type RawRow, primaryKeyOf, subjectCondition } from '../db/subject-rows.js';
import type { ResolvedEntity } from '../metadata/data-map.js';
import { type Vault, type VaultEntry, decodeRaw, encodeRaw } from '../vault/vault.js';
import { pkNames } from './erasure-steps.js';
import { isVisibleValue } from '../db/soft-delete.js';

/**
 * What earlier erasures of a subject, still standing, already did to its rows — so that a later erasure
 * erases only what is new (rows added, fields edited since) and vaults only what it changed itself.
 *
 * Each redacting batch stores, beside its encrypted originals, a plain `digest` entry: per row, a keyed
 * digest (HMAC-SHA256 with a key of the keys port) of each value it wrote, as the database returns it. A
 * field whose current value has the digest an earlier erasure recorded still holds that erasure's output
 * and is skipped; any other value is new personal data. Rows an earlier delete hid and that are still
 * hidden are skipped whole. Only keys and digests are read, never originals, and memory stays bounded:
 * vault entries and pages both come in primary-key order per entity, so each earlier erasure is read
 * once, entry by entry, merged against the pages (at most one entry per earlier erasure is held).
 * A mismatch in that merge can only make an erasure redo work (never skip personal data): a field is
 * skipped only when its value is one an erasure wrote.
 */

/** Per redacted row, the digest of each value written, in the order of `cols` (null: column left alone). */
export interface DigestPayload {
  e: string;
  cols: string[];
  rows: Array<[unknown[], Array<string | null>]>;
}

interface Mark {
  digests?: Record<string, string>;
  hidden?: boolean;
}

interface Cursor {
  requestId: string;
  /** Last vault sequence number consumed. */
  after?: number;
  /** An entry read ahead that belongs to an entity processed later. */
  pending?: VaultEntry;
  entity?: string;
  /** Rows of consumed entries not yet matched against a page, by key. */
  buffer: Map<string, { key: unknown[]; mark: Mark }>;
}

export function valueDigest(key: Buffer, entity: string, column: string, raw: unknown): string {
  return createHmac('sha256', key).update(`${entity}\u0000${column}\u0000${JSON.stringify(encodeRaw(raw))}`).digest().subarray(0, 12).toString('base64url');
}

function rowKey(key: unknown[]): string {
  return JSON.stringify(key.map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v))));
}

export class ErasureCoverage {
  private readonly cursors: Cursor[];
  private readonly rank: Map<string, number>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly vault: Vault,
    private readonly digestKey: Buffer,
    private readonly subjectId: unknown,
    earlier: string[],
    /** Entity names in the order erasures process them. */
    order: string[],
  ) {
    this.cursors = earlier.map((requestId) => ({ requestId, buffer: new Map() }));
    this.rank = new Map(order.map((name, i) => [name, i]));
  }

  get empty(): boolean {
    return this.cursors.length === 0;
  }

  /**
   * For one page of an entity (rows in primary-key order), which fields to leave alone. Call it for the
   * pages of an entity in order, and for entities in processing order. With `hiddenRows: false`, rows an
   * earlier delete hid are not skipped (their values are still the subject's).
   */
  async skipper(entity: ResolvedEntity, rows: RawRow[], options: { hiddenRows?: boolean; executor?: SqlExecutor } = {}): Promise<(row: RawRow, column: string) => boolean> {
    const hiddenRows = options.hiddenRows ?? true;
    const marks = new Map<string, Mark[]>();
    if (rows.length === 0 || this.cursors.length === 0) return () => false;
    const pageKeys = new Set(rows.map((r) => rowKey(primaryKeyOf(entity, r))));
    const lastKey = primaryKeyOf(entity, rows[rows.length - 1]);
    for (const cursor of this.cursors) {
      if (cursor.entity !== entity.name) {
        cursor.entity = entity.name;
        cursor.buffer.clear();
      }
      for (;;) {
        for (const [k, { mark }] of cursor.buffer) {
          if (!pageKeys.has(k)) continue;
          marks.set(k, [...(marks.get(k) ?? []), mark]);
          cursor.buffer.delete(k);
        }
        if (cursor.buffer.size > 0) {
          // Left-over keys: rows of later pages stay buffered; rows already passed, or gone, are dropped.
          const ahead = await this.keysAfter(options.executor ?? this.dataSource, entity, [...cursor.buffer.values()].map((b) => b.key), lastKey);
          for (const k of [...cursor.buffer.keys()]) if (!ahead.has(k)) cursor.buffer.delete(k);
          if (cursor.buffer.size > 0) break;
        }
        const entry = await this.nextEntry(cursor, entity.name);
        if (!entry) break;
        if (entry.kind === 'digest') {
          const { cols, rows: digested } = entry.payload as DigestPayload;
          for (const [encoded, values] of digested) {
            const key = encoded.map(decodeRaw);
            const digests: Record<string, string> = {};
            cols.forEach((c, i) => {
              if (values[i] !== null) digests[c] = values[i]!;
            });
            cursor.buffer.set(rowKey(key), { key, mark: { digests } });
          }
        } else {
          for (const encoded of (entry.payload as { keys: unknown[][] }).keys) {
            const key = encoded.map(decodeRaw);
            cursor.buffer.set(rowKey(key), { key, mark: { hidden: true } });
          }
        }
      }
    }
    const deleteDate = entity.deleteDateColumn?.databaseName;
    return (row, column) => {
      const found = marks.get(rowKey(primaryKeyOf(entity, row)));
      if (!found) return false;
      const raw = row[column];
      const stillHidden = hiddenRows && deleteDate !== undefined && !isVisibleValue(this.dataSource, entity, row[deleteDate]);
      return found.some((m) => (m.hidden && stillHidden) || (m.digests?.[column] !== undefined && m.digests[column] === valueDigest(this.digestKey, entity.name, column, raw)));
    };
  }

  /** The next digest or hide entry of the entity, skipping entries of entities processed before it. */
  private async nextEntry(cursor: Cursor, entity: string): Promise<VaultEntry | null> {
    const wanted = this.rank.get(entity) ?? -1;
    for (;;) {
      let entry = cursor.pending;
      if (!entry) {
        const next = await this.vault.entries(cursor.requestId, { kinds: ['digest', 'hide'], from: cursor.after }).next();
        if (next.done) return null;
        entry = next.value;
      }
      const rank = this.rank.get((entry.payload as { e: string }).e) ?? -1;
      if (rank > wanted) {
        cursor.pending = entry;
        return null;
      }
      cursor.pending = undefined;
      cursor.after = entry.seq;
      if (rank === wanted) return entry;
    }
  }

  /** Which of the keys are rows of the subject after `lastKey` in the database's own key order. */
  private async keysAfter(executor: SqlExecutor, entity: ResolvedEntity, keys: unknown[][], lastKey: unknown[]): Promise<Set<string>> {
    const { q } = sqlOf(this.dataSource);
    const pk = entity.primaryKey.map((c) => `pe_t.${q(c.databaseName)}`);
    const params = new SqlParams(dialectOf(this.dataSource));
    const where = [subjectCondition(this.dataSource, entity, params, this.subjectId), keyIn(this.dataSource, pkNames(entity), keys, params, 'pe_t'), keysetAfter(pk, lastKey, params)];
    const rows: RawRow[] = await executor.query(
      `SELECT ${pk.join(', ')} FROM ${quoteTablePath(this.dataSource, entity.metadata.tablePath)} pe_t WHERE ${where.join(' AND ')}`,
      params.values,
    );
    return new Set(rows.map((r) => rowKey(primaryKeyOf(entity, r))));
  }
}

/**
 * The digest entry of a redacted batch. A text value is digested as written (text columns return it as
 * stored); any other value is re-read inside the batch's transaction, so the digest matches what a later
 * read returns. A digest that does not match only makes a later erasure redo that field.
 */
export async function digestBatch(executor: SqlExecutor, dataSource: DataSource, entity: ResolvedEntity, updates: RowUpdate[], digestKey: Buffer): Promise<DigestPayload> {
  const columns = entity.metadata.columns.filter((c) => updates.some((u) => u.values.has(c.databaseName)));
  const cols = columns.map((c) => c.databaseName);
  const textual = new Set(columns.filter((c) => /char|text|clob/i.test(dataSource.driver.normalizeType(c))).map((c) => c.databaseName));
  // A NULL is stored as written whatever the column's type; other non-text values are read back as the database stored them.
  const asWritten = (c: string, v: unknown) => v === null || (textual.has(c) && typeof v === 'string');
  const reread = updates.filter((u) => [...u.values].some(([c, v]) => !asWritten(c, v)));
  const current = reread.length
    ? new Map((await selectRows(executor, dataSource, entity.metadata.tablePath, pkNames(entity), reread.map((u) => u.key))).map((r) => [rowKey(primaryKeyOf(entity, r)), r]))
    : new Map<string, RawRow>();
  const out: DigestPayload = { e: entity.name, cols, rows: [] };
  // A constant redaction (`fixed`, `null`, plain `text`) writes one value to every row: each distinct value is
  // digested once per batch. An HMAC costs ~8 µs here, a quarter of anonymize's time before (docs/benchmarks.md).
  const digested = new Map<string, string>();
  const digestOf = (c: string, stored: unknown) => {
    const id = typeof stored === 'string' ? `${c}\u0000s${stored}` : `${c}\u0000j${JSON.stringify(encodeRaw(stored))}`;
    let digest = digested.get(id);
    if (digest === undefined) {
      digest = valueDigest(digestKey, entity.name, c, stored);
      digested.set(id, digest);
    }
    return digest;
  };
  for (const update of updates) {
    const row = current.get(rowKey(update.key));
    const values = cols.map((c) => {
      if (!update.values.has(c)) return null;
      const written = update.values.get(c);
      const stored = asWritten(c, written) ? written : row?.[c];
      return digestOf(c, stored);
    });
    out.rows.push([update.key.map(encodeRaw), values]);
  }
  return out;
}
