import type { DataSource } from 'typeorm';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterError } from '../src/errors.js';
import { RequestStore, affectedRows, countedUpdate } from '../src/db/request-store.js';
import { engineTableNames, ensureEngineTables } from '../src/db/engine-tables.js';
import { describeEachDatabase } from './support/databases.js';

describe('affectedRows', () => {
  it('reads each shape: TypeORM structured results, [rows, count] (PostgreSQL), affectedRows (MySQL/MariaDB), changes (better-sqlite3)', () => {
    expect(affectedRows({ records: [], affected: 5, raw: 9 })).toBe(5);
    expect(affectedRows([[], 3])).toBe(3);
    expect(affectedRows({ affectedRows: 0, insertId: 0 })).toBe(0);
    expect(affectedRows({ changes: 2, lastInsertRowid: 0 })).toBe(2);
  });

  it('fails closed with an AdapterError on a shape it does not know, instead of guessing one row', () => {
    // A bare number included: on SQLite, TypeORM's plain query() returns the last insert rowid, not a count.
    for (const unknown of [undefined, null, [], [[]], {}, { rowCount: 1 }, 'UPDATE 1', 7, -1, 1.5, { affectedRows: '1' }]) {
      expect(() => affectedRows(unknown), JSON.stringify(unknown)).toThrow(AdapterError);
    }
  });
});

describeEachDatabase('affectedRows on the real driver', (db) => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await db.createDataSource([]);
    await ds.query('CREATE TABLE pe_counted (id integer PRIMARY KEY, n integer NOT NULL)');
    await ds.query('INSERT INTO pe_counted (id, n) VALUES (1, 0), (2, 0), (3, 1)');
  });

  it('counts the rows an UPDATE changed, zero included, on the DataSource and inside a transaction', async () => {
    expect(await countedUpdate(ds, 'UPDATE pe_counted SET n = 5 WHERE n = 0')).toBe(2);
    expect(await countedUpdate(ds, 'UPDATE pe_counted SET n = 6 WHERE id = 3')).toBe(1);
    expect(await countedUpdate(ds, 'UPDATE pe_counted SET n = 7 WHERE id = 99')).toBe(0);
    await ds.transaction(async (tx) => {
      expect(await countedUpdate(tx, 'UPDATE pe_counted SET n = 8 WHERE n = 5')).toBe(2);
      expect(await countedUpdate(tx, 'UPDATE pe_counted SET n = 9 WHERE id = 99')).toBe(0);
    });
  });

  it('a request compare-and-set on a status that no longer holds changes nothing', async () => {
    const names = engineTableNames(ds, 'cas_');
    await ensureEngineTables(ds, names);
    const store = new RequestStore(ds, names.requests);
    const request = await store.insert({ type: 'export', subjectType: 'Contact', subjectId: '1', tenantId: null, requestedBy: 'a', regulation: 'gdpr', now: 1, dueAt: 2 });
    // Another worker moved it on between this worker's read and its write.
    const get = store.get.bind(store);
    store.get = async (id, executor) => ({ ...(await get(id, executor))!, status: 'queued' });
    await ds.query(`UPDATE ${ds.driver.escape(names.requests)} SET ${ds.driver.escape('status')} = 'running'`);
    expect(await store.update(request.id, { status: 'running', startedAt: 5 }, 5, ['queued'])).toBeNull();
  });
});
