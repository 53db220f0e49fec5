import fc from 'fast-check';
import { type DataSource, EntitySchema, type EntitySchemaColumnOptions } from 'typeorm';
import { beforeAll, expect, it } from 'vitest';
import { insertRows, selectRendered, updateRows } from '../src/db/batch-sql.js';
import { renderedValue } from '../src/db/rendered-values.js';
import { type DatabaseKind, describeEachDatabase } from './support/databases.js';

/**
 * The database layer's round trip behind an exact restore: a value read as the database renders it and written
 * back (by the bulk UPDATE of an unredact, or the INSERT of an unremove) is the value that was there, for
 * timestamps with microseconds, arbitrary JSON text, 30-digit decimals, the whole bigint range and bytes.
 */
function columns(kind: DatabaseKind): Record<string, EntitySchemaColumnOptions> {
  const n = { nullable: true } as const;
  return {
    id: { type: Number, primary: true },
    stamp: kind === 'postgres' ? { type: 'timestamp', precision: 6, ...n } : kind === 'mysql' ? { type: 'datetime', precision: 6, ...n } : { type: 'datetime', ...n },
    doc: kind === 'sqlite' ? { type: 'text', ...n } : { type: 'json', ...n },
    amount: { type: 'decimal', precision: 30, scale: 10, ...n },
    big: { type: 'bigint', ...n },
    bin: { type: kind === 'postgres' ? 'bytea' : 'blob', ...n },
  };
}

const timestamp = fc
  .record({ ms: fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2100, 0, 1) }), us: fc.integer({ min: 0, max: 999 }) })
  .map(({ ms, us }) => `${new Date(ms).toISOString().slice(0, 23).replace('T', ' ')}${String(us).padStart(3, '0')}`);
const decimal = fc
  .record({ int: fc.bigInt({ min: -(10n ** 19n) + 1n, max: 10n ** 19n - 1n }), frac: fc.bigInt({ min: 0n, max: 10n ** 10n - 1n }) })
  .map(({ int, frac }) => `${int}.${String(frac).padStart(10, '0')}`);
const row = fc.record({
  stamp: fc.option(timestamp),
  doc: fc.option(fc.json({ maxDepth: 2 })),
  amount: fc.option(decimal),
  big: fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)),
  bin: fc.option(fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b))),
});

describeEachDatabase('values read as rendered and written back are unchanged', (db) => {
  let ds: DataSource;
  const names = ['stamp', 'doc', 'amount', 'big', 'bin'] as const;
  beforeAll(async () => {
    ds = await db.createDataSource([new EntitySchema<any>({ name: 'RoundTrip', tableName: 'round_trip', columns: columns(db.kind) })]);
  });

  /** The row as the database renders it: what the comparison trusts. */
  async function dump(): Promise<unknown[]> {
    const e = (c: string) => ds.driver.escape(c);
    const render = (c: string) => (db.kind === 'postgres' ? `${e(c)}::text` : db.kind === 'sqlite' ? `quote(${e(c)})` : c === 'bin' ? `HEX(${e(c)})` : `CAST(${e(c)} AS CHAR)`);
    return ds.query(`SELECT ${names.map((c) => `${render(c)} AS ${e(c)}`).join(', ')} FROM ${e('round_trip')} ORDER BY ${e('id')}`);
  }

  it('through the bulk UPDATE and through INSERT', async () => {
    const metadata = ds.getMetadata('RoundTrip');
    const typed = names.map((c) => metadata.findColumnWithPropertyName(c)!);
    const table = metadata.tablePath;
    const e = (c: string) => ds.driver.escape(c);
    const p = (i: number) => (db.kind === 'postgres' ? `$${i}` : '?');
    await fc.assert(
      fc.asyncProperty(row, async (values) => {
        await ds.query(`DELETE FROM ${e('round_trip')}`);
        const params = names.map((c) => values[c]);
        await ds.query(`INSERT INTO ${e('round_trip')} (${['id', ...names].map(e).join(', ')}) VALUES (${[1, ...params].map((_, i) => p(i + 1)).join(', ')})`, [1, ...params]);
        const before = await dump();
        const [read] = await selectRendered(ds, ds, table, ['id'], [[1]], typed);
        const rendered = new Map(typed.map((c) => [c.databaseName, renderedValue(read, c)!.value]));

        await ds.query(`UPDATE ${e('round_trip')} SET ${names.map((c) => `${e(c)} = NULL`).join(', ')}`);
        await updateRows(ds, ds, table, metadata.primaryColumns, typed, [{ key: [1], values: rendered }]);
        expect(await dump()).toEqual(before);

        await ds.query(`DELETE FROM ${e('round_trip')}`);
        await insertRows(ds, ds, table, ['id', ...typed.map((c) => c.databaseName)], [[1, ...typed.map((c) => rendered.get(c.databaseName))]]);
        expect(await dump()).toEqual(before);
      }),
      { numRuns: 40 },
    );
  });
});
