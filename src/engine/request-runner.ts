import type { Transform } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { CancelledError, ConflictError, LeaseLostError, NotFoundError, OperationError } from '../errors.js';
import type { RequestStore, StoredRequest } from '../db/request-store.js';
import { SubjectStates } from '../db/subject-states.js';
import type { ResolvedDataMap } from '../metadata/data-map.js';
import { anonymizePlan } from '../operations/anonymize.js';
import { deletePlan } from '../operations/delete.js';
import { runErasure } from '../operations/erase.js';
import { isInForce, laterInForce, laterRef, subjectErasures } from '../operations/erasure-stack.js';
import { runExport } from '../operations/export.js';
import { type OperationContext, tagStep } from '../operations/operation-context.js';
import { runPurge } from '../operations/purge.js';
import { type RestoreParams, runRestore } from '../operations/restore.js';
import type { ClockPort } from '../ports/clock.js';
import type { QueueJob } from '../ports/queue.js';
import type { StoragePort } from '../ports/storage.js';
import { type PrivacyRequest, TERMINAL_STATUSES } from '../request.js';
import type { Vault } from '../vault/vault.js';
import type { Artifacts } from './artifacts.js';
import type { AuditLog } from './audit-log.js';
import type { NotificationKind, NotifierPort } from '../ports/notifier.js';
import { toPublicRequest } from '../db/request-store.js';
import type { EngineEvents } from './events.js';
import type { Logger } from './logger.js';
import { isTransient } from './transient.js';
import { type ResolvedEngineOptions, type TenantLimit, tenantLimitSchema } from './options.js';
import type { TenantLimitStore } from '../db/tenant-limits.js';
import type { LocatedSubject, SubjectLocator } from './subject-locator.js';

export const DAY = 24 * 60 * 60 * 1000;

export interface RequestRunnerDeps {
  dataSource: DataSource;
  policy: ResolvedEngineOptions['policy'];
  map: ResolvedDataMap;
  store: RequestStore;
  subjectStates: SubjectStates;
  vault: Vault;
  storage: StoragePort;
  clock: ClockPort;
  logger: Logger;
  locator: SubjectLocator;
  /** Keys the digests an erasure keeps of the values it wrote (keys port, purpose 'erasure-digest'). */
  digestKey: Buffer;
  /** The audit trail each request's start and end go to. */
  audit?: AuditLog;
  /** Stored archives: erasures delete their subject's. */
  artifacts?: Artifacts;
  /** Encrypts each export archive on its way to storage. */
  encryptArchive?: (requestId: string) => Transform;
  /** How long a claim holds without a heartbeat, and how often the heartbeat renews it. */
  lease: { durationMs: number; heartbeatMs: number };
  /** Offers the job to the queue again after a delay (a request another worker holds, in case that worker dies). */
  requeue(job: QueueJob): Promise<void>;
  events: EngineEvents;
  /** Per-tenant rate limits (the `rateLimits` option) and where they are kept. */
  limits?: { options: NonNullable<ResolvedEngineOptions['rateLimits']>; store: TenantLimitStore };
  /** Tells the admins when an export or erasure ended; recipients come from the host. */
  notifications?: { notifier: NotifierPort; recipients(request: PrivacyRequest): string[] | Promise<string[]> };
}

/** What one delivery of a request holds while it runs. */
interface Claim {
  owner: string;
  /** Set by the heartbeat once another worker took the request over. */
  lost: boolean;
  /** The subject's display name, read before the work (an erasure removes it), for the admins' notification only. */
  displayName?: string;
  /** The tenant's limits as they were when the request was claimed. */
  limit: TenantLimit;
  /** Rows the request has processed, as far as this worker saw, and how many of them the tenant's bucket was charged. */
  rowsSeen: number;
  rowsCharged: number;
}

/** Runs queued requests: claims each, dispatches it to its operation, and records how it ended. */
/** Thrown between batches once the worker was asked to stop after its current batch. */
class Interrupted extends Error {}

export class RequestRunner {
  private interrupting = false;

  constructor(private readonly deps: RequestRunnerDeps) {}

