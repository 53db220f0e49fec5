import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import { PrivacyEngine, createLocalStorage, createSecretKeys, type Actor, type KeysPort, type PrivacyRequest } from '../src/index.js';
import { open } from '../src/vault/aes-gcm.js';
import { seedContact } from './fixtures/crm-seed.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { describeEachDatabase } from './support/databases.js';
import { createTestLogger } from './support/test-logger.js';

const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };
const SECRET = 'shredding-secret-shredding-secret-shredding-01';

/**
 * A KMS stand-in that keeps each request's data key itself: the "wrapped" key stored in the database is only a
 * random handle, so once destroyKey forgets the key no copy of the database can be opened again.
 */
class KmsKeys implements KeysPort {
  readonly name = 'test-kms';
  readonly destroyed: string[] = [];
  private readonly held = new Map<string, { handle: string; key: Buffer }>();
  private readonly derived = createSecretKeys({ secret: SECRET });

  async wrapKey(dataKey: Buffer, context: string): Promise<Buffer> {
    const handle = randomBytes(16).toString('hex');
    this.held.set(context, { handle, key: Buffer.from(dataKey) });
    return Buffer.from(handle, 'utf8');
  }
  async unwrapKey(wrapped: Buffer, context: string): Promise<Buffer> {
    const entry = this.held.get(context);
    if (!entry || entry.handle !== wrapped.toString('utf8')) throw new Error(`no key for ${context}`);
    return entry.key;
  }
  async deriveKey(purpose: string): Promise<Buffer> {
    return this.derived.deriveKey(purpose);
  }
  async destroyKey(context: string): Promise<void> {
    this.destroyed.push(context);
    this.held.delete(context);
  }
}

interface VaultRow {
  kind: string;
  seq: number;
  payload: Buffer;
}

