import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import yauzl from 'yauzl';
import type { PopulatedCustomer } from '../scripts/populate';
import { VendureClient } from '../scripts/graphql-client';

export const dataDirectory = process.env.VENDURE_DATA_DIR ?? path.join(__dirname, '..', '..', '.data');

export function population(): { customers: PopulatedCustomer[]; otherChannelToken: string } {
  return JSON.parse(readFileSync(path.join(dataDirectory, 'population.json'), 'utf8'));
}

export async function adminClient(): Promise<VendureClient> {
  const admin = new VendureClient('admin-api');
  const login = await admin.login('superadmin', process.env.SUPERADMIN_PASSWORD ?? 'superadmin');
  if (login.typename !== 'CurrentUser') throw new Error(`superadmin login: ${login.typename}`);
  return admin;
}

export const REQUEST_FIELDS = 'id type status subjectId finishedAt warnings review { item reason } error outcome';

/** Polls the plugin's Admin API until the request has ended (the worker runs it). */
export async function waitForRequest(admin: VendureClient, id: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { privacyRequest } = await admin.query(`query ($id: String!) { privacyRequest(id: $id) { ${REQUEST_FIELDS} } }`, { id });
    if (['completed', 'failed', 'cancelled'].includes(privacyRequest.status)) return privacyRequest;
    if (Date.now() > deadline) throw new Error(`request ${id} is still ${privacyRequest.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Asks for a request through a plugin mutation and waits for it; fails the test unless it completed. */
export async function runRequest(admin: VendureClient, mutation: string, variables: Record<string, unknown>): Promise<Record<string, any>> {
  const idType = mutation.includes('requestId') ? 'String!' : 'ID!';
  const data = await admin.query(`mutation ($id: ${idType}${'force' in variables ? ', $force: Boolean' : ''}) { result: ${mutation} { id status } }`, variables);
  const done = await waitForRequest(admin, data.result.id);
  if (done.status !== 'completed') throw new Error(`${mutation}: request ${done.id} ended ${done.status}: ${done.error ?? ''}`);
  return done;
}

/** The export's ZIP, downloaded through the plugin's REST endpoint, as file name → text. */
export async function downloadArchive(admin: VendureClient, requestId: string): Promise<Map<string, string>> {
  const response = await admin.get(`/privacy/exports/${requestId}`);
  if (response.status !== 200) throw new Error(`download: HTTP ${response.status}`);
  const zip = Buffer.from(await response.arrayBuffer());
  return new Promise((resolve, reject) => {
    const files = new Map<string, string>();
    yauzl.fromBuffer(zip, { lazyEntries: true }, (error, archive) => {
      if (error || !archive) return reject(error);
      archive.on('entry', (entry: yauzl.Entry) => {
        archive.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return reject(streamError);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks).toString('utf8'));
            archive.readEntry();
          });
          stream.on('error', reject);
        });
      });
      archive.on('end', () => resolve(files));
      archive.on('error', reject);
      archive.readEntry();
    });
  });
}

export async function database(): Promise<Client> {
  const client = new Client({
    host: process.env.DB_HOST ?? '127.0.0.1',
    port: Number(process.env.DB_PORT ?? '5432'),
    user: process.env.DB_USER ?? 'postgres',
    password: process.env.DB_PASSWORD ?? '',
    database: process.env.DB_NAME ?? 'vendure_privacy_example',
  });
  await client.connect();
  return client;
}

/** The Vendure tables a customer's data lives in, with the key that orders their rows. */
export const CUSTOMER_TABLES: Record<string, string> = {
  customer: 'id',
  address: 'id',
  order: 'id',
  payment: 'id',
  history_entry: 'id',
  user: 'id',
  authentication_method: 'id',
  session: 'id',
  customer_channels_channel: '"customerId", "channelId"',
  customer_groups_customer_group: '"customerId", "customerGroupId"',
};

/** Every row of those tables, every column (the password hash included), as PostgreSQL returns them. */
export async function dumpTables(db: Client): Promise<Record<string, unknown[]>> {
  const dump: Record<string, unknown[]> = {};
  for (const [table, order] of Object.entries(CUSTOMER_TABLES)) dump[table] = (await db.query(`SELECT * FROM "${table}" ORDER BY ${order}`)).rows;
  return dump;
}
