import type { Transform } from 'node:stream';
import type { DataSource } from 'typeorm';
import { CancelledError, ConflictError, NotFoundError, OperationError } from '../errors.js';
import type { RequestStore, StoredRequest } from '../db/request-store.js';
import { SubjectStates } from '../db/subject-states.js';
import type { ResolvedDataMap } from '../metadata/data-map.js';
import { anonymizePlan } from '../operations/anonymize.js';
import { deletePlan } from '../operations/delete.js';
import { runErasure } from '../operations/erase.js';
import { isInForce, laterInForce, subjectErasures } from '../operations/erasure-stack.js';
import { runExport } from '../operations/export.js';
import { type OperationContext, tagStep } from '../operations/operation-context.js';
import { runPurge } from '../operations/purge.js';
import { type RestoreParams, runRestore } from '../operations/restore.js';
import type { ClockPort } from '../ports/clock.js';
import type { QueueJob } from '../ports/queue.js';
import type { StoragePort } from '../ports/storage.js';
import { TERMINAL_STATUSES } from '../request.js';
import type { Vault } from '../vault/vault.js';
import type { Artifacts } from './artifacts.js';
import type { AuditLog } from './audit-log.js';
import type { Logger } from './logger.js';
import type { ResolvedEngineOptions } from './options.js';
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
}

/** Runs queued requests: claims each, dispatches it to its operation, and records how it ended. */
export class RequestRunner {
  constructor(private readonly deps: RequestRunnerDeps) {}

  /** Runs one queued request to its end; every outcome, failure included, is written to the request row. */
  async run(job: QueueJob): Promise<void> {
    const { store, clock, logger } = this.deps;
    const now = () => clock.now().getTime();
    const current = await store.get(job.requestId);
    if (!current || TERMINAL_STATUSES.includes(current.status)) return;
    const running = await store.update(job.requestId, { status: 'running', startedAt: current.startedAt ?? now() }, now(), ['queued', 'running']);
    if (!running) return;
    await this.deps.audit?.tryRecord('request.started', running, running.requestedBy, current.status === 'running' ? { resumed: true } : {});
    try {
      const outcome = (await this.dispatch(running)) as unknown as Record<string, unknown>;
      const completed = await store.update(running.id, { status: 'completed', finishedAt: now(), releaseActiveKey: true, body: { outcome } }, now(), ['running']);
      if (completed) await this.auditCompletion(completed, outcome);
      // An export that ran beside an erasure of its subject must not leave an archive behind it.
      if (completed?.type === 'export') await this.deps.artifacts?.removeIfErasedMeanwhile(completed);
    } catch (error) {
      const cancelled = error instanceof CancelledError;
      // Anything the operation did not tag itself is tagged with the request's type: its message then says where, not what.
      const failure = tagStep({ step: running.type }, error);
      const publicError = { code: failure.code, message: failure.message };
      // Log the error's kind, code and where it happened, never its message: database errors can echo the values they refused.
      const cause = failure instanceof OperationError ? failure.cause : failure;
      logger.error(`${running.type} request failed`, {
        requestId: running.id,
        error: cause instanceof Error ? cause.name : typeof cause,
        code: (cause as { code?: unknown })?.code,
        ...(failure instanceof OperationError ? { step: failure.step, entity: failure.entity, column: failure.column } : {}),
      });
      await store.update(
        running.id,
        { status: cancelled ? 'cancelled' : 'failed', finishedAt: now(), releaseActiveKey: true, body: cancelled ? {} : { error: publicError } },
        now(),
        ['running'],
      );
      await this.deps.audit?.tryRecord(cancelled ? 'request.cancelled' : 'request.failed', running, running.requestedBy, cancelled ? {} : { code: failure.code });
    } finally {
      // The plaintext data keys this operation used (its own; a restore's or purge's source) leave memory with it.
      this.deps.vault.forget(running.id);
      if (typeof running.body.params?.sourceRequestId === 'string') this.deps.vault.forget(running.body.params.sourceRequestId);
    }
  }

  private async dispatch(request: StoredRequest): Promise<object> {
    const { map, store, locator } = this.deps;
    switch (request.type) {
      case 'export':
        return this.runExport(request, await locator.locate(request.subjectId, request.tenantId ?? undefined));
      case 'anonymize':
      case 'delete': {
        // Erasures stack: what an earlier erasure still standing wrote or hid is not new, so this one leaves it alone.
        const earlier = (await subjectErasures(store, request)).filter((r) => r.id !== request.id && isInForce(r)).map((r) => r.id);
        const subject = await locator.locate(request.subjectId, request.tenantId ?? undefined);
        const plan = request.type === 'anonymize' ? anonymizePlan(map) : deletePlan(map);
        const receipt = await runErasure(this.operationContext(request), request.type, plan, subject.id, { digestKey: this.deps.digestKey, earlier });
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
          if (later) throw new ConflictError(`Request ${source.id} cannot be restored while the later ${later.type} request ${later.id} of the same subject stands; restore that one first`, { requestId: source.id, laterRequestId: later.id });
          return runRestore(this.operationContext(request), source, request.body.params as unknown as RestoreParams);
        }
        const purged = await runPurge(this.operationContext(request), source, Boolean(request.body.params?.force));
        await this.deps.artifacts?.removeSubjectArchives(request, request.requestedBy);
        return purged;
      }
    }
  }

  private async runExport(request: StoredRequest, subject: LocatedSubject) {
    const { map, store, subjectStates, clock, policy, locator } = this.deps;
    const warnings: string[] = [];
    const state = await subjectStates.get(SubjectStates.key(map.subject.name, subject.tenantId, subject.publicId));
    if (state) warnings.push(state.state === 'anonymized' ? 'subject-anonymized' : 'subject-deleted');
    if (warnings.length) await store.update(request.id, { body: { warnings } }, clock.now().getTime());
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
        // Progress is persisted at most a few times a second: one UPDATE per batch would dominate small batches.
        const t = Date.now();
        if (done !== 0 && done !== total && t - lastWrite < 250) return;
        lastWrite = t;
        await store.update(request.id, { progressDone: done, progressTotal: total }, clock.now().getTime());
      },
      checkCancelled: this.cancellationCheck(request.id),
      ...(this.deps.encryptArchive ? { encrypt: () => this.deps.encryptArchive!(request.id) } : {}),
    });
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

  private operationContext(request: StoredRequest): OperationContext {
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
      checkCancelled: this.cancellationCheck(request.id),
    };
  }

  /** Reads the request's status at most twice a second, between batches; throws once it was cancelled. */
  private cancellationCheck(requestId: string): () => Promise<void> {
    let last = 0;
    return async () => {
      const t = Date.now();
      if (t - last < 500) return;
      last = t;
      const latest = await this.deps.store.get(requestId);
      if (latest?.status === 'cancelled') throw new CancelledError(`Request ${requestId} was cancelled`);
    };
  }
}
