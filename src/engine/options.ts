import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { weakSecretReason } from '../adapters/secret-keys.js';
import { ValidationError } from '../errors.js';
import type { EntityTarget } from '../metadata/declarations.js';
import type { TenantOf } from '../metadata/tenant.js';
import type { AuditPort } from '../ports/audit.js';
import type { ClockPort } from '../ports/clock.js';
import type { KeysPort } from '../ports/keys.js';
import type { NotifierPort } from '../ports/notifier.js';
import type { QueuePort } from '../ports/queue.js';
import type { PrivacyRequest } from '../request.js';
import type { StoragePort } from '../ports/storage.js';
import type { Logger } from './logger.js';
import type { Authorize } from './policy.js';

const port = <T>(methods: string[]) =>
  z.custom<T>((v) => typeof v === 'object' && v !== null && methods.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'), {
    message: `must implement ${methods.join(', ')}`,
  });

const positiveInt = z.number().int().positive();

/** One tenant's limits: requests running at once, rows processed per second (both across every worker). */
export const tenantLimitSchema = z
  .object({
    maxRunning: z.number().int().min(1).max(100_000).optional(),
    rowsPerSecond: z.number().positive().max(1_000_000_000).optional(),
  })
  .strict();
export type TenantLimit = z.output<typeof tenantLimitSchema>;

export const engineOptionsSchema = z
  .object({
    dataSource: z.custom<DataSource>((v) => typeof v === 'object' && v !== null && typeof (v as DataSource).query === 'function' && 'driver' in (v as object), {
      message: 'must be a TypeORM DataSource',
    }),
    subject: z.custom<EntityTarget>((v) => typeof v === 'function' || (typeof v === 'string' && v.length > 0), {
      message: 'must be the data subject entity class (or its entity name)',
    }),
    /** The subject's tenant: a column of the subject, or a path through its relations to a column ('channels.code'). */
    tenantColumn: z.string().min(1).optional(),
    /** The subject's tenants computed from its row, instead of tenantColumn; compared exactly with the asked tenant. */
    tenantOf: z.custom<TenantOf>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
    secret: z
      .string()
      .superRefine((secret, ctx) => {
        const weak = weakSecretReason(secret);
        if (weak) ctx.addIssue({ code: 'custom', message: weak });
      })
      .optional(),
    queue: port<QueuePort>(['start', 'enqueue', 'drain', 'close']).optional(),
    /**
     * `false`: this process only submits and reads requests; start() does not consume the queue, resume unfinished
     * requests or sweep expired leases (worker processes do). Needs a durable `queue` shared with the workers.
     */
    worker: z.boolean().default(true),
    /** Tells admins when an export or erasure completed or failed (with `notifyRecipients`). */
    notifier: port<NotifierPort>(['notify', 'close']).optional(),
    /** The admin addresses to notify about a request; none: no message. */
    notifyRecipients: z.custom<(request: PrivacyRequest) => string[] | Promise<string[]>>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
    storage: port<StoragePort>(['put', 'get', 'stat', 'delete']).optional(),
    keys: port<KeysPort>(['wrapKey', 'unwrapKey', 'deriveKey'])
      .refine((k) => k.destroyKey === undefined || typeof k.destroyKey === 'function', { message: 'destroyKey must be a function when given' })
      .optional(),
    clock: port<ClockPort>(['now']).optional(),
    audit: port<AuditPort>(['append', 'list', 'head', 'removeThrough']).optional(),
    /** Where download links point: the token is appended as `?token=` (or `&token=`). */
    downloadLinkBaseUrl: z.url().optional(),
    logger: port<Logger>(['info', 'warn', 'error']).optional(),
    authorize: z.custom<Authorize>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
    /**
     * Request leases: a worker's claim on a running request lasts `durationMs` unless its heartbeat (every
     * `heartbeatMs`, default a third of it) renews it; only an expired lease can be taken over by another worker.
     */
    lease: z
      .object({ durationMs: z.number().int().min(100).max(3_600_000).default(30_000), heartbeatMs: positiveInt.optional() })
      .prefault({})
      .refine((l) => l.heartbeatMs === undefined || l.heartbeatMs < l.durationMs, { message: 'heartbeatMs must be shorter than durationMs', path: ['heartbeatMs'] }),
    /**
     * Per-tenant rate limits, enforced through the engine's tables so they hold across processes: defaults for every
     * tenant, and `perTenant(tenantId)` to override them (undefined: the defaults). A request over its tenant's
     * `maxRunning` stays queued and is offered again after about `retryMs`.
     */
    rateLimits: tenantLimitSchema
      .extend({
        perTenant: z.custom<(tenantId: string | null) => TenantLimit | undefined>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
        retryMs: z.number().int().min(10).max(600_000).default(1000),
      })
      .strict()
      .optional(),
    /**
     * Observes requests other processes run: every `pollMs` the engine reads the requests changed since its last poll
     * and emits the same events for them (`engine.on`). Off unless given.
     */
    events: z.object({ pollMs: z.number().int().min(10).max(3_600_000) }).strict().optional(),
    tablePrefix: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,30}$/, 'letters, digits and underscores only').default('privacy_'),
    policy: z
      .object({
        recoveryWindowDays: positiveInt.default(30),
        downloadExpiryDays: positiveInt.default(7),
        deadlineDays: z.object({ gdpr: positiveInt.default(30), ccpa: positiveInt.default(45) }).prefault({}),
        /**
         * Rows per erasure, restore and purge transaction, and per page read (export pages stay at most 1,000 rows:
         * larger ones measured no faster and hold more memory). 5,000 measured 30-45% faster deletes and purges
         * than 1,000 (docs/benchmarks.md).
         */
        batchSize: z.number().int().min(1).max(50_000).default(5000),
        /** Times a request is tried again after a transient failure (deadlock, lost connection...), from its checkpoint. */
        retries: z.number().int().min(0).max(20).default(3),
        /** The first retry's delay; each further retry waits twice as long. */
        retryBackoffMs: z.number().int().min(0).max(600_000).default(500),
      })
      .prefault({}),
  })
  .refine((o) => o.tenantColumn === undefined || o.tenantOf === undefined, { message: 'give tenantColumn or tenantOf, not both', path: ['tenantOf'] })
  .refine((o) => o.secret !== undefined || o.keys !== undefined, { message: 'either secret or keys is required', path: ['secret'] })
  .refine((o) => (o.notifier === undefined) === (o.notifyRecipients === undefined), { message: 'notifier and notifyRecipients go together', path: ['notifyRecipients'] })
  // The in-process default keeps jobs in this process's memory: with no worker here, nothing would ever run them.
  .refine((o) => o.worker || o.queue !== undefined, { message: 'worker: false needs a durable queue (createTypeOrmQueue or createBullMqQueue) shared with the worker processes', path: ['queue'] });

export type PrivacyEngineOptions = z.input<typeof engineOptionsSchema>;
export type ResolvedEngineOptions = z.output<typeof engineOptionsSchema>;

/** Parses with zod and turns its issues into a ValidationError naming each bad path (never the value). */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  throw new ValidationError(`Invalid ${what}: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
}
