import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivacyEngine, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { idleQueue } from './support/idle-queue.js';
import { dumpTables } from './support/table-dump.js';
import {
  VlAnonymousSession,
  VlAuthMethod,
  VlAuthenticatedSession,
  VlChannel,
  VlCustomer,
  VlCustomerNote,
  VlExternalAuth,
  VlNativeAuth,
  VlSession,
  VlStaffNote,
  VlUser,
  vendureLikeEntities,
} from './fixtures/vendure-like.js';

const quiet = { info() {}, warn() {}, error() {} };

/** One customer with everything the fixture can hold about them; every value carries `token`. */
async function seedCustomer(ds: DataSource, token: string, channels: VlChannel[]) {
  const user = await ds.getRepository(VlUser).save({ identifier: `${token}@login.test`, verified: true });
  const customer = await ds.getRepository(VlCustomer).save({
    firstName: `First${token}`,
    lastName: `Last${token}`,
    emailAddress: `${token}@mail.test`,
    customFields: { nickname: `nick${token}`, tier: 'gold', bio: `bio${token}` },
    marketingSegment: `seg${token}`.slice(0, 32),
    internalScore: `score${token}`.slice(0, 32),
    user,
    channels,
  });
  const native = await ds.getRepository(VlNativeAuth).save({ user, identifier: `${token}@login.test`, passwordHash: `hash${token}`, verificationToken: `vt${token}` });
  const external = await ds.getRepository(VlExternalAuth).save({ user, strategy: 'google', externalIdentifier: `ext${token}` });
  const session = await ds.getRepository(VlAuthenticatedSession).save({ user, token: `sess${token}`, ipAddress: '203.0.113.7' });
  // Nobody's: no user, so no link reaches it.
  const anonymous = await ds.getRepository(VlAnonymousSession).save({ token: `anon${token}`, ipAddress: null });
  const note = await ds.getRepository(VlCustomerNote).save({ customer, body: `note${token}` });
  const staffNote = await ds.getRepository(VlStaffNote).save({ customer, body: `staff${token}` });
  return { user, customer, native, external, session, anonymous, note, staffNote };
}

async function exportedRecords(engine: PrivacyEngine, subjectId: number, actor: Actor) {
  const request = await engine.export({ subjectId, actor });
  const done = await engine.waitForRequest(request.id, { actor: engine.system });
  expect(done.error).toBeUndefined();
  const download = await engine.download({ requestId: done.id, actor });
  const files = await readZip(await streamToBuffer(download.stream));
  const summary = JSON.parse(files.get('summary.json')!);
  return { files, categories: summary.categories as Record<string, { records: Array<Record<string, unknown>> }> };
}

