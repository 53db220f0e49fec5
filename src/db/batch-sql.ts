import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { SqlParams, dialectOf, quoteIdentifier, quoteTablePath, tuple, sqlOf } from './dialect.js';
import type { SqlExecutor } from './dialect.js';
import { type RenderedRow, attachRendered, postgresColumnTypes, renderedSelectList } from './rendered-values.js';

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

/** Key types whose values node-postgres sends as array elements unchanged (numbers and text, always quoted). */
const ARRAY_KEY_TYPES = new Set(['smallint', 'integer', 'bigint', 'uuid', 'text', 'character varying']);

/**
 * The condition selecting rows by key for one table. On PostgreSQL a single-column key of a plain type is matched
 * with `key = ANY($1::type[])`, one parameter for the whole list instead of one per key (at 1M rows delete ~5% and
 * purge ~15% faster, docs/benchmarks.md). Otherwise `key IN (...)`.
 */
export async function keyMatcher(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: string[]): Promise<(keys: unknown[][], params: SqlParams) => string> {
  const type = dialectOf(dataSource) === 'postgres' && keyColumns.length === 1 ? (await postgresColumnTypes(executor, dataSource, tablePath)).get(keyColumns[0]) : undefined;
  if (type === undefined || !ARRAY_KEY_TYPES.has(type)) return (keys, params) => keyIn(dataSource, keyColumns, keys, params);
  const column = quoteIdentifier(dataSource, keyColumns[0]);
  return (keys, params) => `${column} = ANY(${params.add(keys.map((k) => k[0]))}::${type}[])`;
}

/**
 * Writes per-row values with one statement per batch: the new values travel as a derived table joined on
 * the key (`UPDATE ... FROM (VALUES ...)` on PostgreSQL and SQLite, `UPDATE ... JOIN (SELECT ... UNION ALL ...)`
 * on MySQL/MariaDB). A CASE per row would make the database compare every row with every branch.
 * Rows are grouped by the set of columns they change, so a column a row leaves alone is never touched.
 */
export async function updateRows(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: ColumnMetadata[], columns: ColumnMetadata[], updates: RowUpdate[]): Promise<void> {
  const groups = new Map<string, { columns: ColumnMetadata[]; rows: RowUpdate[] }>();
  for (const update of updates) {
    const changed = columns.filter((c) => update.values.has(c.databaseName));
    if (changed.length === 0) continue;
    const id = changed.map((c) => c.databaseName).join('\u0000');
    const group = groups.get(id) ?? { columns: changed, rows: [] };
    group.rows.push(update);
    groups.set(id, group);
  }
  for (const group of groups.values()) {
    const width = keyColumns.length + group.columns.length;
    for (const part of chunks(group.rows, Math.max(1, Math.floor(MAX_PARAMS / width)))) {
      await updateGroup(executor, dataSource, tablePath, keyColumns, group.columns, part);
    }
  }
}

