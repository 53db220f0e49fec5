import { AdapterError } from '../errors.js';
import type { Readable } from 'node:stream';
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
  const { sql, values } = subjectRowsSql(dataSource, entity, subjectId, options, options.batchSize);
  const rows: RawRow[] = await executor.query(sql, values);
  const rendered = options.rendered ?? [];
  return rendered.length ? attachRendered(rows, rendered) : rows;
}

/** The SELECT of the subject's rows in primary-key order, after `options.after`, at most `limit` of them. */
function subjectRowsSql(dataSource: DataSource, entity: ResolvedEntity, subjectId: unknown, options: Omit<ReadOptions, 'batchSize'>, limit: number | null): { sql: string; values: unknown[] } {
  const { q } = sqlOf(dataSource);
  const pk = entity.primaryKey.map((c) => `${ALIAS}.${q(c.databaseName)}`);
  const columns = new Set(options.columns ?? entity.fields.map((f) => f.column));
  for (const c of entity.primaryKey) columns.add(c);
  const selectList = [...[...columns].map((c) => `${ALIAS}.${q(c.databaseName)}`), ...renderedSelectList(dataSource, options.rendered ?? [], ALIAS)].join(', ');
  const params = new SqlParams(dialectOf(dataSource));
  const where = [subjectCondition(dataSource, entity, params, subjectId)];
  if (options.after) where.push(keysetAfter(pk, options.after, params));
  const lock = options.lock && dialectOf(dataSource) !== 'sqlite' ? ' FOR UPDATE' : '';
  const sql = `SELECT ${selectList} FROM ${quoteTablePath(dataSource, entity.metadata.tablePath)} ${ALIAS} WHERE ${where.join(' AND ')} ORDER BY ${pk.join(', ')}${limit === null ? '' : ` ${limitClause(limit)}`}${lock}`;
  return { sql, values: params.values };
}

/** A pooled connection of the mysql and mysql2 drivers, with their streaming queries. */
interface StreamingConnection {
  query(sql: string, values: unknown[]): { stream(options: { highWaterMark: number }): Readable };
  on(event: 'error' | 'end', listener: (err?: Error) => void): unknown;
  off(event: 'error' | 'end', listener: (err?: Error) => void): unknown;
  destroy(): void;
}

/**
 * The subject's rows of one entity as ONE streaming query, handed out `batchSize` at a time, for reading
 * everything once (the export) on MySQL and MariaDB. There, a keyset page's plan is often a `ref` on the link
 * column that walks the subject's index entries from the start to reach the page, so a million rows cost the
 * server seconds; one query walks them once. The driver pauses the connection while `batchSize` rows wait
 * unread (memory stays bounded); a reader that stops early destroys the connection, whose result is unread.
 * Other databases, and MySQL when the pool has no connection to spare, read keyset pages (readSubjectRows).
 */
export async function* streamSubjectRows(dataSource: DataSource, entity: ResolvedEntity, subjectId: unknown, options: { batchSize: number }): AsyncGenerator<RawRow[]> {
  if (dialectOf(dataSource) !== 'mysql' || !reserveStreamingConnection(dataSource)) {
    yield* readSubjectRows(dataSource, entity, subjectId, options);
    return;
  }
  try {
    yield* streamRows(dataSource, entity, subjectId, options.batchSize);
  } finally {
    streamingConnections.set(dataSource, streamingConnections.get(dataSource)! - 1);
  }
}

/** Pool connections held by streaming reads, per DataSource (each process has its own pool). */
const streamingConnections = new WeakMap<DataSource, number>();

/**
 * A streaming read holds its pool connection until its last row is read, while the export writes its progress
 * through the same pool: were every connection held by a stream, those writes would wait forever. So streams
 * may hold all but one of the pool's connections; past that, or when the pool's size is unknown (a replication
 * cluster), rows are read in keyset pages.
 */
function reserveStreamingConnection(dataSource: DataSource): boolean {
  const limit = (dataSource.driver as { pool?: { config?: { connectionLimit?: unknown } } }).pool?.config?.connectionLimit;
  const held = streamingConnections.get(dataSource) ?? 0;
  if (typeof limit !== 'number' || held + 1 >= limit) return false;
  streamingConnections.set(dataSource, held + 1);
  return true;
}

async function* streamRows(dataSource: DataSource, entity: ResolvedEntity, subjectId: unknown, batchSize: number): AsyncGenerator<RawRow[]> {
  const { sql, values } = subjectRowsSql(dataSource, entity, subjectId, {}, null);
  const runner = dataSource.createQueryRunner('slave');
  let complete = false;
  let connection: StreamingConnection | undefined;
  let lost: ((err?: Error) => void) | undefined;
  try {
    connection = (await runner.connect()) as StreamingConnection;
    dataSource.logger.logQuery(sql, values, runner);
    const rows = connection.query(sql, values).stream({ highWaterMark: batchSize });
    // mysql2 reports a connection lost during a streaming query on the connection only: the stream would wait forever.
    // Either way the failure is a lost connection, which the request runner retries from the start of the export.
    lost = (err) => rows.destroy(err ?? new AdapterError('database', 'The database connection closed while the rows were being read', Object.assign(new Error('connection ended'), { code: 'PROTOCOL_CONNECTION_LOST' })));
    connection.on('error', lost);
    connection.on('end', lost);
    let batch: RawRow[] = [];
    for await (const row of rows) {
      batch.push(row as RawRow);
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
    complete = true;
    if (batch.length > 0) yield batch;
  } finally {
    if (lost) {
      connection!.off('error', lost);
      connection!.off('end', lost);
    }
    if (!complete) connection?.destroy();
    await runner.release();
  }
}

/** The raw primary key of a row, in key order. */
export function primaryKeyOf(entity: ResolvedEntity, row: RawRow): unknown[] {
  return entity.primaryKey.map((c) => row[c.databaseName]);
}
