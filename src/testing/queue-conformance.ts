import type { QueueJob, QueuePort } from '../ports/queue.js';
import type { ConformanceRunner } from './storage-conformance.js';

/** Creates a fresh, empty queue (its own table, Redis queue name...) delivering at most `concurrency` jobs at once. */
export type QueueFactory = (options: { concurrency: number }) => Promise<QueuePort> | QueuePort;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/**
 * Every QueuePort must pass this: each job delivered (at least once), the concurrency bound, drain and close,
 * a throwing handler that leaves the queue running, and jobs enqueued before start().
 */
export function queueConformance(name: string, createQueue: QueueFactory, { describe, it, expect }: ConformanceRunner): void {
  describe(`QueuePort conformance: ${name}`, () => {
    it('delivers every job, with its tenant, at least once', async () => {
      const queue = await createQueue({ concurrency: 2 });
      const seen: QueueJob[] = [];
      await queue.start(async (job) => {
        seen.push({ requestId: job.requestId, tenantId: job.tenantId ?? null });
      });
      const jobs = ids('deliver', 12).map((requestId, i) => ({ requestId, tenantId: i % 2 ? 'org-b' : null }));
      for (const job of jobs) await queue.enqueue(job);
      await queue.drain();
      const unique = new Map(seen.map((job) => [job.requestId, job]));
      expect([...unique.keys()].sort()).toEqual(jobs.map((job) => job.requestId).sort());
      for (const job of jobs) expect(unique.get(job.requestId)).toEqual(job);
      await queue.close();
    });

    it('never runs more jobs at once than its concurrency, and does run them in parallel', async () => {
      const queue = await createQueue({ concurrency: 3 });
      let running = 0;
      let peak = 0;
      await queue.start(async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(150);
        running--;
      });
      for (const requestId of ids('bound', 9)) await queue.enqueue({ requestId });
      await queue.drain();
      expect(peak <= 3).toBe(true);
      expect(peak > 1).toBe(true);
      await queue.close();
    });

    it('drain waits for running jobs and resolves at once on an idle queue', async () => {
      const queue = await createQueue({ concurrency: 1 });
      const done: string[] = [];
      await queue.start(async (job) => {
        await sleep(100);
        done.push(job.requestId);
      });
      await queue.drain();
      for (const requestId of ids('drain', 3)) await queue.enqueue({ requestId });
      await queue.drain();
      expect([...new Set(done)].sort()).toEqual(ids('drain', 3));
      await queue.close();
    });

    it('close waits for the running job to finish and starts no new one', async () => {
      const queue = await createQueue({ concurrency: 1 });
      const started: string[] = [];
      const finished: string[] = [];
      await queue.start(async (job) => {
        started.push(job.requestId);
        await sleep(300);
        finished.push(job.requestId);
      });
      for (const requestId of ids('close', 3)) await queue.enqueue({ requestId });
      const deadline = Date.now() + 10_000;
      while (started.length === 0 && Date.now() < deadline) await sleep(10);
      expect(started.length).toBe(1);
      await queue.close();
      expect(finished).toEqual(started);
      await sleep(400);
      expect(started.length).toBe(1);
    });

    it('keeps delivering after a handler throws', async () => {
      const queue = await createQueue({ concurrency: 1 });
      const seen = new Set<string>();
      let thrown = 0;
      await queue.start(async (job) => {
        if (job.requestId === 'throws-0' && thrown === 0) {
          thrown++;
          throw new Error('handler failure');
        }
        seen.add(job.requestId);
      });
      for (const requestId of ids('throws', 4)) await queue.enqueue({ requestId });
      await queue.drain();
      expect(thrown).toBe(1);
      for (const requestId of ids('throws', 4).slice(1)) expect(seen.has(requestId)).toBe(true);
      await queue.close();
    });

    it('runs jobs enqueued before start() once it starts', async () => {
      const queue = await createQueue({ concurrency: 2 });
      for (const requestId of ids('early', 4)) await queue.enqueue({ requestId });
      const seen = new Set<string>();
      await queue.start(async (job) => {
        seen.add(job.requestId);
      });
      await queue.drain();
      expect([...seen].sort()).toEqual(ids('early', 4));
      await queue.close();
    });
  });
}
