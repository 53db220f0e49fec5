/**
 * A worker process of the durable-queue cases: an engine on the bench database whose queue is the TypeORM table
 * queue or BullMQ. It prints `READY` once started, runs what the queue hands it, and stops (letting its running
 * requests finish) when its stdin closes.
 *
 *   node --import tsx bench/queue-worker.ts '<json>'
 *   json: { db, database, batchSize, workDir, queue: 'typeorm' | 'bullmq', concurrency, queueName?, redisUrl? }
 */
import { createBullMqQueue } from '../src/adapters/bullmq.js';
import { createTypeOrmQueue } from '../src/adapters/typeorm-queue.js';
import { startEngine } from './harness.js';
import { openDataSource } from './seed.js';

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]);
  const queueSource = input.queue === 'typeorm' ? await openDataSource(input.db, input.database) : undefined;
  const queue = queueSource
    ? createTypeOrmQueue({ dataSource: queueSource, concurrency: input.concurrency, pollIntervalMs: 50 })
    : createBullMqQueue({ redisUrl: input.redisUrl, queueName: input.queueName, concurrency: input.concurrency });
  const { stop } = await startEngine(input, { queue });
  process.stdout.write('READY\n');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('close', resolve));
  await stop();
  await queueSource?.destroy();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
