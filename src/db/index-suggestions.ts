import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { DataMapWarning, ResolvedDataMap } from '../metadata/data-map.js';
import { quoteTablePath, sqlOf } from './dialect.js';

/**
 * The (link column, primary key) indexes keyset pagination needs, for tables whose classes the host may not own
 * (an entity from a framework or a plugin): the DDL of this database, and a TypeORM migration that adds them.
 */
export interface IndexSuggestion {
  entity: string;
  table: string;
  /** Database column names, in index order: the link column, then the primary key. */
  columns: string[];
  name: string;
  /** CREATE INDEX for this database. */
  sql: string;
  /** The statement that drops it again. */
  dropSql: string;
}

export interface IndexSuggestions {
  indexes: IndexSuggestion[];
  /** A TypeORM migration class (TypeScript) creating the indexes with `queryRunner.createIndex()`; empty when none is missing. */
  migration: string;
}

/** Names stay under PostgreSQL's 63 and MySQL's 64 characters: a long one is cut and given a short hash of the full name. */
function indexName(table: string, column: string): string {
  const full = `IDX_${table}_${column}_keyset`;
  return full.length <= 60 ? full : `${full.slice(0, 51)}_${createHash('sha256').update(full).digest('hex').slice(0, 8)}`;
}

/** Every index the engine wants, whether the entity's metadata or the database already has it or not. */
function wantedIndexes(dataSource: DataSource, map: ResolvedDataMap): IndexSuggestion[] {
  const { q, dialect } = sqlOf(dataSource);
  const out: IndexSuggestion[] = [];
  for (const entity of map.entities) {
    for (const link of entity.links) {
      const column = link.directColumn;
      if (!column) continue;
      const columns = [column, ...entity.primaryKey].map((c) => c.databaseName);
      if (out.some((o) => o.table === entity.metadata.tablePath && o.columns.join() === columns.join())) continue;
      const name = indexName(entity.metadata.tableName, column.databaseName);
      const table = quoteTablePath(dataSource, entity.metadata.tablePath);
      const schema = entity.metadata.tablePath.includes('.') ? `${q(entity.metadata.tablePath.split('.')[0])}.` : '';
      out.push({
        entity: entity.name,
        table: entity.metadata.tablePath,
        columns,
        name,
        sql: `CREATE INDEX ${q(name)} ON ${table} (${columns.map(q).join(', ')})`,
        dropSql: dialect === 'mysql' ? `DROP INDEX ${q(name)} ON ${table}` : `DROP INDEX ${dialect === 'postgres' ? schema : ''}${q(name)}`,
      });
    }
  }
  return out;
}

/**
 * The column lists of a table's indexes, in index order, read from the catalog (TypeORM's getTable() lists a
 * PostgreSQL index's columns in table order, not index order).
 */
async function indexColumnsOf(dataSource: DataSource, tablePath: string): Promise<string[][]> {
  const { dialect, q } = sqlOf(dataSource);
  const byIndex = new Map<string, string[]>();
  const add = (index: string, column: string) => byIndex.set(index, [...(byIndex.get(index) ?? []), column]);
  if (dialect === 'postgres') {
    const rows: Array<{ name: string; col: string }> = await dataSource.query(
      `SELECT ix.indexrelid::text AS name, a.attname AS col FROM pg_index ix
       CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
       WHERE ix.indrelid = to_regclass($1) ORDER BY ix.indexrelid, k.ord`,
      [quoteTablePath(dataSource, tablePath)],
    );
    for (const r of rows) add(r.name, r.col);
  } else if (dialect === 'mysql') {
    const [schema, table] = tablePath.includes('.') ? tablePath.split('.') : [null, tablePath];
    const rows: Array<Record<string, string>> = await dataSource.query(
      `SELECT INDEX_NAME AS name, COLUMN_NAME AS col FROM information_schema.STATISTICS
       WHERE TABLE_SCHEMA = ${schema === null ? 'DATABASE()' : '?'} AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
      schema === null ? [table] : [schema, table],
    );
    for (const r of rows) add(r.name ?? r.NAME, r.col ?? r.COL);
  } else {
    const indexes: Array<{ name: string }> = await dataSource.query(`PRAGMA index_list(${q(tablePath)})`);
    for (const index of indexes) {
      const columns: Array<{ seqno: number; name: string }> = await dataSource.query(`PRAGMA index_info(${q(index.name)})`);
      for (const c of columns.sort((a, b) => a.seqno - b.seqno)) add(index.name, c.name);
    }
  }
  return [...byIndex.values()];
}

/** The wanted indexes that exist: in the entity metadata, or in the database itself (added by a migration). */
async function existingIndexes(dataSource: DataSource, wanted: IndexSuggestion[]): Promise<Set<IndexSuggestion>> {
  const found = new Set<IndexSuggestion>();
  const covers = (indexColumns: string[], want: string[]) => want.every((c, i) => indexColumns[i] === c);
  const inDatabase = new Map<string, string[][]>();
  for (const table of new Set(wanted.map((w) => w.table))) inDatabase.set(table, await indexColumnsOf(dataSource, table));
  for (const want of wanted) {
    const metadata = dataSource.entityMetadatas.filter((m) => m.tablePath === want.table);
    const declared = metadata.some((m) => m.indices.some((i) => covers(i.columns.map((c) => c.databaseName), want.columns)));
    if (declared || inDatabase.get(want.table)!.some((columns) => covers(columns, want.columns))) found.add(want);
  }
  return found;
}

/** The indexes neither the entities' metadata nor the database has yet. */
export async function missingIndexes(dataSource: DataSource, map: ResolvedDataMap): Promise<IndexSuggestion[]> {
  const wanted = wantedIndexes(dataSource, map);
  if (wanted.length === 0) return [];
  const existing = await existingIndexes(dataSource, wanted);
  return wanted.filter((w) => !existing.has(w));
}

/** A TypeORM migration creating the indexes; `className` must end in a timestamp for TypeORM to order it. */
export function indexMigration(indexes: IndexSuggestion[], className = `PrivacyEngineKeysetIndexes${Date.now()}`): string {
  if (indexes.length === 0) return '';
  const up = indexes.map((i) => `    await queryRunner.createIndex(${JSON.stringify(i.table)}, new TableIndex({ name: ${JSON.stringify(i.name)}, columnNames: ${JSON.stringify(i.columns)} }));`);
  const down = [...indexes].reverse().map((i) => `    await queryRunner.dropIndex(${JSON.stringify(i.table)}, ${JSON.stringify(i.name)});`);
  return [
    `import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';`,
    '',
    '/** Indexes privacy-engine reads subjects by: (link column, primary key), one per link. */',
    `export class ${className} implements MigrationInterface {`,
    '  async up(queryRunner: QueryRunner): Promise<void> {',
    ...up,
    '  }',
    '',
    '  async down(queryRunner: QueryRunner): Promise<void> {',
    ...down,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Start-up: a MISSING_KEYSET_INDEX warning is dropped when the database has the index (added by a migration, say). */
export async function withoutIndexedWarnings(dataSource: DataSource, map: ResolvedDataMap): Promise<DataMapWarning[]> {
  if (!map.warnings.some((w) => w.code === 'MISSING_KEYSET_INDEX')) return map.warnings;
  const missing = await missingIndexes(dataSource, map);
  return map.warnings.filter((w) => w.code !== 'MISSING_KEYSET_INDEX' || missing.some((m) => w.suggestion === m.sql || (w.entity === m.entity && w.message.includes(`(${m.columns.join(', ')})`))));
}
