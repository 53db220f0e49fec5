import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type DataSource, EntitySchema } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LinkExpiredError, PrivacyEngine, createLocalStorage, defineDataSubject, definePersonalData, defineRedact } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { createTestLogger } from './support/test-logger.js';

const DAY = 24 * 60 * 60 * 1000;

/** A host on EntitySchema (no classes, no decorators) declares its data map with the define* functions. */
defineDataSubject('Customer', { displayName: (c: { handle: string }) => c.handle });
defineRedact('Customer', 'handle', 'hmac');
defineRedact('Customer', 'lastSeenIp', 'ip');
definePersonalData('Upload', { category: { name: 'uploads', purpose: 'Support attachments' }, link: 'owner', onErase: 'anonymize' });
defineRedact('Upload', 'content', 'null');

describeEachDatabase('EntitySchema hosts and value formats', (db) => {
  let ds: DataSource;
  let offset = 0;
  let bigValue = '';
  let engine: PrivacyEngine;
  const admin = { id: 'admin', roles: ['admin'] };

  beforeAll(async () => {
    const binary = db.kind === 'postgres' ? 'bytea' : 'blob';
    const Customer = new EntitySchema<any>({
      name: 'Customer',
      tableName: 'es_customer',
      columns: {
        id: { type: Number, primary: true, generated: true },
        handle: { type: 'varchar', length: 64 },
        lastSeenIp: { type: 'varchar', length: 45, nullable: true },
      },
    });
    const Upload = new EntitySchema<any>({
      name: 'Upload',
      tableName: 'es_upload',
      columns: { id: { type: Number, primary: true, generated: true }, content: { type: binary as never, nullable: true }, size: { type: 'bigint' } },
      relations: { owner: { type: 'many-to-one', target: 'Customer', nullable: false } },
    });
    ds = await db.createDataSource([Customer, Upload]);
    // better-sqlite3 reads INTEGER as a JS number (precise to 2^53 only), so SQLite gets a value it can hold.
    bigValue = db.kind === 'sqlite' ? '9007199254740991' : '9007199254740993';
    const c = await ds.getRepository('Customer').save({ handle: 'grace-h', lastSeenIp: '198.51.100.23' });
    await ds.getRepository('Upload').save({ content: Buffer.from([0, 1, 2, 250, 255]), size: bigValue, owner: c });
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: 'Customer',
      secret: 'schema-secret-schema-secret-schema-secret-01',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-schema-')) }),
      clock: { now: () => new Date(Date.now() + offset) },
      logger: createTestLogger(),
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  it('exports binary as base64 and big integers as strings, and expires the download after 7 days', async () => {
    const request = await engine.waitForRequest((await engine.export({ subjectId: 1, actor: admin })).id, { actor: engine.system });
    expect(request.status).toBe('completed');
    const files = await readZip(await streamToBuffer((await engine.download({ requestId: request.id, actor: admin })).stream));
    const summary = JSON.parse(files.get('summary.json')!);
    expect(summary.meta.subject.displayName).toBe('grace-h');
    expect(summary.categories.uploads.records).toEqual([{ _entity: 'Upload', _id: '1', id: 1, content: 'AAEC+v8=', size: db.kind === 'sqlite' ? Number(bigValue) : bigValue, ownerId: 1 }]);

    offset = 7 * DAY + 1000;
    const expired = await engine.download({ requestId: request.id, actor: admin }).catch((e: unknown) => e);
    expect(expired).toBeInstanceOf(LinkExpiredError);
    expect((expired as Error).message).toBe('This download link has expired. Please generate a new export');
    offset = 0;
  });

  it('anonymizes through the decorator-free declarations, with a deterministic keyed pseudonym', async () => {
    // A second customer with the same handle and a third with another one: the keyed pseudonym must be equal for
    // equal inputs, differ for different inputs, and differ from an unkeyed SHA-256 of the handle.
    await ds.getRepository('Customer').save([{ handle: 'grace-h' }, { handle: 'ada-l' }]);
    for (const subjectId of [1, 2, 3]) {
      const request = await engine.waitForRequest((await engine.anonymize({ subjectId, actor: admin })).id, { actor: engine.system });
      expect(request.status).toBe('completed');
    }
    const customers = await ds.query(`SELECT * FROM ${ds.driver.escape('es_customer')} ORDER BY ${ds.driver.escape('id')}`);
    expect(customers[0].handle).toMatch(/^[0-9a-f]{32,64}$/);
    expect(customers[1].handle).toBe(customers[0].handle);
    expect(customers[2].handle).toMatch(/^[0-9a-f]{32,64}$/);
    expect(customers[2].handle).not.toBe(customers[0].handle);
    expect(customers[0].handle).not.toContain(createHash('sha256').update('grace-h').digest('hex').slice(0, 32));
    expect(customers[0].lastSeenIp).toBe('198.51.100.0');
    const [upload] = await ds.query(`SELECT * FROM ${ds.driver.escape('es_upload')}`);
    expect(upload.content).toBeNull();
  });
});
