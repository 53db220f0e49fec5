import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { RawRow } from './subject-rows.js';

/** A raw database value as TypeORM would hydrate it onto an entity (null and undefined pass through). */
export function hydrateValue(dataSource: DataSource, column: ColumnMetadata, raw: unknown): unknown {
  return raw === null || raw === undefined ? raw : dataSource.driver.prepareHydratedValue(raw, column);
}

/**
 * A raw row as a plain object of hydrated values, for host callbacks (display names, retention rules, tenantOf).
 * Keys are property names, embedded columns nested as on the entity (`row.customFields.nickname`), unless `keyOf`
 * says otherwise.
 */
export function hydrateRow<F extends { column: ColumnMetadata }>(dataSource: DataSource, fields: readonly F[], raw: RawRow, keyOf?: (field: F) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const value = hydrateValue(dataSource, field.column, raw[field.column.databaseName]);
    if (keyOf) out[keyOf(field)] = value;
    else if (field.column.embeddedMetadata) setPath(out, field.column.propertyPath.split('.'), value);
    else out[field.column.propertyName] = value;
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = (typeof next === 'object' && next !== null ? next : (node[key] = {})) as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}
