import { z } from 'zod';
import { AdapterError } from '../errors.js';
import type { QueueHandler, QueuePort } from '../ports/queue.js';
import { importPeer, parseAdapterInput } from './adapter-options.js';

export interface BullMqQueueOptions {
  /** A ready ioredis client, or connection options as BullMQ takes them; the host closes a client it passed. */
  connection?: object;
  /** `redis://…`: BullMQ opens (and closes) its own connections. One of connection or redisUrl is required. */
  redisUrl?: string;
  queueName: string;
  /** Jobs this worker runs at once; defaults to 1. */
  concurrency?: number;
  /** Redis key prefix; BullMQ's default ('bull') when omitted. */
  prefix?: string;
  /** Deliveries before BullMQ marks a job failed; defaults to 5. */
  attempts?: number;
  /** First retry delay, doubled at each attempt; defaults to 1000 ms. */
  backoffMs?: number;
  /** BullMQ's lock on an active job, renewed while it runs; a job whose lock lapses is 'stalled' and re-delivered. */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (BullMQ's default: 30 s). */
  stalledIntervalMs?: number;
  /** Stalls after which BullMQ fails a job instead of re-delivering it (BullMQ's default: 1). */
  maxStalledCount?: number;
  /** Where worker errors go (a lost connection, say); codes and names only. */
  logger?: { warn(message: string, fields?: Record<string, unknown>): void };
}

const optionsSchema = z
  .object({
    connection: z.object({}).passthrough().optional(),
    redisUrl: z.url({ protocol: /^rediss?$/ }).optional(),
    queueName: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, dots, dashes and underscores'),
    concurrency: z.number().int().min(1).max(1000).default(1),
    prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,50}$/).optional(),
    attempts: z.number().int().min(1).max(1000).default(5),
    backoffMs: z.number().int().min(0).max(86_400_000).default(1000),
    lockDurationMs: z.number().int().min(1000).max(86_400_000).optional(),
    stalledIntervalMs: z.number().int().min(500).max(86_400_000).optional(),
    maxStalledCount: z.number().int().min(0).max(1000).optional(),
    logger: z.custom<{ warn(message: string, fields?: Record<string, unknown>): void }>((l) => typeof (l as { warn?: unknown } | undefined)?.warn === 'function').optional(),
  })
  .refine((o) => (o.connection === undefined) !== (o.redisUrl === undefined), { message: 'exactly one of connection or redisUrl is required', path: ['connection'] });

const jobSchema = z.object({ requestId: z.string().min(1).max(64), tenantId: z.string().max(191).nullable().optional() });

// BullMQ refuses custom ids that are integers or contain ':'; request ids are encoded into a safe, stable id.
const jobIdOf = (requestId: string) => `request-${encodeURIComponent(requestId)}`;

type BullMq = typeof import('bullmq');
type BullQueue = InstanceType<BullMq['Queue']>;
type BullWorker = InstanceType<BullMq['Worker']>;

/**
 * BullMQ on Redis, for many worker machines. A job's id is derived from its request id, so enqueuing a request
 * that is already waiting or running adds nothing; BullMQ re-delivers a job whose worker stalled (the engine's own
 * request lease keeps a stalled job from running beside a live one), and retries a throwing handler with backoff.
 */
export function createBullMqQueue(options: BullMqQueueOptions): QueuePort {
  const opts = parseAdapterInput(optionsSchema, options, 'BullMQ queue options');
  // BullMQ's workers block on Redis: their connections must not give up on a request.
  const connection = (opts.redisUrl ? { url: opts.redisUrl, maxRetriesPerRequest: null } : opts.connection) as import('bullmq').ConnectionOptions;
  const common = { connection, ...(opts.prefix ? { prefix: opts.prefix } : {}) };
  let lib: Promise<BullMq> | undefined;
  let queue: Promise<BullQueue> | undefined;
  let worker: BullWorker | undefined;
  let active = 0;

  const load = () => (lib ??= importPeer('bullmq', 'bullmq', () => import('bullmq')));
  const getQueue = () => (queue ??= load().then(({ Queue }) => new Queue(opts.queueName, common)));
  const wrap = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (cause) {
      if (cause instanceof AdapterError) throw cause;
      throw new AdapterError('bullmq', `BullMQ could not ${what}`, cause);
    }
  };

  return {
    name: 'bullmq',
    async start(handler: QueueHandler) {
      const { Worker } = await load();
      await getQueue();
      worker = new Worker(
        opts.queueName,
        async (job, _token, signal) => {
          active++;
          try {
            const data = jobSchema.parse(job.data);
            await handler({ requestId: data.requestId, tenantId: data.tenantId ?? null }, { attempt: job.attemptsMade + 1, signal: signal ?? new AbortController().signal });
          } finally {
            active--;
          }
        },
        {
          ...common,
          concurrency: opts.concurrency,
          ...(opts.lockDurationMs ? { lockDuration: opts.lockDurationMs } : {}),
          ...(opts.stalledIntervalMs ? { stalledInterval: opts.stalledIntervalMs } : {}),
          ...(opts.maxStalledCount !== undefined ? { maxStalledCount: opts.maxStalledCount } : {}),
        },
      );
      // Without a listener an 'error' event would crash the process; BullMQ reconnects by itself.
      worker.on('error', (error) => opts.logger?.warn('bullmq: worker error', { error: (error as { code?: string }).code ?? error.name }));
      await wrap('start its worker', () => worker!.waitUntilReady().then(() => undefined));
    },
    async enqueue(input) {
      const job = parseAdapterInput(jobSchema, input, 'queue job');
      const q = await getQueue();
      const jobId = jobIdOf(job.requestId);
      await wrap('enqueue a job', async () => {
        // A job that failed for good is kept by BullMQ under the same id: give it a fresh start instead.
        const existing = await q.getJob(jobId);
        if (existing && (await existing.getState()) === 'failed') {
          await existing.retry('failed', { resetAttemptsMade: true });
          return;
        }
        await q.add(
          'request',
          { requestId: job.requestId, tenantId: job.tenantId ?? null },
          { jobId, attempts: opts.attempts, backoff: { type: 'exponential', delay: opts.backoffMs }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } },
        );
      });
    },
    async drain() {
      const q = await getQueue();
      for (;;) {
        const counts = await wrap('count its jobs', () => q.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children'));
        if (active === 0 && Object.values(counts).every((n) => n === 0)) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async close() {
      // Worker.close() waits for the jobs it is running and takes no new ones.
      await worker?.close();
      worker = undefined;
      if (queue) await (await queue).close();
      queue = undefined;
    },
  };
}
