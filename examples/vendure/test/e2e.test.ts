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
    // The login account, reached from the customer's side (Customer.user has no inverse on User).
    const userId = String((await db.query(`SELECT "userId" FROM customer WHERE id = $1`, [ada.id])).rows[0].userId);
    assert.deepEqual(recordIds(summary, 'account', 'User'), [userId]);
    assert.deepEqual(recordIds(summary, 'account', 'NativeAuthenticationMethod'), await idsOf(`SELECT id FROM authentication_method WHERE "userId" = $1`, [userId]));
    assert.deepEqual(
      recordIds(summary, 'account', 'AuthenticatedSession'),
      await idsOf(`SELECT id FROM session WHERE "userId" = $1 AND type = 'AuthenticatedSession'`, [userId]),
    );
    assert.ok(recordIds(summary, 'account', 'AuthenticatedSession').length > 0, 'she has sessions');
    const everything = [...files.values()].join('\n');
    for (const value of [ada.emailAddress, ada.streets[0], ada.streets[1], ada.cardHolder, ...ada.orderCodes]) assert.ok(everything.includes(value), 'the archive holds her data');
    // Credentials are never exported: the password hash (a select: false column) and the session tokens.
    const [{ passwordHash }] = (await db.query(`SELECT "passwordHash" FROM authentication_method WHERE "userId" = $1`, [userId])).rows;
    const tokens = (await db.query(`SELECT token FROM session WHERE "userId" = $1`, [userId])).rows.map((r) => r.token as string);
    for (const secret of [passwordHash, ...tokens]) assert.ok(!everything.includes(secret), 'a credential is in the archive');
    assert.ok(!everything.includes('passwordHash'), 'the password hash column is named in the archive');
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

  it('does not find a customer from another channel (the tenant)', async () => {
    const outlet = await adminClient();
    outlet.channelToken = population().otherChannelToken;
    await assert.rejects(outlet.query(`mutation ($id: ID!) { exportCustomerData(customerId: $id) { id } }`, { id: ada.id }), /not found/i);
  });

  it('exports the soft-deleted customer too, with their orders', async () => {
    const done = await runRequest(admin, 'exportCustomerData(customerId: $id)', { id: edsger.id });
    const summary = JSON.parse((await downloadArchive(admin, done.id)).get('summary.json')!);
    const [profile] = summary.categories.profile.records;
    assert.equal(String(profile._id), edsger.id);
    assert.ok(profile.deletedAt, 'the customer row shows it was deleted');
    assert.equal(recordIds(summary, 'orders', 'Order').length, edsger.orderCodes.length);
  });
  describe('anonymize, then restore', () => {
    let before: Record<string, unknown[]>;
    let anonymizeId: string;

    it('anonymize: redacts Ada in every mapped table, keeps her orders and payments, and she can no longer sign in', async () => {
      // Sign-ins write sessions and lastLogin: both customers sign in first, so the dump below is what must come back.
      assert.equal(await shopLogin(ada), 'CurrentUser');
      before = await dumpTables(db);
      const done = await runRequest(admin, 'anonymizeCustomerData(customerId: $id)', { id: ada.id });
      anonymizeId = done.id;
      const receipt = done.outcome.receipt;
      assert.equal(receipt.verification.passed, true, JSON.stringify(receipt.verification));
      assert.deepEqual(receipt.retained.map((r: any) => r.entity).sort(), ['Order', 'Payment']);
      const [customer] = (await db.query(`SELECT * FROM customer WHERE id = $1`, [ada.id])).rows;
      assert.match(customer.emailAddress, /^redacted-[a-z0-9]{16}@redacted\.invalid$/);
      assert.notEqual(customer.lastName, ada.lastName);
      const streets = (await db.query(`SELECT "streetLine1" FROM address WHERE "customerId" = $1`, [ada.id])).rows.map((r) => r.streetLine1);
      assert.ok(streets.length === ada.streets.length && streets.every((s) => !ada.streets.includes(s)), 'addresses are redacted');
      const notes = (await db.query(`SELECT data FROM history_entry WHERE "customerId" = $1 AND type = 'CUSTOMER_NOTE'`, [ada.id])).rows;
      assert.ok(notes.length > 0 && notes.every((r) => !r.data.includes(ada.streets[0])), 'staff notes are redacted');
      const userRow = (await db.query(`SELECT u.identifier FROM "user" u JOIN customer c ON c."userId" = u.id WHERE c.id = $1`, [ada.id])).rows[0];
      assert.notEqual(userRow.identifier, ada.emailAddress, 'the login identifier is redacted');
      const tokensBefore = before.session.filter((r: any) => r.userId === customer.userId).map((r: any) => r.token);
      const tokensAfter = (await db.query(`SELECT token FROM session WHERE "userId" = $1`, [customer.userId])).rows.map((r) => r.token);
      assert.ok(tokensBefore.length > 0 && tokensBefore.every((t: string) => !tokensAfter.includes(t)), 'her session tokens were replaced');
      assert.equal(await shopLogin(ada), 'InvalidCredentialsError', 'the Shop API login is refused');
    });

    it('restore: every table is as before, and Ada can sign in again', async () => {
      await runRequest(admin, 'restoreCustomerData(requestId: $id)', { id: anonymizeId });
      assert.deepEqual(await dumpTables(db), before);
      assert.equal(await shopLogin(ada), 'CurrentUser');
    });
  });

  describe('delete, then purge', () => {
    let deleteId: string;

    it('delete: removes her addresses, keeps orders and payments under the tax basis, and she can no longer sign in', async () => {
      const orderRows = (await db.query(`SELECT * FROM "order" WHERE "customerId" = $1 ORDER BY id`, [ada.id])).rows;
      const done = await runRequest(admin, 'deleteCustomerData(customerId: $id)', { id: ada.id });
      deleteId = done.id;
      const receipt = done.outcome.receipt;
      assert.equal(receipt.verification.passed, true, JSON.stringify(receipt.verification));
      assert.equal(receipt.entities.Address.action, 'removed');
      const retained = Object.fromEntries(receipt.retained.map((r: any) => [r.entity, r]));
      assert.equal(retained.Order.rows, ada.orderCodes.length);
      assert.match(retained.Order.legalBasis, /Tax/);
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM address WHERE "customerId" = $1`, [ada.id])).rows[0].n, 0);
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM "order" WHERE "customerId" = $1`, [ada.id])).rows[0].n, orderRows.length);
      // Hidden as Vendure hides a customer: its own deletedAt column, so the Admin API no longer finds her.
      assert.ok((await db.query(`SELECT "deletedAt" FROM customer WHERE id = $1`, [ada.id])).rows[0].deletedAt);
      assert.equal((await admin.query(`query ($id: ID!) { customer(id: $id) { id } }`, { id: ada.id })).customer, null);
      // Orders keep what the tax basis covers (the billing address), not the rest.
      assert.deepEqual(retained.Order.fields, ['billingAddress']);
      const after = (await db.query(`SELECT "shippingAddress", "billingAddress" FROM "order" WHERE "customerId" = $1 ORDER BY id`, [ada.id])).rows;
      for (const [i, row] of after.entries()) {
        assert.equal(row.billingAddress, orderRows[i].billingAddress, 'the billing address is kept');
        assert.ok(!row.shippingAddress.includes(ada.lastName), 'the shipping address is redacted');
      }
      const payments = (await db.query(`SELECT p.metadata FROM payment p JOIN "order" o ON o.id = p."orderId" WHERE o."customerId" = $1`, [ada.id])).rows;
      assert.ok(payments.length > 0 && payments.every((p) => !p.metadata.includes(ada.cardHolder)), 'the card holder is redacted');
      assert.equal(await shopLogin(ada), 'InvalidCredentialsError');
    });

    it("purge: the delete's recovery data is destroyed and it can no longer be restored", async () => {
      assert.ok((await db.query(`SELECT count(*)::int AS n FROM privacy_vault WHERE request_id = $1`, [deleteId])).rows[0].n > 0, 'the vault held the originals');
      const done = await runRequest(admin, 'purgeCustomerData(requestId: $id, force: $force)', { id: deleteId, force: true });
      assert.equal(done.outcome.forced, true);
      // Her retained orders still point at the customer row: purge empties its personal columns instead of removing it.
      assert.equal(done.outcome.redactedInstead.Customer, 1);
      const [customer] = (await db.query(`SELECT * FROM customer WHERE id = $1`, [ada.id])).rows;
      assert.ok(customer.deletedAt, 'the row stays hidden');
      for (const field of ['firstName', 'lastName', 'emailAddress']) assert.ok(!customer[field], `${field} is emptied`);
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM privacy_vault WHERE request_id = $1 AND kind <> 'digest'`, [deleteId])).rows[0].n, 0);
      await assert.rejects(
        admin.query(`mutation ($id: String!) { restoreCustomerData(requestId: $id) { id } }`, { id: deleteId }),
        /purged/,
      );
      assert.equal(await shopLogin(ada), 'InvalidCredentialsError');
    });
  });

  it('leaves every other customer as they were', async () => {
    assert.deepEqual(await othersRows(), othersBefore);
  });
});
