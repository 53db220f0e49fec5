import type { QueueHandler, QueueJob, QueuePort } from '../ports/queue.js';

export interface InProcessQueueOptions {
  /** Requests run at the same time; defaults to 1. */
  concurrency?: number;
}

/**
 * The embedded default: jobs live in memory and run in this process. Nothing is lost on a crash because
 * the engine re-enqueues unfinished requests from its request table at start().
 */
export function createInProcessQueue(options: InProcessQueueOptions = {}): QueuePort {
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const waiting: QueueJob[] = [];
  let running = 0;
  let handler: QueueHandler | undefined;
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  const settleIdle = () => {
    if (running === 0 && waiting.length === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  };

  const pump = () => {
    while (handler && !closed && running < concurrency && waiting.length > 0) {
      const job = waiting.shift()!;
      running++;
      // The engine records failures on the request itself; a throwing handler must not stop the queue.
      handler(job)
        .catch(() => undefined)
        .finally(() => {
          running--;
          pump();
          settleIdle();
        });
    }
    settleIdle();
  };

  return {
    name: 'in-process',
    async start(h) {
      handler = h;
      closed = false;
      pump();
    },
    async enqueue(job) {
      if (waiting.some((j) => j.requestId === job.requestId)) return;
      waiting.push(job);
      queueMicrotask(pump);
    },
    drain() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
    async close() {
      closed = true;
      waiting.length = 0;
      if (running > 0) await new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