  private readonly timers = new Set<NodeJS.Timeout>();

  /** Runs one queued request to its end; every outcome, failure included, is written to the request row. */
  async run(job: QueueJob): Promise<void> {
    const { store, clock, logger, lease } = this.deps;
    const now = () => clock.now().getTime();
    const current = await store.get(job.requestId);
    if (current?.status === 'cancelled' && current.finishedAt === null && (current.leaseExpiresAt ?? 0) < Date.now()) {
      // Cancelled while running, and its worker died before recording the end: record it (fenced by that worker's lease).
      const patch = { finishedAt: now(), releaseActiveKey: true, releaseLease: true };
      await store.update(current.id, patch, now(), ['cancelled'], undefined, current.leaseOwner ?? undefined);
      return;
    }
    if (!current || TERMINAL_STATUSES.includes(current.status)) return;
    const limit = this.limitOf(current.tenantId);
    const claim: Claim = { owner: randomUUID(), lost: false, limit, rowsSeen: 0, rowsCharged: 0 };
    const running = await this.claim(current, claim);
    if (running === 'limited') {
      this.retryLater(job);
      return;
    }
    if (!running) {
      this.retryAfterLease(job);
      return;
    }
    // An export starts its count again; an erasure resumes from its checkpoint's.
    claim.rowsSeen = claim.rowsCharged = running.type === 'export' ? 0 : running.progressDone;
    // Leases use the wall clock: a host's test clock may stand still.
    const heartbeat = setInterval(() => {
      store.renewLease(running.id, claim.owner, Date.now(), lease.durationMs).then(
        (held) => {
          if (!held) claim.lost = true;
        },
        (error: unknown) => logger.warn('request lease heartbeat failed', { requestId: running.id, error: error instanceof Error ? error.name : typeof error }),
      );
    }, lease.heartbeatMs);
    heartbeat.unref();
    this.deps.events.emit('started', { request: toPublicRequest(running, now()) });
    await this.deps.audit?.tryRecord('request.started', running, running.requestedBy, current.status === 'running' ? { resumed: true } : {});
    // The plaintext data keys this operation used (its own; a restore's or purge's source) leave memory once its
    // work is done, before its end is recorded.
    const forgetKeys = () => {
      this.deps.vault.forget(running.id);
      if (typeof running.body.params?.sourceRequestId === 'string') this.deps.vault.forget(running.body.params.sourceRequestId);
    };
    const finish = async (patch: Parameters<RequestStore['update']>[1]) => {
      // Fenced by the lease; a request cancelled while it ran is finished here too (its key and lease released).
      const ended = await store.update(running.id, { ...patch, finishedAt: now(), releaseActiveKey: true, releaseLease: true }, now(), ['running', 'cancelled'], undefined, claim.owner);
      if (!ended) return;
      await this.auditEnd(ended);
      await this.announce(ended, claim);
    };
    try {
      const outcome = (await this.dispatchWithRetries(running, claim)) as unknown as Record<string, unknown>;
      forgetKeys();
      // The work is done: a cancel that came after its last batch is too late, and the request completes.
      await finish({ status: 'completed', body: { outcome } });
    } catch (error) {
      if (error instanceof Interrupted || (error instanceof OperationError && error.cause instanceof Interrupted)) {
        // The worker is stopping: the lease goes back at once, so the request is resumed without waiting for it to expire.
        await store.update(running.id, { releaseLease: true }, now(), ['running', 'cancelled'], undefined, claim.owner);
        logger.info('request handed back by a stopping worker', { requestId: running.id });
        return;
      }
      if (error instanceof LeaseLostError) {
        // Another worker owns the request now and resumes from the last committed checkpoint; this one writes nothing.
        logger.info('request taken over by another worker', { requestId: running.id });
        return;
      }
      const cancelled = error instanceof CancelledError;
      // Anything the operation did not tag itself is tagged with the request's type: its message then says where, not what.
      const failure = tagStep({ step: running.type }, error);
      // An export's failure starts with the wording its notification uses, then says where it failed.
      const publicError = { code: failure.code, message: running.type === 'export' ? `Data export failed. Please retry. ${failure.message}` : failure.message };
      // Log the error's kind, code and where it happened, never its message: database errors can echo the values they refused.
      const cause = failure instanceof OperationError ? failure.cause : failure;
      logger.error(`${running.type} request failed`, {
        requestId: running.id,
        error: cause instanceof Error ? cause.name : typeof cause,
        code: (cause as { code?: unknown })?.code,
        ...(failure instanceof OperationError ? { step: failure.step, entity: failure.entity, column: failure.column } : {}),
      });
      forgetKeys();
      await finish({ status: cancelled ? 'cancelled' : 'failed', body: cancelled ? {} : { error: publicError } });
    } finally {
      clearInterval(heartbeat);
      forgetKeys();
    }
  }