async function updateGroup(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: ColumnMetadata[], columns: ColumnMetadata[], rows: RowUpdate[]): Promise<void> {
  const dialect = dialectOf(dataSource);
  const params = new SqlParams(dialect);
  const { q } = sqlOf(dataSource);
  const table = quoteTablePath(dataSource, tablePath);
  // PostgreSQL types the derived table's columns from the casts (text otherwise, which no enum, array or
  // timestamp column accepts); MySQL/MariaDB and SQLite convert on assignment.
  const types = dialect === 'postgres' ? await postgresColumnTypes(executor, dataSource, tablePath) : undefined;
  const cast = (column: ColumnMetadata, placeholder: string) => castTo(types?.get(column.databaseName), placeholder);
  // A column given the same value in every row (a `fixed`, `null` or plain `text` redaction) is set from one
  // parameter: when every column is, the statement is the floor's `SET col = $1 WHERE key IN (...)` (half the
  // cost of the joined derived table, docs/benchmarks.md); otherwise the derived table carries only the rest.
  const constant = columns.filter((c) => sameEverywhere(rows, c.databaseName));
  const varying = columns.filter((c) => !constant.includes(c));
  const pins = pinnedColumns(dataSource, tablePath, columns.map((c) => c.databaseName));
  const setConstants = (prefix: string) =>
    constant.map((c) => `${prefix}${q(c.databaseName)} = ${cast(c, params.add(rows[0].values.get(c.databaseName)))}`);
  if (varying.length === 0) {
    const sets = [...setConstants(''), ...pins.map((c) => `${q(c)} = ${q(c)}`)];
    const where = keyIn(dataSource, keyColumns.map((c) => c.databaseName), rows.map((u) => u.key), params);
    await executor.query(`UPDATE ${table} SET ${sets.join(', ')} WHERE ${where}`, params.values);
    return;
  }
  const all = [...keyColumns, ...varying];
  const names = all.map((_, i) => `pe_c${i}`);
  const valuesOf = (u: RowUpdate) => [...u.key, ...varying.map((c) => u.values.get(c.databaseName))];
  const on = keyColumns.map((c, i) => `pe_t.${q(c.databaseName)} = pe_v.${names[i]}`).join(' AND ');
  if (dialect === 'mysql') {
    // Placeholders are positional: the derived table's come first in the text.
    const selects = rows.map((u, r) => `SELECT ${valuesOf(u).map((v, i) => (r === 0 ? `${params.add(v)} AS ${names[i]}` : params.add(v))).join(', ')}`);
    const sets = [
      ...varying.map((c, i) => `pe_t.${q(c.databaseName)} = pe_v.${names[keyColumns.length + i]}`),
      ...setConstants('pe_t.'),
      ...pins.map((c) => `pe_t.${q(c)} = pe_t.${q(c)}`),
    ];
    await executor.query(`UPDATE ${table} pe_t JOIN (${selects.join(' UNION ALL ')}) pe_v ON ${on} SET ${sets.join(', ')}`, params.values);
    return;
  }
  // SET comes before FROM in the text: its parameters are added first (SQLite's are positional).
  const sets = [...setConstants(''), ...varying.map((c, i) => `${q(c.databaseName)} = pe_v.${names[keyColumns.length + i]}`)];
  const tuples = rows.map((u) => `(${valuesOf(u).map((v, i) => cast(all[i], params.add(v))).join(', ')})`);
  const derived =
    dialect === 'postgres'
      ? `(VALUES ${tuples.join(', ')}) AS pe_v(${names.join(', ')})`
      : `(SELECT ${names.map((n, i) => `column${i + 1} AS ${n}`).join(', ')} FROM (VALUES ${tuples.join(', ')})) AS pe_v`;
  const where = keyColumns.map((c, i) => `${table}.${q(c.databaseName)} = pe_v.${names[i]}`).join(' AND ');
  await executor.query(`UPDATE ${table} SET ${sets.join(', ')} FROM ${derived} WHERE ${where}`, params.values);
}

/** Whether every row writes the same value to the column (compared as the driver will send it: primitives only). */
function sameEverywhere(rows: RowUpdate[], column: string): boolean {
  const first = rows[0].values.get(column);
  if (first !== null && typeof first === 'object') return false;
  for (let i = 1; i < rows.length; i++) if (rows[i].values.get(column) !== first) return false;
  return true;
}

/** Sets one column to one value for the given keys (soft delete, undelete), where `condition` (if given) holds too. */
export async function setColumn(
  executor: SqlExecutor,
  dataSource: DataSource,
  tablePath: string,
  keyColumns: string[],
  keys: unknown[][],
  column: string,
  value: unknown,
  condition?: (params: SqlParams) => string,
): Promise<void> {
  const pins = pinnedColumns(dataSource, tablePath, [column]).map((c) => `${quoteIdentifier(dataSource, c)} = ${quoteIdentifier(dataSource, c)}`);
  const match = await keyMatcher(executor, dataSource, tablePath, keyColumns);
  for (const part of chunks(keys, Math.floor(MAX_PARAMS / Math.max(1, keyColumns.length)))) {
    const params = new SqlParams(dialectOf(dataSource));
    const set = [`${quoteIdentifier(dataSource, column)} = ${value === null ? 'NULL' : params.add(value)}`, ...pins].join(', ');
    const where = match(part, params);
    await executor.query(`UPDATE ${quoteTablePath(dataSource, tablePath)} SET ${set} WHERE ${where}${condition ? ` AND ${condition(params)}` : ''}`, params.values);
  }
}

