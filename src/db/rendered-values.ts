import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { type SqlExecutor, dialectOf, quoteIdentifier } from './dialect.js';

/**
 * Values the vault keeps are read as the database itself renders them, and written back through the column's
 * own type, so a restore is exact: no driver in between rounds a timestamp to milliseconds, re-serializes a JSON
 * document or drops digits of a big integer.
 *
 * - PostgreSQL: `CAST(col AS text)` for every type; written back with a cast to the column's type (read from the
 *   catalog, so enums, arrays and domains work too).
 * - MySQL/MariaDB: `CAST(col AS CHAR)` for temporal, JSON and numeric types (the ones the driver converts);
 *   strings and binary are already exact as read. The server converts the text back on assignment.
 * - SQLite: values as stored, except integers in integer or numeric columns, read as text (the driver rounds
 *   them past 2^53); such a column turns the text back into the same integer.
 */

/** A row's rendered values, by column database name, attached by `attachRendered`. */
export const RENDERED: unique symbol = Symbol('privacy-engine.rendered');

export type RenderedRow = Record<string, unknown> & { [RENDERED]?: Map<string, unknown> };

const MYSQL_CONVERTED = /^(date|datetime|timestamp|time|year|json|decimal|numeric|dec|fixed|float|double|real|bigint|int|integer|smallint|mediumint|tinyint|bool|boolean)/;

/** SQL reading `columnSql` (an already qualified column reference) as the database renders it. */
export function renderedExpression(dataSource: DataSource, column: ColumnMetadata, columnSql: string): string {
  const type = dataSource.driver.normalizeType(column).toLowerCase();
  switch (dialectOf(dataSource)) {
    case 'postgres':
      return `CAST(${columnSql} AS text)`;
    case 'mysql':
      return MYSQL_CONVERTED.test(type) ? `CAST(${columnSql} AS CHAR)` : columnSql;
    case 'sqlite':
      return sqliteConvertsText(type) ? `CASE WHEN typeof(${columnSql}) = 'integer' THEN CAST(${columnSql} AS TEXT) ELSE ${columnSql} END` : columnSql;
  }
}

/** SQLite's affinity rules: INTEGER and NUMERIC columns store well-formed integer text as an integer again. */
function sqliteConvertsText(declared: string): boolean {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return true;
  if (t === '' || /CHAR|CLOB|TEXT|BLOB|REAL|FLOA|DOUB/.test(t)) return false;
  return true;
}

/** Select-list items `<rendered> AS pe_r<i>` for the columns, to be collected by `attachRendered`. */
export function renderedSelectList(dataSource: DataSource, columns: ColumnMetadata[], alias: string): string[] {
  return columns.map((c, i) => `${renderedExpression(dataSource, c, `${alias}.${quoteIdentifier(dataSource, c.databaseName)}`)} AS ${quoteIdentifier(dataSource, `pe_r${i}`)}`);
}

/** Moves the `pe_r<i>` items of each row into its RENDERED map (keyed by column database name). */
export function attachRendered<T extends Record<string, unknown>>(rows: T[], columns: ColumnMetadata[]): Array<T & RenderedRow> {
  for (const row of rows as Array<T & RenderedRow>) {
    const rendered = new Map<string, unknown>();
    columns.forEach((c, i) => {
      rendered.set(c.databaseName, row[`pe_r${i}`] ?? null);
      delete row[`pe_r${i}`];
    });
    row[RENDERED] = rendered;
  }
  return rows as Array<T & RenderedRow>;
}

/** The rendered value of a column, when the row was read with it. */
export function renderedValue(row: RenderedRow, column: ColumnMetadata): { value: unknown } | undefined {
  const map = row[RENDERED];
  return map?.has(column.databaseName) ? { value: map.get(column.databaseName) } : undefined;
}

const pgTypeCache = new WeakMap<DataSource, Map<string, Map<string, string>>>();

/**
 * PostgreSQL types of a table's columns, as cast targets: the type without its modifier (an explicit cast to
 * varchar(n) would truncate where assignment refuses), except where that would mean length 1 (char, bit).
 * Read from the catalog once per table: enum, array and domain names come out right, schema-qualified when needed.
 */
export async function postgresColumnTypes(executor: SqlExecutor, dataSource: DataSource, tablePath: string): Promise<Map<string, string>> {
  let tables = pgTypeCache.get(dataSource);
  if (!tables) pgTypeCache.set(dataSource, (tables = new Map()));
  const cached = tables.get(tablePath);
  if (cached) return cached;
  const quoted = tablePath
    .split('.')
    .map((part) => quoteIdentifier(dataSource, part))
    .join('.');
  const rows: Array<{ name: string; type: string }> = await executor.query(
    `SELECT a.attname AS name,
            CASE t.typname WHEN 'bpchar' THEN 'bpchar' WHEN '_bpchar' THEN 'bpchar[]' WHEN 'bit' THEN 'varbit' WHEN '_bit' THEN 'varbit[]'
                 ELSE format_type(a.atttypid, NULL) END AS type
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [quoted],
  );
  const types = new Map(rows.map((r) => [r.name, r.type]));
  if (types.size > 0) tables.set(tablePath, types);
  return types;
}
