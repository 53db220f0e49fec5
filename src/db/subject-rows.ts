import { AdapterError } from '../errors.js';
import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { ResolvedEntity } from '../metadata/data-map.js';
import type { SqlExecutor } from './dialect.js';
import { SqlParams, dialectOf, keysetAfter, limitClause, quoteIdentifier, quoteTablePath, sqlOf } from './dialect.js';
import { attachRendered, renderedSelectList } from './rendered-values.js';

export type RawRow = Record<string, unknown>;

const ALIAS = 'pe_t';

/** SQL condition selecting the subject's rows of an entity (the union of its links, or the subject's own key). */
export function subjectCondition(dataSource: DataSource, entity: ResolvedEntity, params: SqlParams, subjectId: unknown, alias = ALIAS): string {
  // Parameters are positional: add them in the order they appear in the text.
  let selected: string;
  if (entity.isSubject) {
    selected = `${alias}.${quoteIdentifier(dataSource, entity.primaryKey[0].databaseName)} = ${params.add(subjectId)}`;
  } else {
    const conditions = entity.links.map((link) => link.condition(alias, params, subjectId));
    selected = conditions.length === 1 ? conditions[0] : `(${conditions.join(' OR ')})`;
  }
  const own = ownRowsCondition(dataSource, entity, params, alias);
  return own ? `(${selected} AND ${own})` : selected;
}

/**
 * The rows of the table that are this entity's at all: in a single-table hierarchy, those of its discriminator
 * values (a child), or all but the subtypes mapped apart (the root). Null for an ordinary entity.
 */
export function ownRowsCondition(dataSource: DataSource, entity: ResolvedEntity, params: SqlParams, alias = ALIAS): string | null {
  const filter = entity.inheritance?.filter;
  if (!filter) return null;
  const column = `${alias}.${quoteIdentifier(dataSource, filter.column.databaseName)}`;
  const list = filter.values.map((v) => params.add(v)).join(', ');
  return filter.except ? `(${column} IS NULL OR ${column} NOT IN (${list}))` : `${column} IN (${list})`;
}

export async function countSubjectRows(dataSource: DataSource, entity: ResolvedEntity, subjectId: unknown): Promise<number> {
  const params = new SqlParams(dialectOf(dataSource));
  const where = subjectCondition(dataSource, entity, params, subjectId);
  const rows = await dataSource.query(
    `SELECT COUNT(*) AS ${quoteIdentifier(dataSource, 'n')} FROM ${quoteTablePath(dataSource, entity.metadata.tablePath)} ${ALIAS} WHERE ${where}`,
    params.values,
  );
  return Number(rows[0].n);
}

export interface ReadOptions {
  batchSize: number;
  /** Columns to read; the primary key is always read. Defaults to every column of the entity. */
  columns?: ColumnMetadata[];
  /** Resume after this primary key (raw values, in key order). */
  after?: unknown[] | null;
  /**
   * Lock the page's rows until the caller's transaction ends (`FOR UPDATE` on PostgreSQL and MySQL/MariaDB;
   * SQLite has one writer at a time, and the reading transaction keeps other writers out).
   */
  lock?: boolean;
  /** Columns to read a second time as the database renders them (see rendered-values.ts), for the vault. */
  rendered?: ColumnMetadata[];
}

/**
 * Reads the subject's rows of one entity in primary-key order, one page at a time (keyset pagination:
 * every page is an index range scan, so a subject with a million rows costs no more per page than one with ten).
 * Soft-deleted rows are included on purpose: they are still held about the person.
 */
export async function* readSubjectRows(
  dataSource: DataSource,
  entity: ResolvedEntity,
  subjectId: unknown,
  options: ReadOptions,
): AsyncGenerator<RawRow[]> {
  let after = options.after ?? null;
  for (;;) {
    const rows = await readSubjectPage(dataSource, entity, subjectId, { ...options, after });
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < options.batchSize) return;
    const next = primaryKeyOf(entity, rows[rows.length - 1]);
    // A page that does not move the cursor would loop forever; fail loudly instead.
    if (after && next.every((v, i) => String(v) === String(after![i]))) throw new AdapterError('database', `Keyset pagination of ${entity.name} did not advance`);
    after = next;
  }
}

/** One page of the subject's rows after the given key; the unit of work of resumable operations. */
export async function readSubjectPage(dataSource: DataSource, entity: ResolvedEntity, subjectId: unknown, options: ReadOptions, executor: SqlExecutor = dataSource): Promise<RawRow[]> {
  const { q } = sqlOf(dataSource);
  const pk = entity.primaryKey.map((c) => `${ALIAS}.${q(c.databaseName)}`);
  const columns = new Set(options.columns ?? entity.fields.map((f) => f.column));
  for (const c of entity.primaryKey) columns.add(c);
  const rendered = options.rendered ?? [];
  const selectList = [...[...columns].map((c) => `${ALIAS}.${q(c.databaseName)}`), ...renderedSelectList(dataSource, rendered, ALIAS)].join(', ');
  const params = new SqlParams(dialectOf(dataSource));
  const where = [subjectCondition(dataSource, entity, params, subjectId)];
  if (options.after) where.push(keysetAfter(pk, options.after, params));
  const lock = options.lock && dialectOf(dataSource) !== 'sqlite' ? ' FOR UPDATE' : '';
  const rows: RawRow[] = await executor.query(
    `SELECT ${selectList} FROM ${quoteTablePath(dataSource, entity.metadata.tablePath)} ${ALIAS} WHERE ${where.join(' AND ')} ORDER BY ${pk.join(', ')} ${limitClause(options.batchSize)}${lock}`,
    params.values,
  );
  return rendered.length ? attachRendered(rows, rendered) : rows;
}

/** The raw primary key of a row, in key order. */
export function primaryKeyOf(entity: ResolvedEntity, row: RawRow): unknown[] {
  return entity.primaryKey.map((c) => row[c.databaseName]);
}
