import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createBullMqQueue } from '../../src/adapters/bullmq.js';
import type { QueuePort } from '../../src/ports/queue.js';
import { queueConformance } from '../../src/testing/index.js';
import { getRedisUrl } from '../support/databases.js';

const redisUrl = getRedisUrl();
const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'support', 'bullmq-worker.ts');
// Every queue of this run lives under its own prefix, removed at the end.
const prefix = `pe-test-${randomUUID().slice(0, 8)}`;
const opened: QueuePort[] = [];

function bullQueue(concurrency: number, extra: { attempts?: number; backoffMs?: number } = {}): QueuePort {
  const queue = createBullMqQueue({ redisUrl: redisUrl!, queueName: `q-${randomUUID().slice(0, 8)}`, prefix, concurrency, backoffMs: 10, ...extra });
  opened.push(queue);
  return queue;
}

if (!redisUrl) {
  // The global setup already fails the run when PRIVACY_TEST_REQUIRE_ALL (CI) is set and Redis is missing.
  console.warn('[privacy-engine tests] Redis not available: the BullMQ queue tests are SKIPPED');
  describe.skip('BullMQ queue SKIPPED: Redis not available (set PRIVACY_TEST_REDIS_URL, or run a local server)', () => {
    it('needs Redis', () => undefined);
  });
} else {
  afterAll(async () => {
    for (const queue of opened) await queue.close();
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  queueConformance('BullMQ', ({ concurrency }) => bullQueue(concurrency), { describe, it, expect });

  describe('BullMQ queue', () => {
    it('retries a throwing handler up to its attempts, then gives the failed job a fresh start when enqueued again', async () => {
      const queue = bullQueue(1, { attempts: 2 });
      const attempts: number[] = [];
      await queue.start(async (_job, context) => {
        attempts.push(context!.attempt);
        throw new Error('transient');
      });
      await queue.enqueue({ requestId: 'flaky' });
      await queue.drain();
      expect(attempts).toEqual([1, 2]);
      await queue.enqueue({ requestId: 'flaky' });
      await queue.drain();
      expect(attempts).toEqual([1, 2, 1, 2]);
      await queue.close();
    });

    it('re-delivers, once, the job of a worker process killed mid-job after its lock lapses', async () => {
      const queueName = `q-${randomUUID().slice(0, 8)}`;
      const lockDurationMs = 1500;
      const local = createBullMqQueue({ redisUrl: redisUrl!, queueName, prefix, lockDurationMs, stalledIntervalMs: 500 });
      opened.push(local);
      await local.enqueue({ requestId: 'long-job', tenantId: 'org-a' });

      const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify({ redisUrl, queueName, prefix, lockDurationMs })], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const startedLine = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
          const line = out.split('\n').find((l) => l.startsWith('started '));
          if (line) resolve(line);
        });
        child.on('exit', (code) => reject(new Error(`worker exited (${code}) before starting the job: ${stderr}`)));
      });
      expect(startedLine).toBe('started long-job 1');
      const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      const deliveries: Array<{ requestId: string; tenantId: string | null | undefined }> = [];
      await local.start(async (job) => {
        deliveries.push({ requestId: job.requestId, tenantId: job.tenantId });
      });
      await local.drain();
      expect(deliveries).toEqual([{ requestId: 'long-job', tenantId: 'org-a' }]);
      await local.close();
    });

    it('adds nothing when a request already waiting is enqueued again, and accepts ids BullMQ would refuse', async () => {
      const queue = bullQueue(1);
      for (const requestId of ['42', 'a:b', '42']) await queue.enqueue({ requestId });
      const seen: string[] = [];
      await queue.start(async (job) => {
        seen.push(job.requestId);
      });
      await queue.drain();
      expect(seen.sort()).toEqual(['42', 'a:b']);
      await queue.close();
    });
  });
}

describe('BullMQ queue options', () => {
  it('needs exactly one of connection or redisUrl', () => {
    expect(() => createBullMqQueue({ queueName: 'q' })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => createBullMqQueue({ queueName: 'q', redisUrl: 'redis://127.0.0.1:6379', connection: {} })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});
