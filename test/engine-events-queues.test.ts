import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type EngineEventName,
  type NotificationMessage,
  type NotifierPort,
  PrivacyEngine,
  type PrivacyEngineError,
  type QueuePort,
  type StoragePort,
  createMemoryStorage,
} from '../src/index.js';
import { AdapterError } from '../src/errors.js';
import { createTypeOrmQueue } from '../src/adapters/typeorm-queue.js';
import { createBullMqQueue } from '../src/adapters/bullmq.js';
import { describeEachDatabase, getRedisUrl } from './support/databases.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const admin = { id: 'dpo', roles: ['admin'], tenantId: 'org-a' };
const SECRET = 'events-secret-events-secret-events-secret-01';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const redisUrl = getRedisUrl();
const prefix = `pe-engine-${randomUUID().slice(0, 8)}`;

function recordingNotifier(fail = false): NotifierPort & { sent: NotificationMessage[]; attempts: number } {
  const n = {
    name: fail ? 'broken' : 'recording',
    sent: [] as NotificationMessage[],
    attempts: 0,
    async notify(message: NotificationMessage) {
      n.attempts++;
      if (fail) throw new AdapterError('broken', 'The notification could not be delivered');
      n.sent.push(message);
    },
    async close() {},
  };
  return n;
}

describeEachDatabase('engine events, notifications, and the durable queues as the engine queue', (db) => {
  let ds: DataSource;
  const engines: PrivacyEngine[] = [];
  let token = 0;

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
  });
  afterAll(async () => {
    for (const e of engines) await e.stop();
  });

  async function started(extra: Partial<ConstructorParameters<typeof PrivacyEngine>[0]> = {}): Promise<PrivacyEngine> {
    const engine = new PrivacyEngine({ dataSource: ds, subject: Contact, tenantColumn: 'organizationId', secret: SECRET, storage: createMemoryStorage(), policy: { batchSize: 2 }, logger: quiet, ...extra });
    engines.push(engine);
    await engine.start();
    return engine;
  }
  const contact = async () => (await seedContact(ds, 'org-a', `tokev${String(token++).padStart(4, '0')}x`)).contact;

  it('emits queued, started, progress and completed for a request, and tells the admins: export ready (with the link expiry), erasure complete', async () => {
    const notifier = recordingNotifier();
    const engine = await started({ notifier, notifyRecipients: () => ['dpo@org-a.example'] });
    const seen: Array<[EngineEventName, string, number]> = [];
    for (const event of ['queued', 'started', 'progress', 'completed', 'failed', 'cancelled'] as const) {
      engine.on(event, ({ request }) => void seen.push([event, request.status, request.progress.done]));
    }
    engine.on('completed', () => {
      throw new Error('a broken listener');
    });
    const c = await contact();
    const exported = await engine.waitForRequest((await engine.export({ subjectId: c.id, actor: admin })).id, { actor: engine.system });
    expect(exported.status).toBe('completed');
    await expect.poll(() => seen.some(([e]) => e === 'completed')).toBe(true);
    const names = seen.map(([e]) => e);
    expect(names[0]).toBe('queued');
    expect(names[1]).toBe('started');
    expect(names.at(-1)).toBe('completed');
    expect(names.filter((n) => n === 'progress').length).toBeGreaterThan(1);
    expect(names.filter((n) => n === 'completed')).toHaveLength(1);
    expect(seen.at(-1)?.[1]).toBe('completed');

    const erased = await engine.waitForRequest((await engine.anonymize({ subjectId: c.id, actor: admin })).id, { actor: engine.system });
    expect(erased.status).toBe('completed');
    // The notification follows the request's end.
    await expect.poll(() => notifier.sent.length).toBe(2);
    expect(notifier.sent).toEqual([
      expect.objectContaining({ kind: 'export-ready', requestId: exported.id, requestType: 'export', subjectDisplayName: `Firsttokev${String(token - 1).padStart(4, '0')}x Lasttokev${String(token - 1).padStart(4, '0')}x`, downloadExpiresAt: new Date((exported.outcome as { artifact: { expiresAt: string } }).artifact.expiresAt), recipients: ['dpo@org-a.example'], tenantId: 'org-a' }),
      // The name as it was before the erasure rewrote it.
      expect.objectContaining({ kind: 'erasure-completed', requestId: erased.id, requestType: 'anonymize', subjectDisplayName: expect.stringMatching(/^Firsttokev/) }),
    ]);
  });

  it('a failed export emits failed and sends "export failed"', async () => {
    const notifier = recordingNotifier();
    const broken: StoragePort = { ...createMemoryStorage(), name: 'broken', put: async () => Promise.reject(new Error('disk full')) };
    const engine = await started({ notifier, notifyRecipients: async () => ['dpo@org-a.example'], storage: broken });
    const failed: string[] = [];
    engine.on('failed', ({ request }) => void failed.push(request.id));
    const done = await engine.waitForRequest((await engine.export({ subjectId: (await contact()).id, actor: admin })).id, { actor: engine.system });
    expect(done.status).toBe('failed');
    await expect.poll(() => notifier.sent.length).toBe(1);
    expect(failed).toEqual([done.id]);
    expect(notifier.sent.map((m) => [m.kind, m.requestId])).toEqual([['export-failed', done.id]]);
  });

  it('a notifier that keeps failing never fails the request: it is tried again, then flagged on the review list', async () => {
    const notifier = recordingNotifier(true);
    const engine = await started({ notifier, notifyRecipients: () => ['dpo@org-a.example'] });
    const done = await engine.waitForRequest((await engine.export({ subjectId: (await contact()).id, actor: admin })).id, { actor: engine.system });
    expect(done.status).toBe('completed');
    await expect.poll(async () => (await engine.getRequest(done.id, engine.system)).review.length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(notifier.attempts).toBe(3);
    const latest = await engine.getRequest(done.id, engine.system);
    expect(latest.status).toBe('completed');
    expect(latest.review).toContainEqual({ item: 'notification export-ready', reason: 'could not be delivered by broken (ADAPTER)' });
  });

  it('a notifier without recipients (or recipients without a notifier) is refused', () => {
    expect(() => new PrivacyEngine({ dataSource: ds, subject: Contact, secret: SECRET, notifier: recordingNotifier() })).toThrow(/notifyRecipients/);
  });

  it('runs requests on the durable TypeORM queue', async () => {
    const queue = createTypeOrmQueue({ dataSource: ds, tableName: `pe_jobs_${token}`, pollIntervalMs: 50 });
    const engine = await started({ queue });
    const c = await contact();
    expect((await engine.waitForRequest((await engine.export({ subjectId: c.id, actor: admin })).id, { actor: engine.system })).status).toBe('completed');
    expect((await engine.waitForRequest((await engine.delete({ subjectId: c.id, actor: admin })).id, { actor: engine.system })).status).toBe('completed');
  });

  it.runIf(redisUrl)('runs requests on the BullMQ queue', async () => {
    const queue: QueuePort = createBullMqQueue({ redisUrl: redisUrl!, queueName: `engine-${randomUUID().slice(0, 8)}`, prefix });
    const engine = await started({ queue });
    const c = await contact();
    expect((await engine.waitForRequest((await engine.export({ subjectId: c.id, actor: admin })).id, { actor: engine.system })).status).toBe('completed');
    const erased = await engine.waitForRequest((await engine.anonymize({ subjectId: c.id, actor: admin })).id, { actor: engine.system });
    expect(erased.status, (erased.error as PrivacyEngineError | undefined)?.message).toBe('completed');
  });
});

afterAll(async () => {
  if (!redisUrl) return;
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});
