/** A unit of background work: the engine only ever enqueues request ids; the request row holds the rest. */
export interface QueueJob {
  requestId: string;
  /** Tenant of the request, for per-tenant rate limits in adapters that apply them. */
  tenantId?: string | null;
}

export type QueueHandler = (job: QueueJob) => Promise<void>;

/**
 * Runs requests in the background. Adapters deliver each job at least once; the engine's
 * checkpoints make a second delivery resume rather than repeat.
 */
export interface QueuePort {
  readonly name: string;
  /** Starts delivering jobs to `handler`. Called once by `engine.start()`. */
  start(handler: QueueHandler): Promise<void>;
  enqueue(job: QueueJob): Promise<void>;
  /** Resolves when no job is waiting or running (useful in tests and scripts). */
  drain(): Promise<void>;
  /** Stops taking jobs and waits for running ones to finish. */
  close(): Promise<void>;
}
