import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { type DataSource, EntitySchema } from 'typeorm';
import { beforeAll, expect, it } from 'vitest';
import type { RowUpdate } from '../src/db/batch-sql.js';
import type { ResolvedEntity } from '../src/metadata/data-map.js';
import { digestBatch, valueDigest } from '../src/operations/erasure-coverage.js';
import { describeEachDatabase } from './support/databases.js';

/**
 * digestBatch digests each distinct written value once per batch (a constant redaction writes the same value to
 * every row): whatever the mix of repeated values, `null`, the text 'null' and numbers, every digest it returns is
 * the one valueDigest gives that row's value on its own, and a column left alone gets none.
 */
const text = fc.constantFrom<string | null>('redacted', 'null', '', null, '0', "it's");
const update = fc.record({ a: text, b: text, n: fc.constantFrom<number | null>(0, 7, null) }, { requiredKeys: [] });

describeEachDatabase('digestBatch', (db) => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await db.createDataSource([
      new EntitySchema<any>({
        name: 'Digested',
        tableName: 'digested',
        columns: { id: { type: Number, primary: true }, a: { type: 'varchar', length: 40, nullable: true }, b: { type: 'text', nullable: true }, n: { type: 'int', nullable: true } },
      }),
    ]);
  });

  it('gives every row the digest of its own value when values repeat across rows', async () => {
    const metadata = ds.getMetadata('Digested');
    const entity = { name: 'Digested', metadata, primaryKey: metadata.primaryColumns } as unknown as ResolvedEntity;
    const e = (c: string) => ds.driver.escape(c);
    const p = (i: number) => (db.kind === 'postgres' ? `$${i}` : '?');
    const key = randomBytes(32);
    await fc.assert(
      fc.asyncProperty(fc.array(update, { minLength: 1, maxLength: 10 }), async (plan) => {
        await ds.query(`DELETE FROM ${e('digested')}`);
        const updates: RowUpdate[] = [];
        for (const [i, change] of plan.entries()) {
          const row = { a: 'x', b: 'y', n: 1, ...change };
          await ds.query(`INSERT INTO ${e('digested')} (${['id', 'a', 'b', 'n'].map(e).join(', ')}) VALUES (${[1, 2, 3, 4].map(p).join(', ')})`, [i + 1, row.a, row.b, row.n]);
          updates.push({ key: [i + 1], values: new Map(Object.entries(change)) });
        }
        const payload = await digestBatch(ds, ds, entity, updates, key);
        for (const [i, [, digests]] of payload.rows.entries()) {
          const expected = payload.cols.map((c) => (updates[i].values.has(c) ? valueDigest(key, 'Digested', c, updates[i].values.get(c)) : null));
          expect(digests).toEqual(expected);
        }
      }),
      { numRuns: 40 },
    );
  });
});
