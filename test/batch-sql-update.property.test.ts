import fc from 'fast-check';
import { type DataSource, EntitySchema } from 'typeorm';
import { beforeAll, expect, it } from 'vitest';
import { type RowUpdate, updateRows } from '../src/db/batch-sql.js';
import { describeEachDatabase } from './support/databases.js';

/**
 * updateRows writes a column that gets the same value in every row of a group from one parameter (`SET col = $1`,
 * `WHERE key IN (...)` when all of them do) and the others through the joined derived table: whatever the mix,
 * each row ends up with exactly its own new values, the columns it leaves alone keep theirs, and other rows are untouched.
 */
const NAMES = ['a', 'b', 'n'] as const;
type Name = (typeof NAMES)[number];
type Values = Record<Name, string | number | null>;

// Few distinct values, so that groups where a column is constant, and groups where it is not, both come up often.
const text = fc.constantFrom<string | null>('x', 'y', 'redacted', "it's, \"quoted\"", '', null);
const update = fc.record(
  { a: text, b: text, n: fc.constantFrom<number | null>(0, 7, -3, null) },
  { requiredKeys: [] },
);

describeEachDatabase('updateRows with constant and per-row columns', (db) => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await db.createDataSource([
      new EntitySchema<any>({
        name: 'Updated',
        tableName: 'updated',
        columns: { id: { type: Number, primary: true }, a: { type: 'varchar', length: 40, nullable: true }, b: { type: 'text', nullable: true }, n: { type: 'int', nullable: true } },
      }),
    ]);
  });

  it('leaves every row with exactly its own new values', async () => {
    const metadata = ds.getMetadata('Updated');
    const e = (c: string) => ds.driver.escape(c);
    const columns = NAMES.map((c) => metadata.findColumnWithPropertyName(c)!);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(update, { nil: undefined }), { minLength: 1, maxLength: 12 }), async (plan) => {
        await ds.query(`DELETE FROM ${e('updated')}`);
        const expected = new Map<number, Values>();
        const p = (i: number) => (db.kind === 'postgres' ? `$${i}` : '?');
        for (let id = 1; id <= plan.length + 1; id++) {
          const initial: Values = { a: `a${id}`, b: `b${id}`, n: id };
          expected.set(id, initial);
          await ds.query(`INSERT INTO ${e('updated')} (${['id', ...NAMES].map(e).join(', ')}) VALUES (${[1, 2, 3, 4].map(p).join(', ')})`, [id, initial.a, initial.b, initial.n]);
        }
        const updates: RowUpdate[] = [];
        plan.forEach((change, i) => {
          if (change === undefined) return;
          const id = i + 1;
          updates.push({ key: [id], values: new Map(Object.entries(change)) });
          expected.set(id, { ...expected.get(id)!, ...change });
        });
        await updateRows(ds, ds, metadata.tablePath, metadata.primaryColumns, columns, updates);
        const rows: Array<Record<string, unknown>> = await ds.query(`SELECT ${['id', ...NAMES].map(e).join(', ')} FROM ${e('updated')} ORDER BY ${e('id')}`);
        expect(rows.map((r) => ({ id: Number(r.id), a: r.a, b: r.b, n: r.n === null ? null : Number(r.n) }))).toEqual(
          [...expected].map(([id, v]) => ({ id, ...v })),
        );
      }),
      { numRuns: 30 },
    );
  });
});
