/**
 * A queue worker process for the lease-takeover test: it claims jobs from a TypeORM queue and, for each, prints
 * `started <requestId> <attempt>` and then never finishes, heartbeating until the test SIGKILLs it.
 *
 *   node --import tsx test/support/queue-worker.ts '<json>'
 *   json: { options: DataSourceOptions, tableName: string, leaseMs: number }
 */
import { DataSource } from 'typeorm';
import { createTypeOrmQueue } from '../../src/adapters/typeorm-queue.js';

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]);
  const dataSource = new DataSource({ ...input.options, entities: [], synchronize: false, logging: false });
  await dataSource.initialize();
  const queue = createTypeOrmQueue({ dataSource, tableName: input.tableName, leaseMs: input.leaseMs, pollIntervalMs: 50 });
  await queue.start(async (job, context) => {
    process.stdout.write(`started ${job.requestId} ${context?.attempt}\n`);
    await new Promise(() => undefined);
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
