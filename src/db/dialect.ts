import type { DataSource } from 'typeorm';
import { MetadataError } from '../errors.js';

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

export function dialectOf(dataSource: DataSource): Dialect {
  switch (dataSource.options.type) {
    case 'better-sqlite3':
    case 'sqljs':
      return 'sqlite';
    case 'postgres':
      return 'postgres';
    case 'mysql':
    case 'mariadb':
      return 'mysql';
    default:
      throw new MetadataError(`Database type '${dataSource.options.type}' is not supported (use SQLite, PostgreSQL, MySQL or MariaDB)`);
  }
}

/** Collects positional parameters while a statement is being assembled, in the dialect's placeholder style. */
export class SqlParams {
  readonly values: unknown[] = [];
  constructor(private readonly dialect: Dialect) {}

  add(value: unknown): string {
    this.values.push(value);
    return this.dialect === 'postgres' ? `$${this.values.length}` : '?';
  }
}

/** Anything that runs SQL: the DataSource, or the EntityManager of an open transaction. */
export interface SqlExecutor {
  query(sql: string, parameters?: unknown[]): Promise<any>;
}

/**
 * Quotes an identifier for the dialect, doubling embedded quote characters. Written here rather than taken from
 * `driver.escape`, which doubles embedded quotes in TypeORM 1.x only.
 */
export function quoteName(dialect: Dialect, name: string): string {
  return dialect === 'mysql' ? `\`${name.replaceAll('`', '``')}\`` : `"${name.replaceAll('"', '""')}"`;
}

export function quoteIdentifier(dataSource: DataSource, name: string): string {
  return quoteName(dialectOf(dataSource), name);
}

/** A dotted table path (`schema.table`) is quoted part by part. */
export function quoteTablePath(dataSource: DataSource, tablePath: string): string {
  const dialect = dialectOf(dataSource);
  return tablePath
    .split('.')
    .map((part) => quoteName(dialect, part))
    .join('.');
}

/** The SQL helpers of one DataSource, bound once: `q` quotes a name, `table` a table path, `params()` starts a parameter list. */
export interface BoundSql {
  dialect: Dialect;
  q(name: string): string;
  table(tablePath: string): string;
  params(): SqlParams;
}

export function sqlOf(dataSource: DataSource): BoundSql {
  const dialect = dialectOf(dataSource);
  return {
    dialect,
    q: (name) => quoteName(dialect, name),
    table: (tablePath) => tablePath.split('.').map((part) => quoteName(dialect, part)).join('.'),
    params: () => new SqlParams(dialect),
  };
}

/** `a` or `(a, b)`: a column tuple usable on either side of IN. */
export function tuple(columns: string[]): string {
  return columns.length === 1 ? columns[0] : `(${columns.join(', ')})`;
}

/**
 * Keyset condition "row comes after `last`" over an ordered key (lexicographic for composite keys),
 * so each page is an index range scan instead of an ever-growing OFFSET.
 */
export function keysetAfter(columns: string[], last: unknown[], params: SqlParams): string {
  const ors: string[] = [];
  for (let i = 0; i < columns.length; i++) {
    const parts = columns.slice(0, i).map((column, j) => `${column} = ${params.add(last[j])}`);
    parts.push(`${columns[i]} > ${params.add(last[i])}`);
    ors.push(parts.length === 1 ? parts[0] : `(${parts.join(' AND ')})`);
  }
  return ors.length === 1 ? ors[0] : `(${ors.join(' OR ')})`;
}

export function limitClause(limit: number): string {
  return `LIMIT ${Math.trunc(limit)}`;
}
