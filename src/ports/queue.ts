/** A unit of background work: the engine only ever enqueues request ids; the request row holds the rest. */
export interface QueueJob {
  requestId: string;
  /** Tenant of the request, for per-tenant rate limits in adapters that apply them. */
  tenantId?: string | null;
}

/** What an adapter may tell a handler about one delivery, besides the job. */
export interface QueueJobContext {
  /** 1 for the first delivery; higher after a retry or after another worker's lease expired. */
  attempt: number;
  /**
   * Aborted when this delivery no longer owns the job (its lease was lost, say): the handler should stop at its
   * next checkpoint, since another worker may now run the same job.
   */
  signal: AbortSignal;
}

/** A handler with one parameter fits too: the context is optional to read. */
export type QueueHandler = (job: QueueJob, context?: QueueJobContext) => Promise<void>;

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