/**
 * Columns the database rewrites on any UPDATE of the row: `ON UPDATE CURRENT_TIMESTAMP(6)`, which TypeORM gives an
 * @UpdateDateColumn on MySQL/MariaDB (or a column declared with `onUpdate`). Every UPDATE the engine issues assigns
 * them their own value (`col = col`), which MySQL/MariaDB take as an explicit value: erasure leaves them as the host
 * last wrote them, and restore is byte-identical. PostgreSQL and SQLite have no such clause (a host trigger is not seen).
 */
export function pinnedColumns(dataSource: DataSource, tablePath: string, except: string[]): string[] {
  if (dialectOf(dataSource) !== 'mysql') return [];
  const names = new Set<string>();
  for (const metadata of dataSource.entityMetadatas) {
    if (metadata.tablePath !== tablePath) continue;
    for (const c of metadata.columns) if ((c.onUpdate || c.isUpdateDate) && !except.includes(c.databaseName)) names.add(c.databaseName);
  }
  return [...names];
}

export async function deleteRows(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: string[], keys: unknown[][], extraWhere = ''): Promise<void> {
  const match = await keyMatcher(executor, dataSource, tablePath, keyColumns);
  for (const part of chunks(keys, Math.floor(MAX_PARAMS / Math.max(1, keyColumns.length)))) {
    const params = new SqlParams(dialectOf(dataSource));
    await executor.query(`DELETE FROM ${quoteTablePath(dataSource, tablePath)} WHERE ${match(part, params)}${extraWhere}`, params.values);
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

/**
 * Rows by key with their key columns as the driver returns them and `columns` as the database renders them
 * (see rendered-values.ts): what the vault keeps of rows it removes.
 */
export async function selectRendered(executor: SqlExecutor, dataSource: DataSource, tablePath: string, keyColumns: string[], keys: unknown[][], columns: ColumnMetadata[]): Promise<RenderedRow[]> {
  const out: RenderedRow[] = [];
  const select = [...keyColumns.map((c) => `pe_t.${quoteIdentifier(dataSource, c)}`), ...renderedSelectList(dataSource, columns, 'pe_t')].join(', ');
  for (const part of chunks(keys, Math.floor(MAX_PARAMS / Math.max(1, keyColumns.length)))) {
    const params = new SqlParams(dialectOf(dataSource));
    const rows = await executor.query(`SELECT ${select} FROM ${quoteTablePath(dataSource, tablePath)} pe_t WHERE ${keyIn(dataSource, keyColumns, part, params, 'pe_t')}`, params.values);
    out.push(...attachRendered(rows, columns));
  }
  return out;
}

/**
 * Columns a row is written back with: every stored column but generated ones (`asExpression`), which the database
 * computes again from the others, and virtual properties, which are not stored.
 */
export function storedColumns(columns: ColumnMetadata[]): ColumnMetadata[] {
  return columns.filter((c) => !c.asExpression && !c.generatedType && !c.isVirtualProperty);
}

/** Multi-row INSERT with explicit values for every listed column (primary keys included: restore keeps ids). */
export async function insertRows(executor: SqlExecutor, dataSource: DataSource, tablePath: string, columns: string[], rows: unknown[][]): Promise<void> {
  if (rows.length === 0 || columns.length === 0) return;
  const types = dialectOf(dataSource) === 'postgres' ? await postgresColumnTypes(executor, dataSource, tablePath) : undefined;
  // A PostgreSQL identity column GENERATED ALWAYS takes an explicit value (the row's own id) only when told so.
  const always = dataSource.entityMetadatas.some((m) => m.tablePath === tablePath && m.columns.some((c) => c.generatedIdentity === 'ALWAYS' && columns.includes(c.databaseName)));
  const overriding = types && always ? ' OVERRIDING SYSTEM VALUE' : '';
  for (const part of chunks(rows, Math.max(1, Math.floor(MAX_PARAMS / columns.length)))) {
    const params = new SqlParams(dialectOf(dataSource));
    const values = part.map((row) => `(${row.map((v, i) => castTo(types?.get(columns[i]), params.add(v))).join(', ')})`).join(', ');
    await executor.query(
      `INSERT INTO ${quoteTablePath(dataSource, tablePath)} (${columns.map((c) => quoteIdentifier(dataSource, c)).join(', ')})${overriding} VALUES ${values}`,
      params.values,
    );
  }
}

function castTo(type: string | undefined, placeholder: string): string {
  return type ? `CAST(${placeholder} AS ${type})` : placeholder;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += Math.max(1, size)) out.push(items.slice(i, i + Math.max(1, size)));
  return out;
}