describeEachDatabase('crypto-shredding: what a backup taken before the shred can still read', (db) => {
  const engines: PrivacyEngine[] = [];
  afterAll(async () => {
    for (const engine of engines) await engine.stop();
  });

  async function setUp(keys: { keys: KeysPort } | { secret: string }): Promise<{ ds: DataSource; engine: PrivacyEngine }> {
    const ds = await db.createDataSource(crmEntities);
    const engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      ...keys,
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-shred-')) }),
      logger: createTestLogger(),
    });
    engines.push(engine);
    await engine.start();
    return { ds, engine };
  }

  async function run(engine: PrivacyEngine, request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  /** A copy of the vault rows of one request, as a database backup would hold them. */
  async function backupVault(ds: DataSource, requestId: string): Promise<VaultRow[]> {
    const rows: Array<{ request_id: string; kind: string; seq: unknown; payload: unknown }> = await ds.query('SELECT * FROM privacy_vault');
    return rows
      .filter((r) => r.request_id === requestId)
      .map((r) => ({ kind: r.kind, seq: Number(r.seq), payload: Buffer.from(r.payload as Uint8Array) }));
  }

  /** After a purge only the plain `digest` entries stay (keyed digests of what the erasure wrote): none holds an original. */
  async function expectOnlyDigestsLeft(ds: DataSource, requestId: string, token: string): Promise<void> {
    const left = await backupVault(ds, requestId);
    expect(left.map((r) => r.kind).filter((k) => k !== 'digest')).toEqual([]);
    for (const row of left) expect(row.payload.toString('utf8')).not.toContain(token);
  }

  /** Decrypts a backup's redact entries with the given keys adapter: the original values, or the error. */
  async function readBackup(keys: KeysPort, requestId: string, backup: VaultRow[]): Promise<string> {
    const wrapped = backup.find((r) => r.kind === 'key');
    if (!wrapped) throw new Error('the backup holds no wrapped key');
    const dataKey = await keys.unwrapKey(wrapped.payload, `vault:${requestId}`);
    return backup
      .filter((r) => r.kind === 'redact')
      .map((r) => open(dataKey, r.payload, `${requestId}:${r.seq}`).toString('utf8'))
      .join('\n');
  }

  it('a KMS adapter with destroyKey is called on purge, after which a backup of the vault cannot be decrypted', async () => {
    const kms = new KmsKeys();
    const { ds, engine } = await setUp({ keys: kms });
    const alice = await seedContact(ds, 'org-a', 'tokshred01');
    const erasure = await run(engine, engine.anonymize({ subjectId: alice.contact.id, actor: admin }));
    const backup = await backupVault(ds, erasure.id);
    expect(await readBackup(kms, erasure.id, backup)).toContain('tokshred01@mail.example');

    await run(engine, engine.purge({ requestId: erasure.id, actor: admin, force: true }));
    expect(kms.destroyed).toEqual([`vault:${erasure.id}`]);
    await expectOnlyDigestsLeft(ds, erasure.id, 'tokshred01');
    await expect(readBackup(kms, erasure.id, backup)).rejects.toThrow(`no key for vault:${erasure.id}`);
  });

  it('a KMS adapter with destroyKey is called when a full restore shreds the vault, after which a backup cannot be decrypted', async () => {
    const kms = new KmsKeys();
    const { ds, engine } = await setUp({ keys: kms });
    const bob = await seedContact(ds, 'org-a', 'tokshred02');
    const erasure = await run(engine, engine.anonymize({ subjectId: bob.contact.id, actor: admin }));
    const backup = await backupVault(ds, erasure.id);
    expect(await readBackup(kms, erasure.id, backup)).toContain('tokshred02@mail.example');

    await run(engine, engine.restore({ requestId: erasure.id, actor: admin }));
    expect(kms.destroyed).toEqual([`vault:${erasure.id}`]);
    expect((await ds.getRepository(Contact).findOneByOrFail({ id: bob.contact.id })).email).toBe('tokshred02@mail.example');
    await expect(readBackup(kms, erasure.id, backup)).rejects.toThrow(`no key for vault:${erasure.id}`);
  });

  it('when destroyKey rejects, the purge fails with the wrapped key still in place, and a second purge shreds it', async () => {
    const kms = new KmsKeys();
    const { ds, engine } = await setUp({ keys: kms });
    const dave = await seedContact(ds, 'org-a', 'tokshred04');
    const erasure = await run(engine, engine.anonymize({ subjectId: dave.contact.id, actor: admin }));
    const destroy = kms.destroyKey.bind(kms);
    kms.destroyKey = async () => {
      throw new Error('KMS unavailable');
    };
    const failed = await engine.waitForRequest((await engine.purge({ requestId: erasure.id, actor: admin, force: true })).id, { actor: engine.system });
    expect(failed.status).toBe('failed');
    expect((await backupVault(ds, erasure.id)).some((r) => r.kind === 'key')).toBe(true);

    kms.destroyKey = destroy;
    const backup = await backupVault(ds, erasure.id);
    await run(engine, engine.purge({ requestId: erasure.id, actor: admin, force: true }));
    expect(kms.destroyed).toEqual([`vault:${erasure.id}`]);
    await expect(readBackup(kms, erasure.id, backup)).rejects.toThrow(`no key for vault:${erasure.id}`);
  });

  it('with the default secret adapter, a backup taken before a purge stays decryptable by anyone holding the secret (the documented limit)', async () => {
    const { ds, engine } = await setUp({ secret: SECRET });
    const carol = await seedContact(ds, 'org-a', 'tokshred03');
    const erasure = await run(engine, engine.anonymize({ subjectId: carol.contact.id, actor: admin }));
    const backup = await backupVault(ds, erasure.id);

    await run(engine, engine.purge({ requestId: erasure.id, actor: admin, force: true }));
    await expectOnlyDigestsLeft(ds, erasure.id, 'tokshred03');
    expect(await readBackup(createSecretKeys({ secret: SECRET }), erasure.id, backup)).toContain('tokshred03@mail.example');
  });
});
