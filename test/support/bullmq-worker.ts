/**
 * A BullMQ worker process for the stalled-job test: for each job it prints `started <requestId> <attempt>` and
 * never finishes, until the test SIGKILLs it (its lock then lapses and the job stalls).
 *
 *   node --import tsx test/support/bullmq-worker.ts '<json>'
 *   json: { redisUrl, queueName, prefix, lockDurationMs }
 * Its stalled checks run every 500 ms: BullMQ throttles them across workers by the interval of the last checker.
 */
import { createBullMqQueue } from '../../src/adapters/bullmq.js';

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]);
  const queue = createBullMqQueue({ redisUrl: input.redisUrl, queueName: input.queueName, prefix: input.prefix, lockDurationMs: input.lockDurationMs, stalledIntervalMs: 500 });
  await queue.start(async (job, context) => {
    process.stdout.write(`started ${job.requestId} ${context?.attempt}\n`);
    await new Promise(() => undefined);
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
