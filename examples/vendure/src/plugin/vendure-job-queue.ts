import type { Job, JobQueue, JobQueueService } from '@vendure/core';
import type { QueueHandler, QueueJob, QueuePort } from 'privacy-engine';

/** The data a Vendure job carries: the engine only ever enqueues a request id (the request row holds the rest). */
type PrivacyJobData = { requestId: string; tenantId: string | null };

/**
 * A privacy-engine QueuePort on Vendure's own job queue. The server enqueues; only the worker (which calls
 * `startJobQueue()`) runs jobs, so requests asked for in the Admin API run in the worker process and show in
 * Vendure's job list. Vendure delivers a job at least once; the engine's lease and checkpoints make a second
 * delivery resume rather than repeat, so Vendure's own retries are off (the engine retries transient failures).
 */
export class VendureJobQueue implements QueuePort {
  readonly name = 'vendure-job-queue';
  private queue: JobQueue<PrivacyJobData> | undefined;
  private handler: QueueHandler | undefined;
  private readonly handlerSet: Promise<QueueHandler>;
  private resolveHandler!: (handler: QueueHandler) => void;
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly queueName = 'privacy-requests') {
    this.handlerSet = new Promise((resolve) => (this.resolveHandler = resolve));
  }

  /** Creates the Vendure queue; call it from the plugin service's onModuleInit, as Vendure requires. */
  async register(jobQueueService: JobQueueService): Promise<void> {
    this.queue = await jobQueueService.createQueue<PrivacyJobData>({
      name: this.queueName,
      process: (job) => this.process(job),
    });
  }

  async start(handler: QueueHandler): Promise<void> {
    this.handler = handler;
    this.resolveHandler(handler);
  }

  async enqueue(job: QueueJob): Promise<void> {
    if (!this.queue) throw new Error('The privacy job queue is not registered with Vendure yet');
    await this.queue.add({ requestId: job.requestId, tenantId: job.tenantId ?? null }, { retries: 0 });
  }

  /** Waits for the jobs running in this process (Vendure's queue does not tell us about other processes). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
  }

  private async process(job: Job<PrivacyJobData>): Promise<void> {
    // A job can arrive before engine.start() has handed us its handler: wait for it.
    const handler = this.handler ?? (await this.handlerSet);
    if (this.closed) throw new Error('The privacy engine is stopping; the job will be offered again at the next start');
    const controller = new AbortController();
    const run = handler({ requestId: job.data.requestId, tenantId: job.data.tenantId }, { attempt: Math.max(1, job.attempts), signal: controller.signal });
    this.running.add(run);
    try {
      await run;
    } finally {
      this.running.delete(run);
    }
  }
}
