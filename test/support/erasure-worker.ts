/**
 * A worker process for the crash-and-resume test. It runs an engine on the given database and, when told
 * to, kills itself with SIGKILL at its N-th SQL statement: no cleanup, no rollback by the engine, exactly
 * like a machine losing power in the middle of a batch.
 *
 *   node --import tsx test/support/erasure-worker.ts '<json>'
 *   json: { options: DataSourceOptions, secret, storageDir, mode: 'anonymize' | 'resume', subjectId?: number, killAt?: number, batchSize: number }
 */
import 'reflect-metadata';
import { DataSource, EntityManager } from 'typeorm';
import { PrivacyEngine, createLocalStorage } from '../../src/index.js';
import { Contact, crmEntities } from '../fixtures/crm.js';

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]);
  if (input.killAt) {
    let statements = 0;
    const count = () => {
      if (++statements === input.killAt) process.kill(process.pid, 'SIGKILL');
    };
    for (const proto of [DataSource.prototype, EntityManager.prototype] as Array<{ query: (...args: unknown[]) => Promise<unknown> }>) {
      const original = proto.query;
      proto.query = function (this: unknown, ...args: unknown[]) {
        count();
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
    policy: { batchSize: input.batchSize },
    // Short leases: the next worker takes over a killed worker's request soon after.
    lease: { durationMs: input.leaseMs ?? 1000 },
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  await engine.start(); // resumes whatever a dead worker left queued or running
  if (input.mode === 'anonymize') {
    const request = await engine.anonymize({ subjectId: input.subjectId, actor: { id: 'dpo', roles: ['admin'], tenantId: 'org-a' } });
    await engine.waitForRequest(request.id, { actor: engine.system, timeoutMs: 120_000 });
  } else {
    for (const request of await engine.listRequests({ actor: engine.system, status: 'running' })) await engine.waitForRequest(request.id, { actor: engine.system, timeoutMs: 120_000 });
    for (const request of await engine.listRequests({ actor: engine.system, status: 'queued' })) await engine.waitForRequest(request.id, { actor: engine.system, timeoutMs: 120_000 });
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
