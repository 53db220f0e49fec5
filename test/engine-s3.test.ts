import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createS3Storage } from '../src/adapters/s3.js';
import { ForbiddenError, PrivacyEngine, type Actor, type ExportArtifact, type PrivacyRequest } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { type SeededContact, seedContact } from './fixtures/crm-seed.js';
import { createTestLogger } from './support/test-logger.js';

// s3rver serves the S3 API in-process on 127.0.0.1 (it does not check SigV4 signatures; the engine's own link
// signatures are checked by test/engine-artifacts.test.ts).
const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const DAY = 24 * 60 * 60 * 1000;
const admin: Actor = { id: 'admin-1', roles: ['admin'], tenantId: 'org-a' };
const artifactOf = (request: PrivacyRequest) => (request.outcome as { artifact: ExportArtifact }).artifact;

let server: any;
let directory: string;
let client: S3Client;
let buckets = 0;

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'pe-engine-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const address = (await server.run()) as AddressInfo;
  client = new S3Client({
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

describeEachDatabase('export archives on S3 (s3rver)', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let bucket: string;
  let offset = 0;
  const people: Record<string, SeededContact> = {};

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
    for (const name of ['ann', 'ben']) people[name] = await seedContact(ds, 'org-a', `tok${name}s3s3`);
    bucket = `pe-engine-${++buckets}-${db.kind}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: SECRET,
      storage: createS3Storage({ bucket, client, prefix: 'privacy/' }),
      clock: { now: () => new Date(Date.now() + offset) },
      logger: createTestLogger(),
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  const objects = async () => ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key);
  const exported = async (name: string) => engine.waitForRequest((await engine.export({ subjectId: people[name].contact.id, actor: admin })).id, { actor: engine.system });

  it('uploads the archive encrypted (no ZIP signature, no token of the subject in the object) and streams it back decrypted through a link', async () => {
    const done = await exported('ann');
    const key = `privacy/${artifactOf(done).key}`;
    expect(await objects()).toContain(key);
    const raw = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    expect(raw.subarray(0, 4).toString('latin1')).toBe('PESA');
    expect(raw.includes(Buffer.from('PK\x03\x04', 'latin1'))).toBe(false);
    expect(raw.toString('latin1')).not.toContain('tokanns3s3');

    const link = await engine.createDownloadLink({ requestId: done.id, actor: admin });
    const files = await readZip(await streamToBuffer((await engine.openDownload({ token: link.token, actor: admin })).stream));
    expect(JSON.parse(files.get('summary.json')!).meta.requestId).toBe(done.id);
  });

  it("deletes the subject's object when the subject is deleted, and every expired object on sweep()", async () => {
    const ann = (await engine.listRequests({ actor: engine.system, subjectId: people.ann.contact.id, type: 'export' }))[0];
    const ben = await exported('ben');
    const link = await engine.createDownloadLink({ requestId: ben.id, actor: admin });
    const erased = await engine.waitForRequest((await engine.delete({ subjectId: people.ben.contact.id, actor: admin })).id, { actor: engine.system });
    expect(erased.status).toBe('completed');
    expect(await objects()).not.toContain(`privacy/${artifactOf(ben).key}`);
    await expect(engine.openDownload({ token: link.token, actor: admin })).rejects.toBeInstanceOf(ForbiddenError);

    expect(await objects()).toContain(`privacy/${artifactOf(ann).key}`);
    offset = 7 * DAY + 1000;
    try {
      await engine.sweep();
    } finally {
      offset = 0;
    }
    expect(await objects()).toEqual([]);
  });
});
