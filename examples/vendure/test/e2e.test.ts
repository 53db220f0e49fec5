/**
 * The privacy plugin in a running Vendure server and worker, on a database populated through Vendure's own APIs
 * (scripts/populate.ts): export, anonymize, restore, delete and purge of one customer, asked for through the
 * plugin's Admin API and run by the worker. test.sh starts everything and runs this file with `node --test`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from 'pg';
import { VendureClient } from '../scripts/graphql-client';
import type { PopulatedCustomer } from '../scripts/populate';
import { adminClient, database, downloadArchive, dumpTables, population, runRequest } from './support';

let admin: VendureClient;
let db: Client;
let ada: PopulatedCustomer;
let others: PopulatedCustomer[];
let edsger: PopulatedCustomer;
let adaArchive: Map<string, string>;

const shopLogin = async (c: PopulatedCustomer) => (await new VendureClient('shop-api').login(c.emailAddress, c.password!)).typename;
const idsOf = async (sql: string, params: unknown[]) => (await db.query(sql, params)).rows.map((r) => String(r.id)).sort();
const recordIds = (summary: any, category: string, entity: string) =>
  (summary.categories[category]?.records ?? []).filter((r: any) => r._entity === entity).map((r: any) => String(r._id)).sort();
/** The rows of other customers, and of their users, that must never change while Ada is erased and restored. */
async function othersRows(): Promise<unknown> {
  const ids = others.map((c) => Number(c.id));
  return {
    customers: (await db.query(`SELECT * FROM customer WHERE id = ANY($1) ORDER BY id`, [ids])).rows,
    addresses: (await db.query(`SELECT * FROM address WHERE "customerId" = ANY($1) ORDER BY id`, [ids])).rows,
    orders: (await db.query(`SELECT * FROM "order" WHERE "customerId" = ANY($1) ORDER BY id`, [ids])).rows,
    history: (await db.query(`SELECT h.* FROM history_entry h LEFT JOIN "order" o ON o.id = h."orderId" WHERE h."customerId" = ANY($1) OR o."customerId" = ANY($1) ORDER BY h.id`, [ids])).rows,
    methods: (await db.query(`SELECT m.* FROM authentication_method m JOIN customer c ON c."userId" = m."userId" WHERE c.id = ANY($1) ORDER BY m.id`, [ids])).rows,
  };
}

describe('privacy plugin in a Vendure server and worker', () => {
  let othersBefore: unknown;

  before(async () => {
    const { customers } = population();
    ada = customers.find((c) => c.key === 'ada')!;
    edsger = customers.find((c) => c.key === 'edsger')!;
    others = customers.filter((c) => c.key !== 'ada');
    admin = await adminClient();
    db = await database();
    othersBefore = await othersRows();
  });

  after(async () => {
    await db?.end();
  });

  it("resolves a data map over Vendure's entities", async () => {
    const { privacyDataMap } = await admin.query(`{ privacyDataMap }`);
    assert.equal(privacyDataMap.subject.entity, 'Customer');
    const entities = privacyDataMap.entities.map((e: any) => e.name).sort();
    for (const name of ['Address', 'Customer', 'CustomerHistoryEntry', 'Order', 'OrderHistoryEntry', 'Payment']) assert.ok(entities.includes(name), `${name} is mapped`);
  });

  it("exports Ada's customer row, addresses, orders, payments and history entries, read from the database", async () => {
    const done = await runRequest(admin, 'exportCustomerData(customerId: $id)', { id: ada.id });
    const files = await downloadArchive(admin, done.id);
    adaArchive = files;
    const summary = JSON.parse(files.get('summary.json')!);
    assert.equal(String(summary.meta.subject.id), ada.id);
    assert.equal(summary.meta.subject.displayName, `${ada.firstName} ${ada.lastName}`);
    assert.deepEqual(recordIds(summary, 'profile', 'Customer'), [ada.id]);
    assert.deepEqual(recordIds(summary, 'addresses', 'Address'), await idsOf(`SELECT id FROM address WHERE "customerId" = $1`, [ada.id]));
    assert.deepEqual(recordIds(summary, 'orders', 'Order'), await idsOf(`SELECT id FROM "order" WHERE "customerId" = $1`, [ada.id]));
    assert.equal(recordIds(summary, 'orders', 'Order').length, ada.orderCodes.length);
    assert.deepEqual(recordIds(summary, 'payments', 'Payment'), await idsOf(`SELECT p.id FROM payment p JOIN "order" o ON o.id = p."orderId" WHERE o."customerId" = $1`, [ada.id]));
    assert.deepEqual(recordIds(summary, 'history', 'CustomerHistoryEntry'), await idsOf(`SELECT id FROM history_entry WHERE "customerId" = $1`, [ada.id]));
    assert.deepEqual(
      recordIds(summary, 'history', 'OrderHistoryEntry'),
      await idsOf(`SELECT h.id FROM history_entry h JOIN "order" o ON o.id = h."orderId" WHERE o."customerId" = $1`, [ada.id]),
    );
    const everything = [...files.values()].join('\n');
    for (const value of [ada.emailAddress, ada.streets[0], ada.streets[1], ada.cardHolder, ...ada.orderCodes]) assert.ok(everything.includes(value), 'the archive holds her data');
    for (const name of ['README.md', 'summary.csv', 'categories/profile.json', 'categories/orders.csv']) assert.ok(files.has(name), `${name} is in the archive`);
  });

  it("keeps every other customer's data out of Ada's archive", () => {
    const everything = [...adaArchive.values()].join('\n').toLowerCase();
    for (const other of others) {
      for (const value of [other.emailAddress, other.lastName, other.cardHolder, ...other.streets, ...other.orderCodes]) {
        assert.ok(!everything.includes(value.toLowerCase()), `a value of customer ${other.key} is in Ada's archive`);
      }
    }
  });

  it('exports the soft-deleted customer too, with their orders', async () => {
    const done = await runRequest(admin, 'exportCustomerData(customerId: $id)', { id: edsger.id });
    const summary = JSON.parse((await downloadArchive(admin, done.id)).get('summary.json')!);
    const [profile] = summary.categories.profile.records;
    assert.equal(String(profile._id), edsger.id);
    assert.ok(profile.deletedAt, 'the customer row shows it was deleted');
    assert.equal(recordIds(summary, 'orders', 'Order').length, edsger.orderCodes.length);
  });
});
