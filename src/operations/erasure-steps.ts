import type { DataSource, EntityMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { AdapterError } from '../errors.js';
import type { ResolvedDataMap, ResolvedEntity } from '../metadata/data-map.js';
import { type RawRow, primaryKeyOf } from '../db/subject-rows.js';
import type { SqlExecutor } from '../db/dialect.js';
import { hydrateRow, hydrateValue } from '../db/hydrate.js';
import { withStepSync } from './operation-context.js';
import { decodeRaw, encodeRaw } from '../vault/vault.js';
import { type RowUpdate, deleteRows, insertRows, selectRendered, selectRows, setColumn, storedColumns, updateRows } from '../db/batch-sql.js';
import { hiddenValue, isVisibleValue, visibleCondition, visibleValue } from '../db/soft-delete.js';
import { type RenderedRow, renderedValue } from '../db/rendered-values.js';

/** What erasure does to one entity: redact fields in place, hide rows (soft delete), or remove them (snapshot, then delete). */
export type StepAction = 'redact' | 'hide' | 'remove';

export interface ErasureStep {
  entity: ResolvedEntity;
  action: StepAction;
}

/**
 * Entities ordered so that a table comes before the tables it references (children first): removing in
 * this order never breaks a foreign key, link paths through parents still resolve while children are
 * processed, and undoing in reverse puts parents back before their children.
 */
export function childrenFirst(map: ResolvedDataMap): ResolvedEntity[] {
  const entities = map.entities;
  const references = (a: ResolvedEntity, b: ResolvedEntity) =>
    a !== b && a.metadata.relations.some((r) => r.isOwning && !r.isManyToMany && r.inverseEntityMetadata.target === b.metadata.target);
  const ordered: ResolvedEntity[] = [];
  const visiting = new Set<ResolvedEntity>();
  const visit = (e: ResolvedEntity) => {
    if (ordered.includes(e) || visiting.has(e)) return; // a cycle keeps declaration order
    visiting.add(e);
    for (const child of entities) if (references(child, e)) visit(child);
    visiting.delete(e);
    ordered.push(e);
  };
  for (const e of [...entities].reverse()) visit(e);
  // The subject goes last: every link resolves through it.
  return [...ordered.filter((e) => !e.isSubject), ...ordered.filter((e) => e.isSubject)];
}

/** The fields erasure redacts: every @Redact field but those a retained entity keeps under its basis. */
export function redactedFields(entity: ResolvedEntity) {
  return entity.fields.filter((f) => f.redaction && !f.kept);
}

/** A retained entity that keeps only some fields (`retention.fields`): erasure redacts the rest of its @Redact fields. */
export function keepsSomeFields(entity: ResolvedEntity): boolean {
  return entity.onErase === 'retain' && entity.fields.some((f) => f.kept);
}

/**
 * The vault payload of one batch, type-tagged for JSON. Values (and whole removed rows) are kept as the database
 * renders them, so restore writes back exactly what was there; keys as the driver read them, to find the rows.
 */
export interface RedactPayload { e: string; rows: Array<[unknown[], Record<string, unknown>]> }
export interface HidePayload { e: string; keys: unknown[][] }
export interface RemovePayload { e: string; cols: string[]; rows: unknown[][]; junctions: Array<{ table: string; cols: string[]; fk: string[]; rows: unknown[][] }> }

/**
 * Redacts a page of rows; returns the originals of what changed (for the vault), the fields touched and the values
 * written. Rows read without the redacted columns rendered (`readSubjectPage`'s `rendered`) have them read here.
 */
export async function redactPage(
  executor: SqlExecutor,
  dataSource: DataSource,
  entity: ResolvedEntity,
  rows: RawRow[],
  /** Leaves a field as it is (what an earlier erasure still standing wrote there). */
  skip?: (row: RawRow, column: string) => boolean,
): Promise<{ payload: RedactPayload; fields: Set<string>; updates: RowUpdate[] }> {
  const driver = dataSource.driver;
  const fields = redactedFields(entity);
  const originalsOf = await renderedOriginals(executor, dataSource, entity, rows, fields.map((f) => f.column));
  const updates: RowUpdate[] = [];
  const payload: RedactPayload = { e: entity.name, rows: [] };
  const touched = new Set<string>();
  // Custom functions see the whole row; built-in strategies only their own value, so only they pay for it.
  const needsRow = fields.some((f) => typeof f.redaction!.strategy === 'function');
  for (const row of rows) {
    const hydrated = needsRow ? hydrateRow(dataSource, entity.fields, row, (f) => f.name) : {};
    const values = new Map<string, unknown>();
    const originals: Record<string, unknown> = {};
    for (const f of fields) {
      const raw = row[f.column.databaseName];
      if (raw === null || raw === undefined || skip?.(row, f.column.databaseName)) continue;
      const next = withStepSync({ step: 'redact', entity: entity.name, column: f.column.databaseName }, () =>
        f.redaction!.apply(needsRow ? hydrated[f.name] : hydrateValue(dataSource, f.column, raw), hydrated),
      );
      values.set(f.column.databaseName, driver.preparePersistentValue(next, f.column));
      originals[f.column.databaseName] = encodeRaw(originalsOf(row, f.column));
      touched.add(f.name);
    }
    if (values.size === 0) continue;
    const key = primaryKeyOf(entity, row);
    updates.push({ key, values });
    payload.rows.push([key.map(encodeRaw), originals]);
  }
  await updateRows(executor, dataSource, entity.metadata.tablePath, entity.primaryKey, fields.map((f) => f.column), updates);
  return { payload, fields: touched, updates };
}

/** The rendered originals of the page's rows: from the page itself, or read by key when it lacks them. */
async function renderedOriginals(executor: SqlExecutor, dataSource: DataSource, entity: ResolvedEntity, rows: RawRow[], columns: ColumnMetadata[]) {
  const missing = rows.filter((r) => columns.some((c) => !renderedValue(r, c)));
  const read = new Map<string, RenderedRow>();
  if (missing.length > 0) {
    for (const r of await selectRendered(executor, dataSource, entity.metadata.tablePath, pkNames(entity), missing.map((m) => primaryKeyOf(entity, m)), columns)) {
      read.set(keyString(primaryKeyOf(entity, r)), r);
    }
  }
  return (row: RawRow, column: ColumnMetadata): unknown => {
    const found = renderedValue(row, column) ?? renderedValue(read.get(keyString(primaryKeyOf(entity, row))) ?? {}, column);
    if (!found) throw new AdapterError('database', `A row of ${entity.name} vanished while its page was being redacted`);
    return found.value;
  };
}

/** Soft-deletes the rows of a page that are still visible; rows the host hid before stay as they were. */
export async function hidePage(executor: SqlExecutor, dataSource: DataSource, entity: ResolvedEntity, rows: RawRow[], now: Date): Promise<HidePayload> {
  const column = entity.deleteDateColumn!;
  const keys = rows.filter((r) => isVisibleValue(dataSource, entity, r[column.databaseName])).map((r) => primaryKeyOf(entity, r));
  if (keys.length > 0) {
    await setColumn(executor, dataSource, entity.metadata.tablePath, pkNames(entity), keys, column.databaseName, hiddenValue(dataSource, entity, now), (p) => visibleCondition(dataSource, entity, p));
  }
  return { e: entity.name, keys: keys.map((k) => k.map(encodeRaw)) };
}

/** Snapshots whole rows, and the join-table rows pointing at them, then deletes both. */
export async function removePage(executor: SqlExecutor, dataSource: DataSource, entity: ResolvedEntity, rows: RawRow[]): Promise<RemovePayload> {
  const columns = storedColumns(entity.metadata.columns);
  const cols = columns.map((c) => c.databaseName);
  const full = await selectRendered(executor, dataSource, entity.metadata.tablePath, pkNames(entity), rows.map((r) => primaryKeyOf(entity, r)), columns);
  const renderedRow = (r: RenderedRow, of: ColumnMetadata[]) => of.map((c) => encodeRaw(renderedValue(r, c)!.value));
  const payload: RemovePayload = { e: entity.name, cols, rows: full.map((r) => renderedRow(r, columns)), junctions: [] };
  const junctions = junctionsReferencing(dataSource, entity.metadata);
  // Junction rows are found by the removed rows' referenced columns, as the driver returns them.
  const raw = junctions.length > 0 ? await selectRows(executor, dataSource, entity.metadata.tablePath, pkNames(entity), full.map((r) => primaryKeyOf(entity, r))) : [];
  for (const { junction, fkColumns, refColumns } of junctions) {
    const keys = raw.map((r) => refColumns.map((c) => r[c]));
    if (keys.length === 0) continue;
    const jColumns = storedColumns(junction.columns);
    const jRows = await selectRendered(executor, dataSource, junction.tablePath, fkColumns, keys, jColumns);
    if (jRows.length === 0) continue;
    const jCols = jColumns.map((c) => c.databaseName);
    payload.junctions.push({ table: junction.tablePath, cols: jCols, fk: fkColumns, rows: jRows.map((r) => renderedRow(r, jColumns)) });
    await deleteRows(executor, dataSource, junction.tablePath, fkColumns, keys);
  }
  await deleteRows(executor, dataSource, entity.metadata.tablePath, pkNames(entity), full.map((r) => primaryKeyOf(entity, r)));
  return payload;
}

/** Undo of redactPage: writes the original values back. `keep` filters which rows to restore. */
export async function unredact(executor: SqlExecutor, dataSource: DataSource, entity: ResolvedEntity, payload: RedactPayload, keep: (key: unknown[]) => boolean): Promise<number> {
  const updates: RowUpdate[] = [];
  for (const [encodedKey, originals] of payload.rows) {
    const key = encodedKey.map(decodeRaw);
    if (!keep(key)) continue;
    updates.push({ key, values: new Map(Object.entries(originals).map(([c, v]) => [c, decodeRaw(v)])) });
  }
  const columns = entity.metadata.columns.filter((c) => updates.some((u) => u.values.has(c.databaseName)));
  await updateRows(executor, dataSource, entity.metadata.tablePath, entity.primaryKey, columns, updates);
  return updates.length;
}

/** Undo of hidePage for the kept keys; returns the keys it brought back (still encoded, as in the payload). */
export async function unhide(executor: SqlExecutor, dataSource: DataSource, entity: ResolvedEntity, payload: HidePayload, keep: (key: unknown[]) => boolean): Promise<unknown[][]> {
  const kept = payload.keys.filter((k) => keep(k.map(decodeRaw)));
  if (kept.length) await setColumn(executor, dataSource, entity.metadata.tablePath, pkNames(entity), kept.map((k) => k.map(decodeRaw)), entity.deleteDateColumn!.databaseName, visibleValue(dataSource, entity));
  return kept;
}

export async function unremove(executor: SqlExecutor, dataSource: DataSource, entity: ResolvedEntity, payload: RemovePayload, keep: (key: unknown[]) => boolean): Promise<number> {
  const keyIndexes = entity.primaryKey.map((c) => payload.cols.indexOf(c.databaseName));
  const keyOf = (r: unknown[]) => keyIndexes.map((i) => r[i]);
  const wanted = payload.rows.map((r) => r.map(decodeRaw)).filter((r) => keep(keyOf(r)));
  // Rows an earlier partial restore already put back are skipped: restoring twice must not collide.
  const present = new Set(
    (await selectRows(executor, dataSource, entity.metadata.tablePath, pkNames(entity), wanted.map(keyOf))).map((r) => keyString(entity.primaryKey.map((c) => r[c.databaseName]))),
  );
  const rows = wanted.filter((r) => !present.has(keyString(keyOf(r))));
  await insertRows(executor, dataSource, entity.metadata.tablePath, payload.cols, rows);
  if (wanted.length === payload.rows.length) {
    for (const j of payload.junctions) {
      const jRows = j.rows.map((r) => r.map(decodeRaw));
      const fkIndexes = j.fk.map((c) => j.cols.indexOf(c));
      const current = await selectRows(executor, dataSource, j.table, j.fk, jRows.map((r) => fkIndexes.map((i) => r[i])));
      const existing = new Set(current.map((r) => JSON.stringify(j.cols.map((c) => String(r[c])))));
      await insertRows(executor, dataSource, j.table, j.cols, jRows.filter((r) => !existing.has(JSON.stringify(r.map(String)))));
    }
  }
  return rows.length;
}

export function pkNames(entity: ResolvedEntity): string[] {
  return entity.primaryKey.map((c) => c.databaseName);
}

export function keyString(key: unknown[]): string {
  return key.map((v) => String(v)).join(':');
}

function junctionsReferencing(dataSource: DataSource, metadata: EntityMetadata) {
  const out: Array<{ junction: EntityMetadata; fkColumns: string[]; refColumns: string[] }> = [];
  for (const junction of dataSource.entityMetadatas.filter((m) => m.isJunction)) {
    for (const fk of junction.foreignKeys) {
      if (fk.referencedEntityMetadata.target !== metadata.target) continue;
      out.push({ junction, fkColumns: fk.columns.map((c) => c.databaseName), refColumns: fk.referencedColumns.map((c) => c.databaseName) });
    }
  }
  return out;
}
