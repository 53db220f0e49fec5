import { createInProcessQueue } from '../../src/index.js';
import { type BenchCase, ADMIN, elapsed, startEngine, startTimer } from '../harness.js';
import { OTHER_CONTACTS, SUBJECT_ID } from '../schema.js';

/**
 * Small export requests (the other contacts of the tenant, ~40 rows each) through the in-process queue:
 * requests per second from the first engine.export() call until the queue is idle.
 */
export function queueInProcess(concurrency: number): BenchCase {
  return {
    name: `queue-in-process-c${concurrency}`,
    operation: 'queue',
    role: 'engine',
    databases: ['postgres', 'mysql'],
    oncePerDatabase: true,
    async run(ctx) {
      const queue = createInProcessQueue({ concurrency });
      const { engine, stop } = await startEngine(ctx, { queue });
      // Contacts SUBJECT_ID+1 .. SUBJECT_ID+OTHER_CONTACTS/2 share the subject's tenant.
      const subjects = Array.from({ length: ctx.queueRequests }, (_, i) => SUBJECT_ID + 1 + (i % (OTHER_CONTACTS / 2)));
      const t0 = startTimer();
      const requests = [];
      for (const subjectId of subjects) requests.push(await engine.export({ subjectId, actor: ADMIN }));
      await queue.drain();
      const seconds = elapsed(t0);
      const failed = [];
      for (const r of requests) if ((await engine.getRequest(r.id, engine.system)).status !== 'completed') failed.push(r.id);
      await stop();
      if (failed.length) throw new Error(`${failed.length} of ${requests.length} requests did not complete`);
      return { rows: requests.length, seconds, unit: 'requests', extra: { concurrency, worker_processes: 1 } };
    },
  };
}
