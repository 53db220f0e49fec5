import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { SqlParams, dialectOf, quoteIdentifier, quoteTablePath, tuple } from '../metadata/sql.js';
import type { SqlExecutor } from '../vault/vault.js';

/**
 * Set-based writes for one batch of rows: one statement per batch (chunked under the drivers'
 * parameter limits) instead of one round trip per row.
 */
const MAX_PARAMS = 30_000;

export interface RowUpdate {
  key: unknown[];
  /** New database values, by column database name; columns absent here keep their value. */
  values: Map<string, unknown>;
}

/** `key IN (...)` for single or composite keys. */
export function keyIn(dataSource: DataSource, keyColumns: string[], keys: unknown[][], params: SqlParams, alias?: string): string {
  const cols = keyColumns.map((c) => (alias ? `${alias}.` : '') + quoteIdentifier(dataSource, c));
  const items = keys.map((k) => tuple(k.map((v) => params.add(v))));
  return `${tuple(cols)} IN (${items.join(', ')})`;
}

/**
 * UPDATE ... SET col = CASE WHEN key = ? THEN ? ... ELSE col END WHERE key IN (...).
 * On PostgreSQL every value is cast to the column's type, since untyped parameters inside CASE are text.
 */
export async function updateRows(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: ColumnMetadata[], columns: ColumnMetadata[], updates: RowUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  const perRow = keyColumns.length * (columns.length + 1) + columns.length;
  const chunk = Math.max(1, Math.floor(MAX_PARAMS / perRow));
  for (let i = 0; i < updates.length; i += chunk) {
    const part = updates.slice(i, i + chunk);
    const params = new SqlParams(dialectOf(dataSource));
    const q = (n: string) => quoteIdentifier(dataSource, n);
    const sets: string[] = [];
    for (const column of columns) {
      const rows = part.filter((u) => u.values.has(column.databaseName));
      if (rows.length === 0) continue;
      const whens = rows.map((u) => `WHEN ${keyMatch(dataSource, keyColumns, u.key, params)} THEN ${cast(dataSource, column, params.add(u.values.get(column.databaseName)))}`);
      sets.push(`${q(column.databaseName)} = CASE ${whens.join(' ')} ELSE ${q(column.databaseName)} END`);
    }
    if (sets.length === 0) continue;
    const where = keyIn(dataSource, keyColumns.map((c) => c.databaseName), part.map((u) => u.key), params);
    await executor.query(`UPDATE ${quoteTablePath(dataSource, tablePath)} SET ${sets.join(', ')} WHERE ${where}`, params.values);
  }
}

/** Sets one column to one value for the given keys (soft delete, undelete). */
export async function setColumn(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: string[], keys: unknown[][], column: string, value: unknown, extraWhere = ''): Promise<void> {
  for (const part of chunks(keys, Math.floor(MAX_PARAMS / Math.max(1, keyColumns.length)))) {
    const params = new SqlParams(dialectOf(dataSource));
    const set = `${quoteIdentifier(dataSource, column)} = ${value === null ? 'NULL' : params.add(value)}`;
    await executor.query(
      `UPDATE ${quoteTablePath(dataSource, tablePath)} SET ${set} WHERE ${keyIn(dataSource, keyColumns, part, params)}${extraWhere}`,
      params.values,
    );
  }
}

export async function deleteRows(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: string[], keys: unknown[][], extraWhere = ''): Promise<void> {
  for (const part of chunks(keys, Math.floor(MAX_PARAMS / Math.max(1, keyColumns.length)))) {
    const params = new SqlParams(dialectOf(dataSource));
    await executor.query(`DELETE FROM ${quoteTablePath(dataSource, tablePath)} WHERE ${keyIn(dataSource, keyColumns, part, params)}${extraWhere}`, params.values);
  }
}

export async function selectRows(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: string[], keys: unknown[][]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const part of chunks(keys, Math.floor(MAX_PARAMS / Math.max(1, keyColumns.length)))) {
    const params = new SqlParams(dialectOf(dataSource));
    out.push(...(await executor.query(`SELECT * FROM ${quoteTablePath(dataSource, tablePath)} WHERE ${keyIn(dataSource, keyColumns, part, params)}`, params.values)));
  }
  return out;
}

/** Multi-row INSERT with explicit values for every listed column (primary keys included: restore keeps ids). */
export async function insertRows(executor: SqlExecutor, dataSource: DataSource, tablePath: string, columns: string[], rows: unknown[][]): Promise<void> {
  if (rows.length === 0 || columns.length === 0) return;
  for (const part of chunks(rows, Math.max(1, Math.floor(MAX_PARAMS / columns.length)))) {
    const params = new SqlParams(dialectOf(dataSource));
    const values = part.map((row) => `(${row.map((v) => params.add(v)).join(', ')})`).join(', ');
    await executor.query(
      `INSERT INTO ${quoteTablePath(dataSource, tablePath)} (${columns.map((c) => quoteIdentifier(dataSource, c)).join(', ')}) VALUES ${values}`,
      params.values,
    );
  }
}

function keyMatch(dataSource: DataSource, keyColumns: ColumnMetadata[], key: unknown[], params: SqlParams): string {
  return keyColumns.map((c, i) => `${quoteIdentifier(dataSource, c.databaseName)} = ${params.add(key[i])}`).join(' AND ');
}

const PG_CASTABLE = /^(character varying|varchar|character|char|text|citext|integer|int|int2|int4|int8|smallint|bigint|numeric|decimal|real|double precision|boolean|date|time|timestamp|timestamp with time zone|timestamp without time zone|timestamptz|json|jsonb|bytea|uuid|inet)$/;

function cast(dataSource: DataSource, column: ColumnMetadata, placeholder: string): string {
  if (dialectOf(dataSource) !== 'postgres') return placeholder;
  const type = dataSource.driver.normalizeType(column).toLowerCase();
  return PG_CASTABLE.test(type) ? `CAST(${placeholder} AS ${type})` : placeholder;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += Math.max(1, size)) out.push(items.slice(i, i + Math.max(1, size)));
  return out;
}
