import { describe, expect, it } from 'vitest';
import { createInProcessQueue } from '../../src/adapters/in-process-queue.js';
import { queueConformance } from '../../src/testing/index.js';

queueConformance('in-process', ({ concurrency }) => createInProcessQueue({ concurrency }), { describe, it, expect });

describe('in-process queue', () => {
  it('refuses a concurrency below 1 with a VALIDATION error', () => {
    expect(() => createInProcessQueue({ concurrency: 0 })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
  it('delivers a job enqueued twice while waiting once', async () => {
    const queue = createInProcessQueue();
    const seen: string[] = [];
    await queue.enqueue({ requestId: 'twice' });
    await queue.enqueue({ requestId: 'twice' });
    await queue.start(async (job) => {
      seen.push(job.requestId);
    });
    await queue.drain();
    expect(seen).toEqual(['twice']);
    await queue.close();
  });
});
