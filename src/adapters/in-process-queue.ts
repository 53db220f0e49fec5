import pLimit from 'p-limit';
import { z } from 'zod';
import type { QueueHandler, QueueJob, QueuePort } from '../ports/queue.js';
import { parseAdapterInput } from './adapter-options.js';

export interface InProcessQueueOptions {
  /** Requests run at the same time; defaults to 1. */
  concurrency?: number;
}

const optionsSchema = z.object({ concurrency: z.number().int().min(1).max(1000).default(1) });

/**
 * The embedded default: jobs live in memory and run in this process. Nothing is lost on a crash because
 * the engine re-enqueues unfinished requests from its request table at start().
 */
export function createInProcessQueue(options: InProcessQueueOptions = {}): QueuePort {
  const { concurrency } = parseAdapterInput(optionsSchema, options, 'in-process queue options');
  const limit = pLimit(concurrency);
  // Jobs enqueued before start(), and ids waiting for a slot (a second enqueue of a waiting id is a no-op).
  const early: QueueJob[] = [];
  const waiting = new Set<string>();
  let inFlight = 0;
  let handler: QueueHandler | undefined;
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  const settleIdle = () => {
    if (inFlight === 0 && early.length === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  };

  const submit = (job: QueueJob, run: QueueHandler) => {
    inFlight++;
    void limit(async () => {
      waiting.delete(job.requestId);
      if (closed) return;
      const controller = new AbortController();
      // The engine records failures on the request itself; a throwing handler must not stop the queue.
      await run(job, { attempt: 1, signal: controller.signal }).catch(() => undefined);
    }).finally(() => {
      inFlight--;
      settleIdle();
    });
  };

  return {
    name: 'in-process',
    async start(h) {
      handler = h;
      closed = false;
      for (const job of early.splice(0)) submit(job, h);
    },
    async enqueue(job) {
      if (closed || waiting.has(job.requestId)) return;
      waiting.add(job.requestId);
      if (handler) submit(job, handler);
      else early.push(job);
    },
    drain() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
    async close() {
      // Jobs still waiting for a slot settle at once without running; running ones are awaited.
      closed = true;
      early.length = 0;
      waiting.clear();
      await new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
  };
}
