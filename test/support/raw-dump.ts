import type { DataSource, EntityMetadata } from 'typeorm';

/** A row as the database itself renders it: every column cast to text (NULL stays null). */
export type RawTextRow = Record<string, string | null>;

/**
 * Every row of one mapped table, each column read with a text cast (`CAST(col AS TEXT)`, `AS CHAR` on
 * MySQL/MariaDB), keyed by its primary key (parts JSON-encoded). Comparing these compares what is stored,
 * byte for byte: microseconds, JSON spelling and decimals included, with no driver hydration in between.
 */
export async function rawTextRows(ds: DataSource, metadata: EntityMetadata): Promise<Map<string, RawTextRow>> {
  const type = ds.options.type === 'mysql' || ds.options.type === 'mariadb' ? 'CHAR' : 'TEXT';
  const q = (name: string) => ds.driver.escape(name);
  const columns = metadata.columns.map((c) => c.databaseName);
  const select = columns.map((c) => `CAST(${q(c)} AS ${type}) AS ${q(c)}`).join(', ');
  const order = metadata.primaryColumns.map((c) => q(c.databaseName)).join(', ');
  const table = metadata.tablePath.split('.').map(q).join('.');
  const rows: Record<string, unknown>[] = await ds.query(`SELECT ${select} FROM ${table} ORDER BY ${order}`);
  const out = new Map<string, RawTextRow>();
  for (const row of rows) {
    const text: RawTextRow = {};
    for (const c of columns) {
      const v = row[c];
      text[c] = v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
    }
    out.set(rawKey(metadata.primaryColumns.map((c) => text[c.databaseName])), text);
  }
  return out;
}

/** The key rawTextRows() files a row under. */
export function rawKey(parts: Array<string | number | null>): string {
  return parts.length === 1 ? String(parts[0]) : JSON.stringify(parts.map((p) => (p === null ? null : String(p))));
}

/** Names of every table in the database (the engine's tables included). */
export async function listTables(ds: DataSource): Promise<string[]> {
  const type = ds.options.type;
  const listing =
    type === 'postgres'
      ? 'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()'
      : type === 'better-sqlite3'
        ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        : 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()';
  const rows: Array<{ name?: string; NAME?: string; TABLE_NAME?: string }> = await ds.query(listing);
  return rows.map((r) => String(r.name ?? r.NAME ?? r.TABLE_NAME));
}

/**
 * Empties the host's tables (children first, as given) and every engine table (names starting with
 * `enginePrefix`), so one DataSource and engine can serve many property runs. The engine must be idle.
 */
export async function resetTables(ds: DataSource, hostTablesChildrenFirst: string[], enginePrefix = 'privacy_'): Promise<void> {
  const engineTables = (await listTables(ds)).filter((name) => name.startsWith(enginePrefix));
  for (const table of [...hostTablesChildrenFirst, ...engineTables]) await ds.query(`DELETE FROM ${ds.driver.escape(table)}`);
}

/**
 * Rows of the engine's vault table(s) that mention a request id anywhere (any column, text or binary), except `digest`
 * entries: they hold no personal data and outlive a purge on purpose.
 */
export async function vaultRowsOf(ds: DataSource, requestId: string, enginePrefix = 'privacy_'): Promise<number> {
  let count = 0;
  for (const table of (await listTables(ds)).filter((name) => name.startsWith(enginePrefix) && name.includes('vault'))) {
    const rows: Record<string, unknown>[] = await ds.query(`SELECT * FROM ${ds.driver.escape(table)}`);
    for (const row of rows) {
      if (row.kind === 'digest') continue;
      if (Object.values(row).some((v) => (Buffer.isBuffer(v) ? v.toString('utf8') === requestId : String(v) === requestId))) count++;
    }
  }
  return count;
}