  /**
   * Runs the request; a transient failure (deadlock, serialization failure, lost connection, timeout) is tried again
   * after a growing delay, up to `policy.retries` times, from the checkpoint the last committed batch wrote.
   */
  private async dispatchWithRetries(request: StoredRequest, claim: Claim): Promise<object> {
    const { policy, store, logger } = this.deps;
    let current = request;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.dispatch(current, claim);
      } catch (error) {
        if (attempt >= policy.retries || !isTransient(error)) throw error;
        const cause = error instanceof OperationError ? error.cause : error;
        logger.warn(`${request.type} request hit a transient failure; retrying from its checkpoint`, {
          requestId: request.id,
          attempt: attempt + 1,
          error: cause instanceof Error ? cause.name : typeof cause,
          code: (cause as { code?: unknown })?.code,
        });
        this.deps.vault.forget(request.id);
        await new Promise((resolve) => setTimeout(resolve, policy.retryBackoffMs * 2 ** attempt));
        if (claim.lost) throw new LeaseLostError(request.id);
        const latest = await store.get(request.id);
        if (!latest || latest.leaseOwner !== claim.owner) throw new LeaseLostError(request.id);
        if (latest.status === 'cancelled') throw new CancelledError(`Request ${request.id} was cancelled`);
        current = latest;
      }
    }
  }

  /** Emits the request's end and notifies the admins; a notifier that keeps failing is flagged on the review list. */
  private async announce(ended: StoredRequest, claim: Claim): Promise<void> {
    const { store, clock, logger, events, notifications } = this.deps;
    const request = toPublicRequest(ended, clock.now().getTime());
    if (ended.status === 'completed' || ended.status === 'failed' || ended.status === 'cancelled') events.emit(ended.status, { request });
    const kind = notificationKind(ended);
    if (!notifications || !kind) return;
    let failure: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const recipients = await notifications.recipients(request);
        if (!recipients.length) return;
        const expiresAt = (ended.body.outcome as { artifact?: { expiresAt?: string } } | undefined)?.artifact?.expiresAt;
        await notifications.notifier.notify({
          kind,
          requestId: ended.id,
          requestType: ended.type as 'export' | 'anonymize' | 'delete',
          ...(claim.displayName ? { subjectDisplayName: claim.displayName } : {}),
          ...(kind === 'export-ready' && expiresAt ? { downloadExpiresAt: new Date(expiresAt) } : {}),
          recipients,
          tenantId: ended.tenantId,
        });
        return;
      } catch (error) {
        failure = error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
    const code = (failure as { code?: unknown })?.code;
    logger.warn('request notification failed', { requestId: ended.id, notifier: notifications.notifier.name, error: failure instanceof Error ? failure.name : typeof failure, code });
    const latest = await store.get(ended.id);
    const item = { item: `notification ${kind}`, reason: `could not be delivered by ${notifications.notifier.name} (${typeof code === 'string' ? code : failure instanceof Error ? failure.name : 'error'})` };
    if (latest && !latest.body.review.some((r) => r.item === item.item)) await store.update(ended.id, { body: { review: [...latest.body.review, item] } }, clock.now().getTime());
  }

  /** The tenant's limits: the defaults, overridden by `perTenant` (validated: a bad answer keeps the defaults). */
  private limitOf(tenantId: string | null): TenantLimit {
    const options = this.deps.limits?.options;
    if (!options) return {};
    const defaults = { maxRunning: options.maxRunning, rowsPerSecond: options.rowsPerSecond };
    if (!options.perTenant) return defaults;
    let own: unknown;
    try {
      own = options.perTenant(tenantId);
    } catch (error) {
      this.deps.logger.warn('rateLimits.perTenant threw; the default limits apply', { error: error instanceof Error ? error.name : typeof error });
      return defaults;
    }
    if (own === undefined) return defaults;
    const parsed = tenantLimitSchema.safeParse(own);
    if (!parsed.success) {
      this.deps.logger.warn('rateLimits.perTenant returned invalid limits; the default limits apply', { issues: parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ') });
      return defaults;
    }
    return { ...defaults, ...Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) };
  }

  /**
   * Claims the request; under a `maxRunning` limit the claim runs inside the tenant's lock and is refused
   * ('limited') while the tenant has as many requests running under live leases.
   */
  private async claim(current: StoredRequest, claim: Claim): Promise<StoredRequest | null | 'limited'> {
    const { store, clock, lease, limits, logger } = this.deps;
    if (!limits || claim.limit.maxRunning === undefined) return store.claim(current.id, claim.owner, Date.now(), lease.durationMs, clock.now().getTime());
    try {
      return await limits.store.claimWithin(current.id, current.tenantId, claim.limit.maxRunning, (tx, wallNow) =>
        store.claim(current.id, claim.owner, wallNow, lease.durationMs, clock.now().getTime(), tx),
      );
    } catch (error) {
      // A deadlock or busy database while taking the tenant's lock: the request stays queued and is offered again.
      logger.warn('request claim under a rate limit failed; offered again later', { requestId: current.id, error: error instanceof Error ? error.name : typeof error });
      return 'limited';
    }
  }

  /** A request deferred by its tenant's limit: offered again after about `retryMs` (jittered, so tenants interleave). */
  private retryLater(job: QueueJob): void {
    const retryMs = this.deps.limits?.options.retryMs ?? 1000;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.deps.requeue(job).catch((error: unknown) => this.deps.logger.warn('request could not be queued again', { requestId: job.requestId, error: error instanceof Error ? error.name : typeof error }));
    }, Math.round(retryMs * (0.5 + Math.random())));
    timer.unref();
    this.timers.add(timer);
  }

  /**
   * Charges the tenant's rows-per-second bucket with the rows processed since the last charge, and waits until its
   * debt is paid, in steps of at most half a second that each check for a cancel, a lost lease or a stop.
   */
  private async throttle(request: StoredRequest, claim: Claim): Promise<void> {
    const rate = claim.limit.rowsPerSecond;
    const limits = this.deps.limits;
    if (!limits || rate === undefined) return;
    const rows = claim.rowsSeen - claim.rowsCharged;
    if (rows <= 0) return;
    claim.rowsCharged = claim.rowsSeen;
    let wait = await limits.store.take(request.tenantId, rows, rate);
    while (wait > 0) {
      const step = Math.min(wait, 500);
      await new Promise((resolve) => setTimeout(resolve, step));
      wait -= step;
      if (this.interrupting) throw new Interrupted();
      if (claim.lost) throw new LeaseLostError(request.id);
      const latest = await this.deps.store.get(request.id);
      if (latest?.leaseOwner !== claim.owner) throw new LeaseLostError(request.id);
      if (latest?.status === 'cancelled') throw new CancelledError(`Request ${request.id} was cancelled`);
    }
  }

  /** Stops the timers of requests waiting for another worker's lease. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * Running requests stop after their current batch and hand their lease back (the request stays running, its
   * checkpoint committed), so another worker, or this one's next start, resumes them at once.
   */
  interrupt(): void {
    this.interrupting = true;
  }

  /** Another worker holds the request under a live lease: offer it again once that lease could have expired. */
  private retryAfterLease(job: QueueJob): void {
    void this.deps.store.get(job.requestId).then((latest) => {
      if (latest?.status !== 'running' || latest.leaseExpiresAt === null) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.deps.requeue(job).catch((error: unknown) => this.deps.logger.warn('request could not be queued again', { requestId: job.requestId, error: error instanceof Error ? error.name : typeof error }));
      }, Math.max(0, latest.leaseExpiresAt - Date.now()) + 50);
      timer.unref();
      this.timers.add(timer);
    }, () => undefined);
  }

  private async dispatch(request: StoredRequest, claim: Claim): Promise<object> {
    const { map, store } = this.deps;
    switch (request.type) {
      case 'export':
        return this.runExport(request, await this.locateFor(request, claim), claim);
      case 'anonymize':
      case 'delete': {
        // Erasures stack: what an earlier erasure still standing wrote or hid is not new, so this one leaves it alone.
        const earlier = (await subjectErasures(store, request)).filter((r) => r.id !== request.id && isInForce(r)).map((r) => r.id);
        const subject = await this.locateFor(request, claim);
        const plan = request.type === 'anonymize' ? anonymizePlan(map) : deletePlan(map);
        const receipt = await runErasure(this.operationContext(request, claim), request.type, plan, subject.id, { digestKey: this.deps.digestKey, earlier });
        // An archive of the subject would defeat the erasure: it goes at once.
        await this.deps.artifacts?.removeSubjectArchives(request, request.requestedBy);
        return receipt;
      }
      case 'restore':
      case 'purge': {
        const sourceId = String(request.body.params?.sourceRequestId);
        const source = await store.get(sourceId);
        if (!source) throw new NotFoundError(`Request ${sourceId} was not found`, { requestId: sourceId });
        if (request.type === 'restore') {
          // Checked when it was asked for; checked again in case a later erasure slipped in before this ran.
          const [later] = await laterInForce(store, source);
          if (later) {
            const ref = laterRef(later, source.tenantId);
            throw new ConflictError(`Request ${source.id} cannot be restored while ${ref.text} of the same subject stands; restore that one first`, { requestId: source.id, ...ref.details });
          }
          return runRestore(this.operationContext(request, claim), source, request.body.params as unknown as RestoreParams);
        }
        const purged = await runPurge(this.operationContext(request, claim), source, Boolean(request.body.params?.force));
        await this.deps.artifacts?.removeSubjectArchives(request, request.requestedBy);
        return purged;
      }
    }
  }

  /** Finds the subject and keeps its display name for the notification (before an erasure rewrites it). */
  private async locateFor(request: StoredRequest, claim: Claim): Promise<LocatedSubject> {
    const subject = await this.deps.locator.locate(request.subjectId, request.tenantId ?? undefined);
    if (this.deps.notifications) claim.displayName ??= this.deps.locator.displayName(subject) ?? undefined;
    return subject;
  }

  private async runExport(request: StoredRequest, subject: LocatedSubject, claim: Claim) {
    const { map, store, subjectStates, clock, policy, locator } = this.deps;
    const warnings: string[] = [];
    const state = await subjectStates.get(SubjectStates.key(map.subject.name, subject.tenantId, subject.publicId));
    if (state) warnings.push(state.state === 'anonymized' ? 'subject-anonymized' : 'subject-deleted');
    if (warnings.length && !(await store.update(request.id, { body: { warnings } }, clock.now().getTime(), undefined, undefined, claim.owner))) throw new LeaseLostError(request.id);
    let lastWrite = 0;
    return runExport({
      dataSource: this.deps.dataSource,
      map,
      storage: this.deps.storage,
      batchSize: policy.batchSize,
      requestId: request.id,
      subject: { id: subject.id, publicId: subject.publicId, tenantId: subject.tenantId, displayName: locator.displayName(subject) },
      warnings,
      now: clock.now(),
      downloadExpiresAt: () => new Date(clock.now().getTime() + policy.downloadExpiryDays * DAY),
      onProgress: async (done, total) => {
        claim.rowsSeen = Math.max(claim.rowsSeen, done);
        // Progress is persisted at most a few times a second: one UPDATE per batch would dominate small batches.
        const t = Date.now();
        if (done !== 0 && done !== total && t - lastWrite < 250) return;
        lastWrite = t;
        const saved = await store.update(request.id, { progressDone: done, progressTotal: total }, clock.now().getTime(), undefined, undefined, claim.owner);
        // Not thrown here (the archive may still be streaming after a failure): the next cancellation check stops it.
        if (!saved) claim.lost = true;
      },
      checkCancelled: this.cancellationCheck(request, claim),
      ...(this.deps.encryptArchive ? { encrypt: () => this.deps.encryptArchive!(request.id) } : {}),
    });
  }

  /** The end of a request in the audit trail; an export that ran beside an erasure of its subject leaves no archive. */
  private async auditEnd(ended: StoredRequest): Promise<void> {
    if (ended.status !== 'completed') {
      await this.deps.audit?.tryRecord(ended.status === 'cancelled' ? 'request.cancelled' : 'request.failed', ended, ended.requestedBy, ended.body.error ? { code: ended.body.error.code } : {});
      return;
    }
    await this.auditCompletion(ended, ended.body.outcome ?? {});
    if (ended.type === 'export') await this.deps.artifacts?.removeIfErasedMeanwhile(ended);
  }

  /** The completion entry: counts only (numbers), plus what restores and purges must show (forced or not). */
  private async auditCompletion(request: StoredRequest, outcome: Record<string, unknown>): Promise<void> {
    const audit = this.deps.audit;
    if (!audit) return;
    // Per entity or category: export counts, erasure rows, rows restored or removed.
    const entities = (outcome.receipt as { entities?: Record<string, { rows?: unknown }> } | undefined)?.entities ?? {};
    const raw = { ...(outcome.counts as object), ...(outcome.restored as object), ...(outcome.removed as object), ...Object.fromEntries(Object.entries(entities).map(([k, v]) => [k, v?.rows])) };
    const counts = Object.fromEntries(Object.entries(raw).filter(([, v]) => typeof v === 'number'));
    const source = request.body.params?.sourceRequestId;
    const details: Record<string, unknown> = { counts, ...(typeof source === 'string' ? { sourceRequestId: source } : {}) };
    if (request.type === 'purge') details.forced = Boolean(request.body.params?.force);
    await audit.tryRecord('request.completed', request, request.requestedBy, details);
    if (request.type === 'restore' || request.type === 'purge') await audit.tryRecord(`${request.type}.completed`, request, request.requestedBy, details);
  }

  private operationContext(request: StoredRequest, claim: Claim): OperationContext {
    const { dataSource, map, vault, store, subjectStates, policy, clock } = this.deps;
    return {
      dataSource,
      map,
      vault,
      store,
      subjectStates,
      request,
      batchSize: policy.batchSize,
      recoveryWindowMs: policy.recoveryWindowDays * DAY,
      now: () => clock.now(),
      checkCancelled: this.cancellationCheck(request, claim),
      leaseOwner: claim.owner,
    };
  }

  /**
   * Reads the request's status between batches (one primary-key read each); throws once it was cancelled or taken
   * over. Under a rows-per-second limit it also waits for the tenant's bucket.
   */
  private cancellationCheck(request: StoredRequest, claim: Claim): () => Promise<void> {
    const requestId = request.id;
    return async () => {
      if (this.interrupting) throw new Interrupted();
      if (claim.lost) throw new LeaseLostError(requestId);
      const latest = await this.deps.store.get(requestId);
      if (latest?.leaseOwner !== claim.owner) throw new LeaseLostError(requestId);
      if (latest?.status === 'cancelled') throw new CancelledError(`Request ${requestId} was cancelled`);
      this.deps.events.emit('progress', { request: toPublicRequest(latest, this.deps.clock.now().getTime()) });
      claim.rowsSeen = Math.max(claim.rowsSeen, latest.progressDone);
      await this.throttle(request, claim);
    };
  }
}

/** Which message an ended request sends: exports and erasures only, and a cancel sends none. */
function notificationKind(request: StoredRequest): NotificationKind | null {
  if (request.status !== 'completed' && request.status !== 'failed') return null;
  if (request.type === 'export') return request.status === 'completed' ? 'export-ready' : 'export-failed';
  if (request.type === 'anonymize' || request.type === 'delete') return request.status === 'completed' ? 'erasure-completed' : 'erasure-failed';
  return null;
}
