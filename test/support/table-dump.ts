import { expect } from 'vitest';
import type { DataSource } from 'typeorm';

/** Every row of every table the host's entities map (join tables included), normalized for comparison. */
export async function dumpTables(ds: DataSource): Promise<Record<string, unknown[]>> {
  const dump: Record<string, unknown[]> = {};
  for (const metadata of ds.entityMetadatas) {
    const order = metadata.primaryColumns.map((c) => ds.driver.escape(c.databaseName)).join(', ');
    const rows: Record<string, unknown>[] = await ds.query(`SELECT * FROM ${ds.driver.escape(metadata.tableName)} ORDER BY ${order}`);
    dump[metadata.tableName] = rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [k, v instanceof Date ? `date:${v.toISOString()}` : Buffer.isBuffer(v) ? `bin:${v.toString('base64')}` : v]),
      ),
    );
  }
  return dump;
}

/** Every value of every text-like column in every table of the database (engine tables included). */
export async function allTextValues(ds: DataSource): Promise<string[]> {
  const type = ds.options.type;
  const listing =
    type === 'postgres'
      ? "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
      : type === 'better-sqlite3'
        ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        : 'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()';
  const tables: Array<{ name?: string; NAME?: string; TABLE_NAME?: string }> = await ds.query(listing);
  const values: string[] = [];
  for (const table of tables) {
    const name = table.name ?? table.NAME ?? table.TABLE_NAME!;
    const rows: Record<string, unknown>[] = await ds.query(`SELECT * FROM ${ds.driver.escape(name)}`);
    for (const row of rows) {
      for (const v of Object.values(row)) {
        if (typeof v === 'string') values.push(v);
        else if (Buffer.isBuffer(v)) values.push(v.toString('utf8'), v.toString('latin1'));
        else if (v && typeof v === 'object' && !(v instanceof Date)) values.push(JSON.stringify(v));
      }
    }
  }
  expect(tables.length).toBeGreaterThanOrEqual(4); // the engine's three tables and at least one of the host's
  return values;
}
