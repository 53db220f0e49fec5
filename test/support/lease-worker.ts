/**
 * A worker process for the multi-worker lease test. It runs an engine (in-process queue) on the given database until
 * no request there is queued or running, and, when told to, kills itself with SIGKILL at its N-th SQL statement.
 *
 *   node --import tsx test/support/lease-worker.ts '<json>'
 *   json: { options: DataSourceOptions, secret, storageDir, batchSize, leaseMs, killAt?: number, bullmq?: { redisUrl, queueName, prefix },
 *           concurrency?: number, rateLimits?: { maxRunning?, rowsPerSecond?, retryMs?, perTenant?: { [tenant]: { maxRunning?, rowsPerSecond? } } } }
 */
import 'reflect-metadata';
import { DataSource, EntityManager } from 'typeorm';
import { PrivacyEngine, createInProcessQueue, createLocalStorage } from '../../src/index.js';
import { createBullMqQueue } from '../../src/adapters/bullmq.js';
import { Contact, crmEntities } from '../fixtures/crm.js';

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]);
  if (input.killAt) {
    let statements = 0;
    for (const proto of [DataSource.prototype, EntityManager.prototype] as Array<{ query: (...args: unknown[]) => Promise<unknown> }>) {
      const original = proto.query;
      proto.query = function (this: unknown, ...args: unknown[]) {
        if (++statements === input.killAt) process.kill(process.pid, 'SIGKILL');
        return original.apply(this, args);
      };
    }
  }
  const dataSource = new DataSource({ ...input.options, entities: crmEntities, synchronize: false, logging: false });
  await dataSource.initialize();
  const engine = new PrivacyEngine({
    dataSource,
    subject: Contact,
    tenantColumn: 'organizationId',
    secret: input.secret,
    storage: createLocalStorage({ directory: input.storageDir }),
    // SQLite has one connection, so one request at a time there; the other databases run two side by side.
    queue: input.bullmq
      ? // A short lock: BullMQ re-delivers a killed worker's job soon; the engine's lease keeps it from running twice.
        createBullMqQueue({ ...input.bullmq, concurrency: 2, lockDurationMs: 2000, stalledIntervalMs: 1000 })
      : createInProcessQueue({ concurrency: input.concurrency ?? (input.options.type === 'better-sqlite3' ? 1 : 2) }),
    ...(input.rateLimits
      ? { rateLimits: { ...input.rateLimits, perTenant: (tenantId: string | null) => (tenantId === null ? undefined : input.rateLimits.perTenant?.[tenantId]) } }
      : {}),
    policy: { batchSize: input.batchSize },
    lease: { durationMs: input.leaseMs },
    logger: { info: () => undefined, warn: () => undefined, error: (message) => console.error(message) },
  });
  await engine.start(); // claims what is queued; offers running requests again once their lease could have expired
  const deadline = Date.now() + 120_000;
  for (;;) {
    const open = [...(await engine.listRequests({ actor: engine.system, status: 'queued' })), ...(await engine.listRequests({ actor: engine.system, status: 'running' }))];
    if (open.length === 0) break;
    if (Date.now() > deadline) throw new Error(`requests still open: ${open.map((r) => r.status).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await engine.stop();
  await dataSource.destroy();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
