import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type DataSource, EntitySchema, type EntitySchemaColumnOptions } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PrivacyEngine, createLocalStorage, defineDataSubject, definePersonalData, defineRedact } from '../src/index.js';
import { type DatabaseKind, describeEachDatabase } from './support/databases.js';

/**
 * Restore must put back what the database held, byte for byte: microseconds of timestamps, JSON text as written,
 * numeric digits, the full range of bigint. So the test compares values as the database renders them
 * (PostgreSQL `::text`, MySQL/MariaDB `CAST(... AS CHAR)` or `HEX()` for binary, SQLite `quote()`), never as a
 * driver hydrates them (a JS Date has milliseconds only, a parsed JSON document forgets its spacing).
 */
const TYPED = ['stamp', 'stampTz', 'doc', 'docB', 'amount', 'big', 'flag', 'bin', 'uid'] as const;

function typedColumns(kind: DatabaseKind): Record<(typeof TYPED)[number], EntitySchemaColumnOptions> {
  const n = { nullable: true } as const;
  if (kind === 'postgres') {
    return {
      stamp: { type: 'timestamp', precision: 6, ...n },
      stampTz: { type: 'timestamptz', precision: 6, ...n },
      doc: { type: 'json', ...n },
      docB: { type: 'jsonb', ...n },
      amount: { type: 'numeric', precision: 30, scale: 10, ...n },
      big: { type: 'bigint', ...n },
      flag: { type: 'boolean', ...n },
      bin: { type: 'bytea', ...n },
      uid: { type: 'uuid', ...n },
    };
  }
  if (kind === 'mysql') {
    return {
      stamp: { type: 'datetime', precision: 6, ...n },
      stampTz: { type: 'timestamp', precision: 6, ...n },
      doc: { type: 'json', ...n },
      docB: { type: 'json', ...n },
      amount: { type: 'decimal', precision: 30, scale: 10, ...n },
      big: { type: 'bigint', ...n },
      flag: { type: 'boolean', ...n },
      bin: { type: 'blob', ...n },
      uid: { type: 'uuid', ...n },
    };
  }
  return {
    stamp: { type: 'datetime', ...n },
    stampTz: { type: 'datetime', ...n },
    doc: { type: 'text', ...n },
    docB: { type: 'text', ...n },
    amount: { type: 'decimal', precision: 30, scale: 10, ...n },
    big: { type: 'bigint', ...n },
    flag: { type: 'boolean', ...n },
    bin: { type: 'blob', ...n },
    uid: { type: 'varchar', length: 36, ...n },
  };
}

/** Values chosen to be lost by any trip through JS: microseconds, JSON spacing and key order, 30 digits, 2^63-1. */
function typedValues(kind: DatabaseKind, i: number): unknown[] {
  const us = String(123456 + i).padStart(6, '0');
  const stamp = `2024-02-29 13:14:15.${us}`;
  return [
    stamp,
    kind === 'postgres' ? `${stamp}+02` : stamp,
    `{"b": ${i},  "a": [1, 2.50, "x"]}`,
    `{"z": {"y": ${i}}, "a": 1}`,
    `1234567890123456789.${String(1234567890 + i)}`,
    String(9223372036854775807n - BigInt(i)),
    // better-sqlite3 binds no booleans (TypeORM 1.x converts them for raw queries, 0.3 does not): SQLite stores 1 or 0.
    kind === 'sqlite' ? (i % 2 === 0 ? 1 : 0) : i % 2 === 0,
    Buffer.from([0, 255, 16, i]),
    `a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a${String(10 + i)}`,
  ];
}

defineDataSubject('ExactHolder', {});
definePersonalData('ExactReading', { category: { name: 'exact-readings', purpose: 'Testing exact restore' }, link: 'holder', onErase: 'anonymize' });
definePersonalData('ExactSample', { category: { name: 'exact-samples', purpose: 'Testing exact restore' }, link: 'holder', onErase: 'delete' });
definePersonalData('ExactTrace', { category: { name: 'exact-traces', purpose: 'Testing exact restore' }, link: 'holder', onErase: 'delete' });
for (const entity of ['ExactHolder', 'ExactReading']) for (const column of TYPED) defineRedact(entity, column, 'null');