describeEachDatabase('a Vendure-shaped schema: links from the subject side, single-table inheritance, credentials', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let orgA: VlChannel;
  let orgB: VlChannel;
  const adminA: Actor = { id: 'admin-a', roles: ['admin'], tenantId: 'org-a' };

  beforeAll(async () => {
    ds = await db.createDataSource(vendureLikeEntities);
    [orgA, orgB] = await ds.getRepository(VlChannel).save([{ code: 'org-a' }, { code: 'org-b' }]);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: VlCustomer,
      tenantColumn: 'channels.code',
      secret: 'vendure-like-secret-vendure-like-secret-01',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-vl-')) }),
      logger: quiet,
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  async function run(request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  it('resolves links walked from the subject side, the discriminators of single-table classes, credentials and the tenant path', () => {
    const map = engine.dataMap();
    const entity = (name: string) => map.entities.find((e) => e.name === name)!;
    expect(entity('VlUser').links).toEqual([{ kind: 'relation', path: 'VlCustomer.user', through: ['VlCustomer'], sharing: 'exclusive' }]);
    expect(entity('VlAuthMethod').links[0]).toMatchObject({ path: 'VlCustomer.user.authenticationMethods', through: ['VlUser', 'VlCustomer'], sharing: 'exclusive' });
    expect(entity('VlNativeAuth').links[0]).toMatchObject({ path: 'user.VlCustomer.user', through: ['VlUser', 'VlCustomer'], sharing: 'exclusive' });
    // The root owns every row but the separately mapped subtype's; the child owns its own; nobody maps the covered sibling.
    expect(entity('VlAuthMethod').discriminator).toEqual({ column: 'type', values: ['VlNativeAuth'], except: true });
    expect(entity('VlNativeAuth').discriminator).toEqual({ column: 'type', values: ['VlNativeAuth'], except: false });
    expect(entity('VlCustomerNote').discriminator).toEqual({ column: 'kind', values: ['customer-note'], except: false });
    expect(entity('VlSession').discriminator).toBeNull();
    expect(map.entities.map((e) => e.name)).not.toContain('VlExternalAuth');
    expect(map.entities.map((e) => e.name)).not.toContain('VlStaffNote');
    // A @Redact declared on a covered subtype applies to the class that covers it.
    expect(entity('VlAuthMethod').fields.find((f) => f.name === 'externalIdentifier')).toMatchObject({ redact: 'hmac' });

    const native = entity('VlNativeAuth').fields;
    // A subtype's own columns are nullable in a single table: the hash is removed. A NOT NULL credential gets a random value.
    expect(native.find((f) => f.name === 'passwordHash')).toMatchObject({ exported: false, credential: true, redact: 'null' });
    expect(entity('VlSession').fields.find((f) => f.name === 'token')).toMatchObject({ exported: false, credential: true, redact: 'custom' });
    expect(native.find((f) => f.name === 'verificationToken')).toMatchObject({ exported: false, credential: true, redact: 'null' });
    expect(native.find((f) => f.name === 'identifier')).toMatchObject({ exported: true, credential: false, redact: 'email' });
    const customer = entity('VlCustomer').fields;
    expect(customer.find((f) => f.name === 'marketingSegment')).toMatchObject({ exported: true, credential: false });
    expect(customer.find((f) => f.name === 'internalScore')).toMatchObject({ exported: false, credential: false });
    expect(customer.find((f) => f.name === 'customFields.nickname')).toMatchObject({ column: 'customFieldsNickname', exported: true, redact: 'name' });
    expect(customer.find((f) => f.name === 'customFields.bio')).toMatchObject({ column: 'customFieldsBio', exported: true, redact: 'text' });
    expect(map.subject.tenant).toEqual({ kind: 'relation', path: 'channels.code', through: ['VlChannel'] });
    expect(map.subject.tenantColumn).toBeNull();
  });

  it('the coverage check counts an undeclared subtype as covered by the parent that maps its rows', async () => {
    const report = await engine.coverage();
    const status = (name: string) => report.entities.find((e) => e.entity === name)?.status;
    expect(status('VlExternalAuth')).toBe('personal');
    expect(status('VlAuthenticatedSession')).toBe('personal');
    expect(status('VlNativeAuth')).toBe('personal');
  });

  it("exports the login account, its methods and sessions once each, no credential, no sibling type's rows and no one else's", async () => {
    const a = await seedCustomer(ds, 'tokvla01', [orgA]);
    const b = await seedCustomer(ds, 'tokvlb01', [orgA]);
    const { files, categories } = await exportedRecords(engine, a.customer.id, adminA);
    const all = [...files.values()].join('\n');

    expect(categories.account.records.map((r) => r._id)).toEqual([String(a.user.id)]);
    expect(categories.passwords.records.map((r) => r._id)).toEqual([String(a.native.id)]);
    // Every type but the separately mapped one, each row once.
    expect(categories['sign-in-methods'].records.map((r) => r._id)).toEqual([String(a.external.id)]);
    expect(categories['sign-in-methods'].records[0]).toMatchObject({ _entity: 'VlAuthMethod', externalIdentifier: 'exttokvla01', strategy: 'google' });
    expect(categories.sessions.records.map((r) => r._id)).toEqual([String(a.session.id)]);
    expect(categories.notes.records.map((r) => r._id)).toEqual([String(a.note.id)]);
    expect(categories.profile.records[0]).toMatchObject({ 'customFields.nickname': 'nicktokvla01', 'customFields.tier': 'gold', 'customFields.bio': 'biotokvla01', marketingSegment: 'segtokvla01' });

    for (const secret of ['hashtokvla01', 'vttokvla01', 'sesstokvla01', 'scoretokvla01', 'stafftokvla01']) expect(all).not.toContain(secret);
    for (const name of ['passwordHash', 'verificationToken', 'internalScore', '"token"']) expect(all).not.toContain(name);
    expect(all).not.toContain('tokvlb01');
    void b;
  });

  it('anonymize resets the credentials, redacts the login through the subject-side links, and restore gives every table back', async () => {
    const a = await seedCustomer(ds, 'tokvla02', [orgA]);
    await seedCustomer(ds, 'tokvlb02', [orgA]);
    const before = await dumpTables(ds);
    const done = await run(engine.anonymize({ subjectId: a.customer.id, actor: adminA }));

    const user = await ds.getRepository(VlUser).findOneByOrFail({ id: a.user.id });
    expect(user.identifier).toMatch(/@redacted\.invalid$/);
    const native = await ds.getRepository(VlNativeAuth).createQueryBuilder('n').addSelect('n.passwordHash').where('n.id = :id', { id: a.native.id }).getOneOrFail();
    // The person cannot sign in: no password hash, no verification token, and their session tokens are random values nobody holds.
    expect(native.passwordHash).toBeNull();
    expect(native.verificationToken).toBeNull();
    expect(native.identifier).toMatch(/@redacted\.invalid$/);
    const external = await ds.getRepository(VlExternalAuth).findOneByOrFail({ id: a.external.id });
    expect(external.externalIdentifier).toMatch(/^[0-9a-f]+$/);
    const session = await ds.getRepository(VlAuthenticatedSession).findOneByOrFail({ id: a.session.id });
    expect(session.token).not.toBe('sesstokvla02');
    expect(session.token).toMatch(/^[a-z0-9]{64}$/);
    const fields = (await ds.getRepository(VlCustomer).findOneByOrFail({ id: a.customer.id })).customFields;
    expect(fields).toEqual({ nickname: 'Redacted', tier: 'gold', bio: '[REDACTED]' });
    // The staff note is not mapped, the anonymous session is no one's.
    expect((await ds.getRepository(VlStaffNote).findOneByOrFail({ id: a.staffNote.id })).body).toBe('stafftokvla02');
    expect((await ds.getRepository(VlAnonymousSession).findOneByOrFail({ id: a.anonymous.id })).token).toBe('anontokvla02');
    // Each row changed once: the receipt counts rows, not rows times classes.
    const receipt = (done.outcome as any).receipt;
    expect(receipt.entities.VlAuthMethod).toMatchObject({ rows: 1 });
    expect(receipt.entities.VlNativeAuth).toMatchObject({ rows: 1 });

    await run(engine.restore({ requestId: done.id, actor: adminA }));
    expect(await dumpTables(ds)).toEqual(before);
  });

  it('delete removes the sessions of the subject-side link and purge makes it final; others keep theirs', async () => {
    const a = await seedCustomer(ds, 'tokvla03', [orgA]);
    const b = await seedCustomer(ds, 'tokvlb03', [orgA]);
    const done = await run(engine.delete({ subjectId: a.customer.id, actor: adminA }));
    expect(await ds.getRepository(VlSession).findOneBy({ id: a.session.id })).toBeNull();
    expect(await ds.getRepository(VlSession).findOneBy({ id: b.session.id })).not.toBeNull();
    expect(await ds.getRepository(VlSession).findOneBy({ id: a.anonymous.id })).not.toBeNull();
    await run(engine.restore({ requestId: done.id, actor: adminA }));
    expect((await ds.getRepository(VlSession).findOneByOrFail({ id: a.session.id })).token).toBe('sesstokvla03');

    const again = await run(engine.delete({ subjectId: a.customer.id, actor: adminA }));
    await run(engine.purge({ requestId: again.id, actor: adminA, force: true }));
    expect(await ds.getRepository(VlSession).findOneBy({ id: a.session.id })).toBeNull();
    await expect(engine.restore({ requestId: again.id, actor: adminA })).rejects.toMatchObject({ code: 'WINDOW_CLOSED' });
    expect((await ds.getRepository(VlUser).findOneByOrFail({ id: b.user.id })).identifier).toBe('tokvlb03@login.test');
  });

  describe('tenants through a many-to-many (channels)', () => {
    it("finds a subject through any of its channels, exactly spelled; another channel's admin gets NOT_FOUND", async () => {
      const both = await seedCustomer(ds, 'tokvlt01', [orgA, orgB]);
      const onlyB = await seedCustomer(ds, 'tokvlt02', [orgB]);
      const none = await seedCustomer(ds, 'tokvlt03', []);
      const adminB: Actor = { id: 'admin-b', roles: ['admin'], tenantId: 'org-b' };

      const planA = await engine.plan({ operation: 'export', subjectId: both.customer.id, actor: adminA });
      expect(planA.subject.tenantId).toBe('org-a');
      expect((await engine.plan({ operation: 'export', subjectId: both.customer.id, actor: adminB })).subject.tenantId).toBe('org-b');

      await expect(engine.plan({ operation: 'export', subjectId: onlyB.customer.id, actor: adminA })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(engine.export({ subjectId: onlyB.customer.id, actor: adminA })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(engine.plan({ operation: 'export', subjectId: none.customer.id, actor: adminA })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // A case-, accent- or pad-insensitive collation (MariaDB's utf8mb4_unicode_ci) matches these in SQL; the engine does not.
      for (const spelling of ['ORG-B', 'org-b ', 'örg-b', 'Org-B']) {
        const odd: Actor = { id: 'admin-odd', roles: ['admin'], tenantId: spelling };
        await expect(engine.plan({ operation: 'export', subjectId: onlyB.customer.id, actor: odd })).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(engine.anonymize({ subjectId: onlyB.customer.id, actor: odd })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      }
      // The caller naming a tenant that is not the actor's: still not found.
      await expect(engine.export({ subjectId: onlyB.customer.id, actor: adminA, tenantId: 'org-b' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it("stacks erasures asked for through different channels: the older is restored only after the newer, and the other channel's request is not named", async () => {
      const both = await seedCustomer(ds, 'tokvlt05', [orgA, orgB]);
      const adminB: Actor = { id: 'admin-b', roles: ['admin'], tenantId: 'org-b' };
      const before = await dumpTables(ds);
      const deleted = await run(engine.delete({ subjectId: both.customer.id, actor: adminA }));
      const anonymized = await run(engine.anonymize({ subjectId: both.customer.id, actor: adminB }));
      // Restoring the older erasure first would write its originals over what the newer one changed.
      const refused = await engine.restore({ requestId: deleted.id, actor: adminA }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'CONFLICT' });
      expect(JSON.stringify({ ...(refused as object), message: (refused as Error).message })).not.toContain(anonymized.id);
      await run(engine.restore({ requestId: anonymized.id, actor: adminB }));
      await run(engine.restore({ requestId: deleted.id, actor: adminA }));
      expect(await dumpTables(ds)).toEqual(before);
    });

    it("refuses a request while another channel's is active on the same customer, without naming that channel's request", async () => {
      const both = await seedCustomer(ds, 'tokvlt04', [orgA, orgB]);
      const adminB: Actor = { id: 'admin-b', roles: ['admin'], tenantId: 'org-b' };
      // A second engine whose queue never runs anything: its request stays queued and holds the customer.
      const idle = new PrivacyEngine({
        dataSource: ds,
        subject: VlCustomer,
        tenantColumn: 'channels.code',
        secret: 'vendure-like-secret-vendure-like-secret-01',
        queue: idleQueue,
        logger: quiet,
      });
      await idle.start();
      try {
        const queued = await idle.delete({ subjectId: both.customer.id, actor: adminA });
        expect(queued.subject.tenantId).toBe('org-a');
        const fromB = await engine.anonymize({ subjectId: both.customer.id, actor: adminB }).catch((e: unknown) => e);
        expect(fromB).toMatchObject({ code: 'CONFLICT', details: { status: 'queued' } });
        expect((fromB as { existingRequestId?: string }).existingRequestId).toBeUndefined();
        expect(JSON.stringify({ ...(fromB as object), message: (fromB as Error).message })).not.toContain(queued.id);
        // The same channel's admin is told which request it is.
        await expect(engine.anonymize({ subjectId: both.customer.id, actor: adminA })).rejects.toMatchObject({ code: 'CONFLICT', existingRequestId: queued.id });
        await idle.cancel({ requestId: queued.id, actor: adminA });
      } finally {
        await idle.stop();
      }
    });
  });
});

describeEachDatabase('tenants from a function of the subject (tenantOf)', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;

  beforeAll(async () => {
    ds = await db.createDataSource(vendureLikeEntities);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: VlCustomer,
      // The tenant is the custom field `tier`, read from the row as the entity has it (embedded columns nested).
      tenantOf: (customer) => (customer as unknown as VlCustomer).customFields.tier,
      secret: 'vendure-like-secret-vendure-like-secret-02',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-vl-')) }),
      logger: quiet,
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  it('acts inside the tenant the function returns, compared exactly', async () => {
    const { customer } = await seedCustomer(ds, 'tokvlf01', []);
    const gold: Actor = { id: 'admin-gold', roles: ['admin'], tenantId: 'gold' };
    expect((await engine.plan({ operation: 'export', subjectId: customer.id, actor: gold })).subject.tenantId).toBe('gold');
    for (const tenantId of ['GOLD', 'gold ', 'göld', 'silver']) {
      await expect(engine.plan({ operation: 'export', subjectId: customer.id, actor: { ...gold, tenantId } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    expect(engine.dataMap().subject.tenant).toEqual({ kind: 'function', path: 'tenantOf()', through: [] });
  });
});

// Keep the fixture's classes referenced (they are part of the DataSource through vendureLikeEntities).
void VlAuthMethod;
