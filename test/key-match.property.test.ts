import fc from 'fast-check';
import { type DataSource, EntitySchema } from 'typeorm';
import { beforeAll, expect, it } from 'vitest';
import { deleteRows, setColumn } from '../src/db/batch-sql.js';
import { describeEachDatabase } from './support/databases.js';

/**
 * The keyed writes of erasure and purge (setColumn, deleteRows) touch exactly the rows whose keys they are given:
 * on PostgreSQL through `key = ANY($1::type[])` (one array parameter), elsewhere through `key IN (...)`. Text keys
 * carry what an array literal must escape: quotes, backslashes, braces, commas, spaces, the word NULL, non-ASCII.
 */
const risky = fc.constantFrom('"', '\\', '{', '}', ',', ' ', 'NULL', 'null', "'", 'é', '😀', '\t', 'a', 'Z', '0');
const textSuffix = fc.array(risky, { maxLength: 5 }).map((parts) => parts.join(''));

const tables = [
  { name: 'km_text', id: { type: 'varchar', length: 80, primary: true } },
  { name: 'km_int', id: { type: 'int', primary: true } },
  { name: 'km_big', id: { type: 'bigint', primary: true } },
] as const;

describeEachDatabase('keyed writes (setColumn, deleteRows)', (db) => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await db.createDataSource(
      tables.map(
        (t) =>
          new EntitySchema<any>({
            name: t.name,
            tableName: t.name,
            columns: { id: { ...t.id }, flag: { type: 'int', default: 0 } },
          }),
      ),
    );
  });

  const e = (name: string) => ds.driver.escape(name);
  const p = (i: number) => (db.kind === 'postgres' ? `$${i}` : '?');

  for (const table of tables) {
    it(`flags and deletes exactly the given keys of ${table.name}, never another row`, async () => {
      const keys =
        table.name === 'km_text'
          ? fc.uniqueArray(textSuffix, { minLength: 1, maxLength: 12 }).map((suffixes) => suffixes.map((s, i) => `${i}:${s}`))
          : fc.uniqueArray(fc.integer({ min: 1, max: 2_000_000_000 }), { minLength: 1, maxLength: 12 }).map((ids) => ids.map(String));
      await fc.assert(
        fc.asyncProperty(keys, fc.infiniteStream(fc.boolean()), async (all, picks) => {
          await ds.query(`DELETE FROM ${e(table.name)}`);
          for (const key of all) await ds.query(`INSERT INTO ${e(table.name)} (${e('id')}, ${e('flag')}) VALUES (${p(1)}, 0)`, [key]);
          const chosen = new Set(all.filter(() => picks.next().value));
          const given = [...chosen].map((k) => [k]);
          const read = async () => (await ds.query(`SELECT ${e('id')} AS id, ${e('flag')} AS flag FROM ${e(table.name)}`)) as Array<{ id: unknown; flag: unknown }>;

          if (given.length > 0) await setColumn(ds, ds, table.name, ['id'], given, 'flag', 1);
          const flagged = (await read()).filter((r) => Number(r.flag) === 1).map((r) => String(r.id));
          expect(flagged.sort()).toEqual([...chosen].sort());

          if (given.length > 0) await deleteRows(ds, ds, table.name, ['id'], given);
          const left = (await read()).map((r) => String(r.id));
          expect(left.sort()).toEqual(all.filter((k) => !chosen.has(k)).sort());
        }),
        { numRuns: 30 },
      );
    });
  }
});
