import fc from 'fast-check';
import { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  ForbiddenError,
  IntegrityError,
  LinkExpiredError,
  NotFoundError,
  PrivacyEngine,
  createDecryptStream,
  createMemoryStorage,
  createInProcessQueue,
  createSecretKeys,
  type Actor,
  type ExportArtifact,
  type PrivacyRequest,
  type StoragePort,
} from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { type SeededContact, seedContact } from './fixtures/crm-seed.js';
import { createTestLogger } from './support/test-logger.js';

const SECRET = 'test-secret-test-secret-test-secret-0123456789';
const DAY = 24 * 60 * 60 * 1000;
const admin: Actor = { id: 'admin-1', roles: ['admin'], tenantId: 'org-a' };
const otherTenantAdmin: Actor = { id: 'admin-b', roles: ['admin'], tenantId: 'org-b' };
const colleague: Actor = { id: 'user-7', roles: [], tenantId: 'org-a' };

const artifactOf = (request: PrivacyRequest) => (request.outcome as { artifact: ExportArtifact }).artifact;
const codeOf = (promise: Promise<unknown>) => promise.then(() => 'resolved', (e: unknown) => e);

describeEachDatabase('stored export archives: encryption at rest, download links, expiry, erasure, audit', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let storage: StoragePort;
  let offset = 0;
  const people: Record<string, SeededContact> = {};

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
    for (const name of ['alice', 'bob', 'dave', 'erin', 'fred', 'gina', 'hank']) people[name] = await seedContact(ds, 'org-a', `tok${name}0001`);
    storage = createMemoryStorage();
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: SECRET,
      storage,
      clock: { now: () => new Date(Date.now() + offset) },
      logger: createTestLogger(),
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  const self = (name: string): Actor => ({ id: `self-${name}`, subjectId: people[name].contact.id, tenantId: 'org-a' });
  const exported = async (name: string, actor: Actor = admin) => engine.waitForRequest((await engine.export({ subjectId: people[name].contact.id, actor })).id, { actor: engine.system });
  const audited = async () => (await ds.query('SELECT * FROM privacy_audit ORDER BY id')) as Array<Record<string, unknown>>;
  const refusals = async (requestId: string) =>
    (await audited()).filter((row) => row.action === 'download.refused' && row.request_id === requestId).map((row) => JSON.parse(String(row.details)).reason);

  it('stores the archive encrypted: its raw bytes hold no ZIP signature and no token of the subject, and open only with the key', async () => {
    const done = await exported('alice');
    const artifact = artifactOf(done);
    expect(artifact).toMatchObject({ status: 'ready', encrypted: true, key: `exports/${done.id}.zip.enc` });
    const raw = await streamToBuffer(await storage.get(artifact.key));
    expect(raw.subarray(0, 4).toString('latin1')).toBe('PESA');
    expect(raw.includes(Buffer.from('PK\x03\x04', 'latin1'))).toBe(false);
    for (const text of [raw.toString('latin1'), raw.toString('utf8')]) expect(text).not.toContain('tokalice0001');
    expect(artifact.storedSize).toBe(raw.length);

    const wrongKeys = createSecretKeys({ secret: 'another-secret-another-secret-another-0123' });
    await expect(streamToBuffer(Readable.from([raw]).pipe(createDecryptStream({ keys: wrongKeys, context: `export:${done.id}` })))).rejects.toMatchObject({ code: 'ADAPTER' });

    const download = await engine.download({ requestId: done.id, actor: admin });
    const zip = await streamToBuffer(download.stream);
    expect(zip.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
    expect(download.size).toBe(zip.length);
    expect(artifact.size).toBe(zip.length);
    const summary = JSON.parse((await readZip(zip)).get('summary.json')!);
    expect(summary.meta.requestId).toBe(done.id);
  });

  it('fails the download of an archive with one flipped byte with IntegrityError instead of ending the stream as if whole', async () => {
    const done = await exported('bob');
    const key = artifactOf(done).key;
    const raw = await streamToBuffer(await storage.get(key));
    raw[raw.length - 20] ^= 1;
    await storage.put(key, Readable.from([raw]));
    const download = await engine.download({ requestId: done.id, actor: admin });
    await expect(streamToBuffer(download.stream)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('shows the artifact as pending, ready, downloaded (when and by whom), then expired', async () => {
    const queued = await engine.export({ subjectId: people.dave.contact.id, actor: admin });
    expect(artifactOf(queued).status).toBe('pending');
    const done = await engine.waitForRequest(queued.id, { actor: engine.system });
    expect(artifactOf(done).status).toBe('ready');
    await streamToBuffer((await engine.download({ requestId: done.id, actor: self('dave') })).stream);
    const after = artifactOf(await engine.getRequest(done.id, engine.system));
    expect(after).toMatchObject({ status: 'downloaded', downloadedBy: 'self-dave' });
    expect(Date.parse(after.downloadedAt!)).toBeGreaterThan(0);
    await streamToBuffer((await engine.download({ requestId: done.id, actor: admin })).stream);
    expect(artifactOf(await engine.getRequest(done.id, engine.system)).downloadedBy).toBe('self-dave'); // the first download stays
    offset = 7 * DAY + 1000;
    try {
      expect(artifactOf(await engine.getRequest(done.id, engine.system)).status).toBe('expired');
      await expect(engine.download({ requestId: done.id, actor: admin })).rejects.toBeInstanceOf(LinkExpiredError);
    } finally {
      offset = 0;
    }
  });

  it('opens a link for an admin of the tenant and for the subject of a self-service export, and refuses every attack, auditing each outcome', async () => {
    const done = await exported('erin', self('erin'));
    const link = await engine.createDownloadLink({ requestId: done.id, actor: admin });
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(7 * DAY - 60_000);
    expect(link.url).toBeUndefined();

    const zip = await streamToBuffer((await engine.openDownload({ token: link.token, actor: admin })).stream);
    expect(zip.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
    expect((await streamToBuffer((await engine.openDownload({ token: link.token, actor: self('erin') })).stream)).equals(zip)).toBe(true);

    // Tampered: one character of the signature, and of the claims.
    const [v, claims, signature] = link.token.split('.');
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const token of [`${v}.${claims}.${flip(signature, 3)}`, `${v}.${flip(claims, 5)}.${signature}`, 'not-a-token']) {
      await expect(engine.openDownload({ token, actor: admin })).rejects.toBeInstanceOf(ForbiddenError);
    }
    // Another tenant's admin, a colleague without the admin role, the subject of another export.
    for (const actor of [otherTenantAdmin, colleague, self('alice')]) {
      await expect(engine.openDownload({ token: link.token, actor })).rejects.toBeInstanceOf(ForbiddenError);
    }
    // Another tenant's admin cannot even make a link: the request does not exist for them.
    await expect(engine.createDownloadLink({ requestId: done.id, actor: otherTenantAdmin })).rejects.toBeInstanceOf(NotFoundError);

    // Expired link.
    const short = await engine.createDownloadLink({ requestId: done.id, actor: admin, expiresInSeconds: 60 });
    offset = 61_000;
    try {
      const expired = await codeOf(engine.openDownload({ token: short.token, actor: admin }));
      expect(expired).toBeInstanceOf(LinkExpiredError);
      expect((expired as Error).message).toBe('This download link has expired. Please generate a new export');
    } finally {
      offset = 0;
    }

    const rows = await audited();
    const mine = rows.filter((row) => row.request_id === done.id);
    expect(mine.filter((row) => row.action === 'download.link-created')).toHaveLength(2);
    expect(mine.filter((row) => row.action === 'download.served').map((row) => row.actor_id)).toEqual(['admin-1', 'self-erin']);
    expect((await refusals(done.id)).sort()).toEqual(['expired', 'not-authorized', 'not-authorized', 'not-authorized'].sort());
    // Tokens that fail their signature name no request: audited in the '' chain.
    expect(rows.filter((row) => row.action === 'download.refused' && row.request_id === null).map((row) => JSON.parse(String(row.details)).reason)).toEqual(
      expect.arrayContaining(['invalid-token', 'invalid-token', 'invalid-token']),
    );
  });

  it('refuses a link replayed after its archive expired and was swept, and sweep() leaves no archive past its expiry', async () => {
    const done = await exported('fred');
    const key = artifactOf(done).key;
    offset = 5 * DAY;
    let link;
    try {
      link = await engine.createDownloadLink({ requestId: done.id, actor: admin }); // valid until day 12; the archive until day 7
      offset = 8 * DAY;
      await expect(engine.openDownload({ token: link.token, actor: admin })).rejects.toBeInstanceOf(ForbiddenError);
      const swept = await engine.sweep();
      expect(swept.archivesDeleted).toBeGreaterThanOrEqual(1);
      expect(await storage.stat(key)).toBeNull();
      // Every export stored so far is past its expiry now: none may remain.
      for (const request of await engine.listRequests({ actor: engine.system, type: 'export', status: 'completed' })) {
        expect(await storage.stat(artifactOf(request).key)).toBeNull();
        expect(artifactOf(request)).toMatchObject({ status: 'expired', deletedReason: 'expired' });
      }
      await expect(engine.openDownload({ token: link.token, actor: admin })).rejects.toBeInstanceOf(ForbiddenError);
      expect(await refusals(done.id)).toEqual(['archive-expired', 'archive-expired']);
      expect((await audited()).filter((row) => row.action === 'artifact.expired' && row.request_id === done.id)).toHaveLength(1);
      expect((await engine.sweep()).archivesDeleted).toBe(0);
    } finally {
      offset = 0;
    }
  });

  it("deletes every stored archive of a subject once the subject is anonymized, and refuses that subject's links after", async () => {
    const first = await exported('gina');
    const second = await exported('gina', self('gina'));
    const link = await engine.createDownloadLink({ requestId: first.id, actor: admin });
    const erased = await engine.waitForRequest((await engine.anonymize({ subjectId: people.gina.contact.id, actor: admin })).id, { actor: engine.system });
    expect(erased.status).toBe('completed');
    for (const request of [first, second]) {
      expect(await storage.stat(artifactOf(request).key)).toBeNull();
      expect(artifactOf(await engine.getRequest(request.id, engine.system))).toMatchObject({ status: 'expired', deletedReason: 'erasure' });
    }
    await expect(engine.openDownload({ token: link.token, actor: admin })).rejects.toBeInstanceOf(ForbiddenError);
    await expect(engine.download({ requestId: second.id, actor: admin })).rejects.toBeInstanceOf(ForbiddenError);
    const deletions = (await audited()).filter((row) => row.action === 'artifact.deleted' && JSON.parse(String(row.details)).erasureRequestId === erased.id);
    expect(deletions.map((row) => row.request_id).sort()).toEqual([first.id, second.id].sort());
    expect(await refusals(first.id)).toEqual(['archive-erased']);
  });

  it('deletes the archive of an export that ran beside an erasure of its subject and stored it after the erasure ended', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const raceStorage = createMemoryStorage();
    const racing = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: SECRET,
      storage: raceStorage,
      queue: createInProcessQueue({ concurrency: 2 }),
      tablePrefix: 'race_',
      logger: createTestLogger(),
    });
    racing.registerProvider('slow', { name: 'slow', purpose: 'Holds the export until the erasure is done', legalBasis: 'Contract' }, {
      async *export() {
        entered();
        await gate;
        yield { id: 'r1', kind: 'placeholder' };
      },
    });
    await racing.start();
    try {
      const exporting = await racing.export({ subjectId: people.hank.contact.id, actor: admin });
      await inside;
      const erased = await racing.waitForRequest((await racing.anonymize({ subjectId: people.hank.contact.id, actor: admin })).id, { actor: racing.system });
      expect(erased.status).toBe('completed');
      release();
      const done = await racing.waitForRequest(exporting.id, { actor: racing.system });
      expect(done.status).toBe('completed');
      let artifact = artifactOf(done);
      for (let i = 0; i < 100 && artifact.status !== 'expired'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        artifact = artifactOf(await racing.getRequest(done.id, racing.system));
      }
      expect(artifact).toMatchObject({ status: 'expired', deletedReason: 'erasure' });
      expect(await raceStorage.stat(artifact.key)).toBeNull();
    } finally {
      release();
      await racing.stop();
    }
  });

  it('keeps a trail that verifies, with no refusal left unaudited and every entry of a request chained in its tenant', async () => {
    const verification = await engine.audit.verify({ tenantId: 'org-a' });
    expect(verification.ok).toBe(true);
    expect(verification.checked).toBeGreaterThan(20);
    expect((await engine.audit.verify()).ok).toBe(true); // the '' chain of tokens that named no request
  });

  it("refuses an admin whose tenant is only spelled like the request's (case, padding, accents, look-alikes) on every request-id and link call", async () => {
    const done = await exported('hank');
    const link = await engine.createDownloadLink({ requestId: done.id, actor: admin });
    const lookAlikes = ['ORG-A', 'Org-A', 'org-a ', ' org-a', 'org-á', 'org-a\u0301', 'ｏｒｇ-ａ', 'org\u2010a', 'org-a\u200b', 'org_a'];
    const spelling = fc.oneof(fc.constantFrom(...lookAlikes), fc.string({ minLength: 1, maxLength: 12 }).filter((t) => t !== 'org-a' && !t.includes('\u0000')));
    await fc.assert(
      fc.asyncProperty(spelling, async (tenantId) => {
        const actor: Actor = { id: 'admin-odd', roles: ['admin'], tenantId };
        expect(await codeOf(engine.getRequest(done.id, actor))).toBeInstanceOf(NotFoundError);
        expect(await codeOf(engine.createDownloadLink({ requestId: done.id, actor }))).toBeInstanceOf(NotFoundError);
        expect(await codeOf(engine.download({ requestId: done.id, actor }))).toBeInstanceOf(NotFoundError);
        expect(await codeOf(engine.openDownload({ token: link.token, actor }))).toBeInstanceOf(ForbiddenError);
        expect(await codeOf(engine.cancel({ requestId: done.id, actor }))).toBeInstanceOf(NotFoundError);
        expect(await codeOf(engine.extendDeadline({ requestId: done.id, actor, days: 10, reason: 'complex request' }))).toBeInstanceOf(NotFoundError);
      }),
      { numRuns: 25 },
    );
    // The tenant's own admin still gets through, and nothing above changed the request.
    const after = await engine.getRequest(done.id, admin);
    expect(after).toMatchObject({ status: 'completed', dueAt: done.dueAt });
    expect((await streamToBuffer((await engine.openDownload({ token: link.token, actor: admin })).stream)).subarray(0, 2).toString('latin1')).toBe('PK');
  });
});
