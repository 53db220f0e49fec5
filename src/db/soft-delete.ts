import type { DataSource } from 'typeorm';
import type { ResolvedEntity, ResolvedSoftDelete } from '../metadata/data-map.js';
import { type SqlParams, dialectOf, quoteIdentifier } from './dialect.js';
import { hydrateValue } from './hydrate.js';

/**
 * How rows are hidden, whichever column does it: TypeORM's @DeleteDateColumn (NULL while visible, a time once
 * hidden) or a column the host declared with `softDelete` (a plain `deletedAt`, an `isDeleted` flag). A row is
 * visible exactly when the column holds the live value; erasure hides only visible rows, so restore puts the live
 * value back and the row is as it was.
 */

function softDeleteOf(entity: ResolvedEntity): ResolvedSoftDelete {
  return entity.softDelete ?? { column: entity.deleteDateColumn!, hidden: 'now', live: null, declared: false };
}

/** A value as the driver binds it: better-sqlite3 takes no booleans (TypeORM 0.3 passes them through raw queries). */
function bindable(dataSource: DataSource, value: unknown): unknown {
  return typeof value === 'boolean' && dialectOf(dataSource) === 'sqlite' ? Number(value) : value;
}

function prepared(dataSource: DataSource, entity: ResolvedEntity, value: unknown): unknown {
  const { column } = softDeleteOf(entity);
  return bindable(dataSource, dataSource.driver.preparePersistentValue(value, column));
}

/** SQL: the row is visible (not hidden). */
export function visibleCondition(dataSource: DataSource, entity: ResolvedEntity, params: SqlParams, alias?: string): string {
  const { column, live } = softDeleteOf(entity);
  const name = `${alias ? `${alias}.` : ''}${quoteIdentifier(dataSource, column.databaseName)}`;
  return live === null ? `${name} IS NULL` : `${name} = ${params.add(prepared(dataSource, entity, live))}`;
}

/** SQL: the row is hidden. A NULL in a flag column that is not NULL while visible counts as neither: purge leaves it. */
export function hiddenCondition(dataSource: DataSource, entity: ResolvedEntity, params: SqlParams, alias?: string): string {
  const { column, live } = softDeleteOf(entity);
  const name = `${alias ? `${alias}.` : ''}${quoteIdentifier(dataSource, column.databaseName)}`;
  return live === null ? `${name} IS NOT NULL` : `${name} <> ${params.add(prepared(dataSource, entity, live))}`;
}

/** Whether a value read from the column (raw, as the driver returns it) is that of a visible row. */
export function isVisibleValue(dataSource: DataSource, entity: ResolvedEntity, raw: unknown): boolean {
  const { column, live } = softDeleteOf(entity);
  if (raw === null || raw === undefined) return live === null;
  if (live === null) return false;
  const value = hydrateValue(dataSource, column, raw);
  return value === live || String(value) === String(live);
}

/** The value that hides a row, ready to bind. */
export function hiddenValue(dataSource: DataSource, entity: ResolvedEntity, now: Date): unknown {
  const { hidden } = softDeleteOf(entity);
  return prepared(dataSource, entity, hidden === 'now' ? now : hidden);
}

/** The value of a visible row, ready to bind (null for NULL). */
export function visibleValue(dataSource: DataSource, entity: ResolvedEntity): unknown {
  const { live } = softDeleteOf(entity);
  return live === null ? null : prepared(dataSource, entity, live);
}
