import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { RawRow } from './subject-rows.js';

/** A raw database value as TypeORM would hydrate it onto an entity (null and undefined pass through). */
export function hydrateValue(dataSource: DataSource, column: ColumnMetadata, raw: unknown): unknown {
  return raw === null || raw === undefined ? raw : dataSource.driver.prepareHydratedValue(raw, column);
}

/**
 * A raw row as a plain object of hydrated values, for host callbacks (display names, retention rules, custom
 * redactions). Keys are property names unless `keyOf` says otherwise.
 */
export function hydrateRow<F extends { column: ColumnMetadata }>(dataSource: DataSource, fields: readonly F[], raw: RawRow, keyOf: (field: F) => string = (f) => f.column.propertyName): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) out[keyOf(field)] = hydrateValue(dataSource, field.column, raw[field.column.databaseName]);
  return out;
}
