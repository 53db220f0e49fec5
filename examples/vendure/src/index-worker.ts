import { bootstrapWorker, Logger } from '@vendure/core';
import { config } from './vendure-config';

// The worker runs Vendure's job queues, privacy requests among them (see plugin/vendure-job-queue.ts).
bootstrapWorker(config)
  .then((worker) => worker.startJobQueue())
  .catch((error: unknown) => {
    Logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  });