describeEachDatabase('restore is byte-for-byte, compared as the database renders values', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  const admin = { id: 'admin', roles: ['admin'] };
  const tables = ['exact_holder', 'exact_reading', 'exact_sample', 'exact_trace'];

  beforeAll(async () => {
    const typed = () => typedColumns(db.kind);
    const id: EntitySchemaColumnOptions = { type: Number, primary: true, generated: true };
    const holder = { type: 'many-to-one', target: 'ExactHolder', nullable: false } as const;
    // A real @UpdateDateColumn: on MySQL/MariaDB TypeORM creates it `ON UPDATE CURRENT_TIMESTAMP(6)`, so any UPDATE
    // the engine issued would stamp it anew unless it pins it.
    const updated: EntitySchemaColumnOptions = { type: db.kind === 'postgres' ? 'timestamp' : 'datetime', updateDate: true };
    // A generated column: the database computes it, so a removed row is written back without it (SQLite: plain columns only here).
    const twice: Record<string, EntitySchemaColumnOptions> =
      db.kind === 'sqlite' ? {} : { twice: { type: 'int', nullable: true, generatedType: 'STORED', asExpression: db.kind === 'postgres' ? '"holderId" * 2' : '`holderId` * 2' } };
    const schemas = [
      new EntitySchema<any>({ name: 'ExactHolder', tableName: 'exact_holder', columns: { id, ...typed(), updated, deletedAt: { type: db.kind === 'postgres' ? 'timestamp' : 'datetime', deleteDate: true, nullable: true } } }),
      new EntitySchema<any>({ name: 'ExactReading', tableName: 'exact_reading', columns: { id, ...typed(), updated, ...twice }, relations: { holder } }),
      // Removed on delete (no delete-date column): snapshot, then DELETE.
      new EntitySchema<any>({ name: 'ExactSample', tableName: 'exact_sample', columns: { id, ...typed(), updated, ...twice }, relations: { holder } }),
      // Hidden on delete.
      new EntitySchema<any>({ name: 'ExactTrace', tableName: 'exact_trace', columns: { id, ...typed(), updated, gone: { type: db.kind === 'postgres' ? 'timestamp' : 'datetime', deleteDate: true, nullable: true } }, relations: { holder } }),
    ];
    ds = await db.createDataSource(schemas);
    const q = (name: string) => ds.driver.escape(name);
    const p = (count: number, from = 1) => Array.from({ length: count }, (_, i) => (db.kind === 'postgres' ? `$${from + i}` : '?')).join(', ');
    const insert = async (table: string, i: number, holderId?: number) => {
      const columns = [...TYPED, ...(holderId ? ['holderId'] : [])];
      await ds.query(`INSERT INTO ${q(table)} (${columns.map(q).join(', ')}) VALUES (${p(columns.length)})`, [...typedValues(db.kind, i), ...(holderId ? [holderId] : [])]);
    };
    for (const subject of [1, 2]) {
      await insert('exact_holder', subject * 10);
      for (const table of ['exact_reading', 'exact_sample', 'exact_sample', 'exact_trace']) await insert(table, subject * 10 + tables.indexOf(table), subject);
    }
    // A past update time, so that a stamp written by the erasure or the restore could not go unnoticed.
    for (const table of tables) await ds.query(`UPDATE ${q(table)} SET ${q('updated')} = '2020-01-02 03:04:05${db.kind === 'sqlite' ? '' : '.123456'}'`);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: 'ExactHolder',
      secret: 'exact-secret-exact-secret-exact-secret-0001',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-exact-')) }),
      policy: { batchSize: 1 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  /** Every row of the four tables, each value rendered by the database itself. */
  async function rendered(): Promise<Record<string, unknown[]>> {
    const out: Record<string, unknown[]> = {};
    for (const table of tables) {
      const metadata = ds.entityMetadatas.find((m) => m.tableName === table)!;
      const select = metadata.columns.map((c, i) => {
        const col = ds.driver.escape(c.databaseName);
        const expr =
          db.kind === 'postgres' ? `${col}::text` : db.kind === 'sqlite' ? `quote(${col})` : c.databaseName === 'bin' ? `HEX(${col})` : `CAST(${col} AS CHAR)`;
        return `${expr} AS ${ds.driver.escape(`c${i}`)}`;
      });
      const rows: Record<string, unknown>[] = await ds.query(`SELECT ${select.join(', ')} FROM ${ds.driver.escape(table)} ORDER BY ${ds.driver.escape('id')}`);
      out[table] = rows.map((row) => Object.fromEntries(metadata.columns.map((c, i) => [c.databaseName, row[`c${i}`]])));
    }
    return out;
  }

  async function run(request: Promise<{ id: string }>) {
    const done = await engine.waitForRequest((await request).id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  it('after an anonymize (redacted rows)', async () => {
    const before = await rendered();
    expect(before.exact_holder[0]).toMatchObject(db.kind === 'sqlite' ? { big: '9223372036854775797' } : { stamp: '2024-02-29 13:14:15.123466' });
    const erased = await run(engine.anonymize({ subjectId: 1, actor: admin }));
    const during = await rendered();
    expect(during.exact_reading[0]).toMatchObject({ stamp: db.kind === 'sqlite' ? 'NULL' : null, doc: db.kind === 'sqlite' ? 'NULL' : null });
    // Erasure does not stamp the update time either (the database would, on MySQL/MariaDB, if it were not pinned).
    expect((during.exact_reading[0] as any).updated).toEqual((before.exact_reading[0] as any).updated);
    expect((during.exact_holder[0] as any).updated).toEqual((before.exact_holder[0] as any).updated);
    expect(during.exact_holder[1]).toEqual(before.exact_holder[1]); // the other subject is untouched
    await run(engine.restore({ requestId: erased.id, actor: admin }));
    expect(await rendered()).toEqual(before);
  });

  it('after a delete (hidden, removed and redacted rows)', async () => {
    const before = await rendered();
    const deleted = await run(engine.delete({ subjectId: 1, actor: admin }));
    const during = await rendered();
    expect(during.exact_sample.map((r: any) => r.id)).toEqual(before.exact_sample.slice(2).map((r: any) => r.id));
    expect(during.exact_trace.map((r: any) => r.updated)).toEqual(before.exact_trace.map((r: any) => r.updated));
    await run(engine.restore({ requestId: deleted.id, actor: admin }));
    expect(await rendered()).toEqual(before);
  });
});
