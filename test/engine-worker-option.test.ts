import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PrivacyEngine, type QueuePort, ValidationError, createMemoryStorage } from '../src/index.js';
import { createTypeOrmQueue } from '../src/adapters/typeorm-queue.js';
import { describeEachDatabase } from './support/databases.js';
import { createTestLogger } from './support/test-logger.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const admin = { id: 'dpo', roles: ['admin'], tenantId: 'org-a' };
const SECRET = 'worker-option-secret-worker-option-secret-01';

/** The real durable queue, counting how often an engine asked it to deliver jobs. */
function countingQueue(queue: QueuePort): QueuePort & { starts: number } {
  const counted = {
    name: queue.name,
    starts: 0,
    async start(handler: Parameters<QueuePort['start']>[0]) {
      counted.starts++;
      await queue.start(handler);
    },
    enqueue: (job: Parameters<QueuePort['enqueue']>[0]) => queue.enqueue(job),
    drain: () => queue.drain(),
    close: () => queue.close(),
  };
  return counted;
}

it('refuses worker: false without a queue shared with worker processes', () => {
  const options = { dataSource: { query: () => undefined, driver: {} } as never, subject: Contact, secret: SECRET, worker: false };
  expect(() => new PrivacyEngine(options)).toThrow(ValidationError);
  try {
    new PrivacyEngine(options);
  } catch (error) {
    expect((error as ValidationError).issues).toEqual([expect.objectContaining({ path: 'queue', message: expect.stringContaining('durable queue') })]);
  }
});

describeEachDatabase('worker: false (a process that only submits)', (db) => {
  let ds: DataSource;
  const engines: PrivacyEngine[] = [];

  beforeAll(async () => {
    ds = await db.createDataSource(crmEntities);
  });
  afterAll(async () => {
    for (const engine of engines) await engine.stop();
  });

  const engineWith = (queue: QueuePort, worker: boolean) => {
    const engine = new PrivacyEngine({ dataSource: ds, subject: Contact, tenantColumn: 'organizationId', secret: SECRET, storage: createMemoryStorage(), logger: createTestLogger(), queue, worker });
    engines.push(engine);
    return engine;
  };

  it('submits requests to the durable queue without consuming it; a worker process runs them', async () => {
    const apiQueue = countingQueue(createTypeOrmQueue({ dataSource: ds, pollIntervalMs: 20 }));
    const api = engineWith(apiQueue, false);
    await api.start();
    const { contact } = await seedContact(ds, 'org-a', 'workeroff01');

    const request = await api.export({ subjectId: contact.id, actor: admin });
    expect(apiQueue.starts).toBe(0);
    expect((await api.getRequest(request.id, admin)).status).toBe('queued');
    const jobs = await ds.query(`SELECT ${ds.driver.escape('status')} AS status FROM ${ds.driver.escape('privacy_jobs')}`);
    expect(jobs).toEqual([{ status: 'waiting' }]);

    const workerQueue = countingQueue(createTypeOrmQueue({ dataSource: ds, pollIntervalMs: 20 }));
    const worker = engineWith(workerQueue, true);
    await worker.start();
    expect(workerQueue.starts).toBe(1);
    const done = await api.waitForRequest(request.id, { actor: admin, timeoutMs: 30_000 });
    expect(done.status).toBe('completed');
  });
});
