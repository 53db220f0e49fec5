import type { DataSource } from 'typeorm';
import { BENCH_TABLES, SUBJECT_ID, SUBJECT_TABLE } from './schema.js';

/** Set-based erasure statements, one per table: the floors of anonymize, delete and purge. */

const quote = (ds: DataSource, name: string) => ds.driver.escape(name);
const literal = (value: string | null) => (value === null ? 'NULL' : `'${value.replace(/'/g, "''")}'`);

/** Tables in an order foreign keys accept for DELETE: the subject last. */
export const ERASURE_TABLES = [...BENCH_TABLES.map((t) => t.table), SUBJECT_TABLE];

const SUBJECT_REDACT: Record<string, string | null> = { firstName: 'Redacted', lastName: 'Redacted', email: 'redacted-1@redacted.invalid', phone: null };

export function anonymizeStatements(ds: DataSource): string[] {
  const statement = (table: string, column: string, values: Record<string, string | null>) =>
    `UPDATE ${quote(ds, table)} SET ${Object.entries(values).map(([c, v]) => `${quote(ds, c)} = ${literal(v)}`).join(', ')} WHERE ${quote(ds, column)} = ${SUBJECT_ID}`;
  return [...BENCH_TABLES.map((t) => statement(t.table, 'contactId', t.redact)), statement(SUBJECT_TABLE, 'id', SUBJECT_REDACT)];
}

export function softDeleteStatements(ds: DataSource): string[] {
  const now = ds.driver.options.type === 'postgres' ? 'now()' : 'NOW(6)';
  return ERASURE_TABLES.map((table) => {
    const column = table === SUBJECT_TABLE ? 'id' : 'contactId';
    return `UPDATE ${quote(ds, table)} SET ${quote(ds, 'deletedAt')} = ${now} WHERE ${quote(ds, column)} = ${SUBJECT_ID} AND ${quote(ds, 'deletedAt')} IS NULL`;
  });
}

export function purgeStatements(ds: DataSource): string[] {
  return ERASURE_TABLES.map((table) => {
    const column = table === SUBJECT_TABLE ? 'id' : 'contactId';
    return `DELETE FROM ${quote(ds, table)} WHERE ${quote(ds, column)} = ${SUBJECT_ID} AND ${quote(ds, 'deletedAt')} IS NOT NULL`;
  });
}
