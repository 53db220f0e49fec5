import { z } from 'zod';
import { createInProcessQueue } from '../adapters/in-process-queue.js';
import { createLocalStorage } from '../adapters/local-storage.js';
import { createSecretKeys } from '../adapters/secret-keys.js';
import { createTypeormAudit } from '../adapters/typeorm-audit.js';
import { ConflictError, ForbiddenError, NotFoundError, type PrivacyEngineError, ValidationError, WindowClosedError } from '../errors.js';
import { engineTableNames, ensureEngineTables } from '../db/engine-tables.js';
import { type ActiveFamily, RequestStore, type StoredRequest, toPublicRequest } from '../db/request-store.js';
import { SubjectStates } from '../db/subject-states.js';
import { buildDataMap } from '../metadata/builder.js';
import { type IndexSuggestions, indexMigration, missingIndexes, withoutIndexedWarnings } from '../db/index-suggestions.js';
import { type DataMapJson, type ResolvedDataMap, dataMapToJson } from '../metadata/data-map.js';
import type { CategoryDefinition, DataCategoryProvider, ProviderRegistration } from '../metadata/declarations.js';
import type { RestoreParams } from '../operations/restore.js';
import { type CoverageInput, type CoverageReport, checkCoverage } from '../coverage/coverage.js';
import { type OperationPlan, type PlanInput, planInputSchema, planOperation } from '../operations/plan.js';
import { erasedRows, inTenant, isErasure, isNoop, laterInForce, laterRef } from '../operations/erasure-stack.js';
import type { ClockPort } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { KeysPort } from '../ports/keys.js';
import type { QueuePort } from '../ports/queue.js';
import type { StoragePort } from '../ports/storage.js';
import { type PrivacyRequest, type Regulation, type RequestType, TERMINAL_STATUSES } from '../request.js';
import { Vault } from '../vault/vault.js';
import { type EngineEventListener, type EngineEventName, EngineEvents } from './events.js';
import { RequestEventPoller } from './event-poller.js';
import { TenantLimitStore } from '../db/tenant-limits.js';
import { type Logger, consoleLogger } from './logger.js';
import { type PrivacyEngineOptions, type ResolvedEngineOptions, engineOptionsSchema, parseInput } from './options.js';
import { type Action, type Actor, type Authorize, actorSchema, assertAllowed, defaultAuthorize } from './policy.js';
import { DAY, RequestRunner } from './request-runner.js';
import { Artifacts, type DownloadResult, encryptArchive } from './artifacts.js';
import { AuditLog, type EngineAudit } from './audit-log.js';
import type { AuditPort } from '../ports/audit.js';
import {
  type CancelInput,
  type ExtendDeadlineInput,
  type ErasureInput,
  type DownloadLinkInput,
  type ExportInput,
  type OpenDownloadInput,
  downloadLinkInputSchema,
  openDownloadInputSchema,
  type PurgeInput,
  type RequestFilter,
  type RestoreInput,
  type RetryInput,
  cancelInputSchema,
  extendDeadlineInputSchema,
  purgeInputSchema,
  retryInputSchema,
  requestFilterSchema,
  requestIdSchema,
  requestRefSchema,
  restoreInputSchema,
  subjectRequestSchema,
  waitSchema,
} from './schemas.js';
import { type LocatedSubject, SubjectLocator } from './subject-locator.js';

export type { CancelInput, ExtendDeadlineInput, ErasureInput, ExportInput, PurgeInput, RestoreInput, RetryInput, RequestFilter } from './schemas.js';

/** Exports run side by side with other work; erasure-family requests of one subject run one at a time. */
function activeFamilyOf(type: RequestType): ActiveFamily {
  return type === 'export' ? 'export' : 'erasure';
}

/** The explicit host-level access of the read calls (no actor, no authorization). */
export interface SystemAccess {
  readonly system: true;
}
const SYSTEM_ACCESS: SystemAccess = Object.freeze({ system: true as const });
const isSystem = (actor: unknown): actor is SystemAccess => typeof actor === 'object' && actor !== null && (actor as { system?: unknown }).system === true;

/**
 * The read calls need to know on whose behalf they read: an actor, or `engine.system` for host code. A missing one is
 * refused before anything else, so a forgotten actor never reads every tenant's requests.
 */
function requireReader<T>(actor: T | undefined, call: string): T {
  if (actor === undefined || actor === null) {
    throw new ValidationError(`Missing actor: pass the actor reading on whose behalf, or engine.system for host-level code (${call})`, [{ path: 'actor', message: 'required' }]);
  }
  return actor;
}

/** A page cursor: where the last page ended, opaque to callers. */
function encodeCursor(row: StoredRequest): string {
  return Buffer.from(JSON.stringify([row.createdAt, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (Number.isSafeInteger(createdAt) && typeof id === 'string') return { createdAt: createdAt as number, id };
  } catch {
    // reported below
  }
  throw new ValidationError('Invalid request filter: cursor is not one this engine returned', [{ path: 'cursor', message: 'invalid cursor' }]);
}

/** Further days a regulation allows past the first deadline: GDPR Art. 12(3) two months, CCPA §1798.130 45 days. */
const MAX_EXTENSION_DAYS = { gdpr: 60, ccpa: 45 } as const;

/** The actor the engine uses for work it starts itself (purgeExpired). */
const SYSTEM_ACTOR_ID = 'privacy-engine:system';

export type { DownloadResult } from './artifacts.js';
export type { EngineAudit } from './audit-log.js';

/** A signed download link for an export archive; `url` when the engine knows where links point. */
export interface DownloadLink {
  token: string;
  url?: string;
  expiresAt: string;
}

/**
 * The facade hosts use: declare the data map with decorators, construct the engine with a DataSource,
 * call start(), then ask for requests. Each request is persisted at once and run by the queue.
 */
export class PrivacyEngine {
  private readonly options: ResolvedEngineOptions;
  private readonly queue: QueuePort;
  private readonly storage: StoragePort;
  private readonly keys: KeysPort;
  private readonly clock: ClockPort;
  private readonly logger: Logger;
  private readonly authorizeAction: Authorize;
  private readonly extraProviders: ProviderRegistration[] = [];
  private map?: ResolvedDataMap;
  private store?: RequestStore;
  private locator?: SubjectLocator;
  private starting?: Promise<void>;
  private auditLog?: AuditLog;
  private artifacts?: Artifacts;
  /** Archives are always encrypted at rest; only the benchmark's subclass turns this off, to measure the cost. */
  protected readonly encryptArchives: boolean = true;
  private runner?: RequestRunner;
  private sweeper?: NodeJS.Timeout;
  private readonly events: EngineEvents;
  private poller?: RequestEventPoller;

  constructor(options: PrivacyEngineOptions) {
    this.options = parseInput(engineOptionsSchema, options, 'PrivacyEngine options');
    this.queue = this.options.queue ?? createInProcessQueue();
    this.storage = this.options.storage ?? createLocalStorage();
    this.keys = this.options.keys ?? createSecretKeys({ secret: this.options.secret! });
    this.clock = this.options.clock ?? systemClock;
    this.logger = this.options.logger ?? consoleLogger;
    this.authorizeAction = this.options.authorize ?? defaultAuthorize;
    this.events = new EngineEvents(this.logger);
  }

  /**
   * Listens to requests' lifecycle: `queued` in the process that asked, `started`, `progress` (after each batch),
   * `completed`, `failed`, `cancelled` in the process that runs the work, and, with the `events: { pollMs }` option,
   * those of requests other processes run. Returns a function that removes the listener.
   */
  on<E extends EngineEventName>(event: E, listener: EngineEventListener<E>): () => void {
    return this.events.on(event, listener);
  }

  off<E extends EngineEventName>(event: E, listener: EngineEventListener<E>): void {
    this.events.off(event, listener);
  }

  /**
   * Builds and validates the data map, creates the engine's tables, starts the queue and resumes unfinished requests
   * (with `worker: false`, only the first two: the process submits, worker processes run the queue).
   */
  start(): Promise<void> {
    this.starting ??= this.doStart().catch((error) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const { dataSource } = this.options;
    if (!dataSource.isInitialized) await dataSource.initialize();
    const hmacKey = await this.keys.deriveKey('hmac-redaction');
    this.map = buildDataMap({
      dataSource,
      subject: this.options.subject,
      tenantColumn: this.options.tenantColumn,
      tenantOf: this.options.tenantOf,
      providers: this.extraProviders,
      redaction: { hmacKey },
    });
    this.map.warnings = await withoutIndexedWarnings(dataSource, this.map);
    for (const warning of this.map.warnings) this.logger.warn(warning.message, { code: warning.code, suggestion: warning.suggestion });
    const tables = engineTableNames(dataSource, this.options.tablePrefix);
    const locator = new SubjectLocator(dataSource, this.map);
    await ensureEngineTables(dataSource, tables, { canonical: { subjectType: this.map.subject.name, id: (raw) => locator.canonicalOrNull(raw) } });
    this.store = new RequestStore(dataSource, tables.requests);
    this.locator = locator;
    await this.startAudit(this.store, tables.audit);
    const runner = new RequestRunner({
      dataSource,
      policy: this.options.policy,
      map: this.map,
      store: this.store,
      subjectStates: new SubjectStates(dataSource, tables.subjects),
      vault: new Vault(dataSource, tables.vault, this.keys),
      storage: this.storage,
      clock: this.clock,
      logger: this.logger,
      locator: this.locator,
      digestKey: await this.keys.deriveKey('erasure-digest'),
      audit: this.auditLog,
      artifacts: this.artifacts,
      ...(this.encryptArchives ? { encryptArchive: (requestId: string) => encryptArchive(this.keys, requestId) } : {}),
      lease: { durationMs: this.options.lease.durationMs, heartbeatMs: this.options.lease.heartbeatMs ?? Math.max(1, Math.floor(this.options.lease.durationMs / 3)) },
      requeue: (job) => this.queue.enqueue(job),
      events: this.events,
      ...(this.options.rateLimits ? { limits: { options: this.options.rateLimits, store: new TenantLimitStore(dataSource, tables.tenantLimits, tables.requests) } } : {}),
      ...(this.options.notifier && this.options.notifyRecipients ? { notifications: { notifier: this.options.notifier, recipients: this.options.notifyRecipients } } : {}),
    });
    this.runner = runner;
    // A submit-only process (worker: false) leaves running, resuming and sweeping to the worker processes.
    if (!this.options.worker) return;
    await this.queue.start((job) => runner.run(job));
    for (const request of await this.store.listUnfinished()) {
      await this.queue.enqueue({ requestId: request.id, tenantId: request.tenantId });
    }
    this.startLeaseSweeper(this.store);
    if (this.options.events) {
      const poller = new RequestEventPoller(this.store, this.events, this.clock, this.logger, this.options.events.pollMs);
      this.events.filter = (event, request) => poller.accept(event, request);
      await poller.start();
      this.poller = poller;
    }
  }

  /**
   * Offers again, once per lease period, the running requests whose lease expired: a dead worker's request is taken
   * over by a live process even when its queue does not deliver the job again (BullMQ after too many stalls, or the
   * in-process queue of the process that died).
   */
  private startLeaseSweeper(store: RequestStore): void {
    this.sweeper = setInterval(() => {
      store.listExpiredLeases(Date.now()).then(
        async (stale) => {
          for (const request of stale) await this.queue.enqueue({ requestId: request.id, tenantId: request.tenantId });
          // Requests a rate limit deferred wait in a timer of the process that refused them; should that process die,
          // they are still offered (a queue ignores a job already waiting in it).
          if (this.options.rateLimits) for (const request of await store.listQueued(100)) await this.queue.enqueue({ requestId: request.id, tenantId: request.tenantId });
        },
        (error: unknown) => this.logger.warn('expired lease sweep failed', { error: error instanceof Error ? error.name : typeof error }),
      ).catch((error: unknown) => this.logger.warn('expired lease sweep failed', { error: error instanceof Error ? error.name : typeof error }));
    }, this.options.lease.durationMs);
    this.sweeper.unref();
  }

  /**
   * Stops taking work, waits for running requests and releases the queue and storage. By default running requests
   * finish; with `interrupt: true` each stops after its current batch and hands its lease back (still running, its
   * checkpoint committed), to be resumed by another worker or by this engine's next start().
   */
  async stop(options: { interrupt?: boolean } = {}): Promise<void> {
    const { interrupt } = parseInput(z.object({ interrupt: z.boolean().default(false) }), options, 'stop options');
    clearInterval(this.sweeper);
    await this.poller?.stop();
    this.poller = undefined;
    this.events.filter = undefined;
    if (interrupt) this.runner?.interrupt();
    this.runner?.close();
    await this.queue.close();
    await this.storage.close?.();
    await this.options.notifier?.close();
    this.starting = undefined;
  }

  /** Registers data held outside TypeORM. Call before start(). */
  registerProvider(name: string, category: string | CategoryDefinition, provider: DataCategoryProvider): void {
    if (this.starting) throw new ConflictError('registerProvider() must be called before start()');
    parseInput(z.string().min(1).max(128), name, 'provider name');
    this.extraProviders.push({ name, category, provider });
  }

  /**
   * The (link column, primary key) indexes neither the entities nor the database have yet: each with its DDL for this
   * database, and one TypeORM migration adding them all, for tables whose classes you do not own (docs/data-map.md).
   */
  async suggestIndexes(options: { migrationName?: string } = {}): Promise<IndexSuggestions> {
    const schema = z.object({ migrationName: z.string().max(200).regex(/^[A-Za-z_$][\w$]*$/, 'a class name').optional() }).strict();
    const parsed = parseInput(schema, options, 'suggestIndexes options');
    const indexes = await missingIndexes(this.options.dataSource, this.requireMap());
    return { indexes, migration: indexMigration(indexes, parsed.migrationName) };
  }

  /** The resolved data map as plain JSON: entities, fields, categories, links, redaction strategies, warnings. */
  dataMap(): DataMapJson {
    return dataMapToJson(this.requireMap());
  }

  /**
   * Checks the DataSource's entities and columns against the declarations: what is covered, what is declared not
   * personal, and what looks personal but is undeclared. Works before start() (starts no workers, writes nothing).
   */
  async coverage(input?: CoverageInput): Promise<CoverageReport> {
    const { dataSource } = this.options;
    if (!dataSource.isInitialized) await dataSource.initialize();
    const map =
      this.map ??
      buildDataMap({ dataSource, subject: this.options.subject, tenantColumn: this.options.tenantColumn, tenantOf: this.options.tenantOf, providers: this.extraProviders, redaction: { hmacKey: await this.keys.deriveKey('hmac-redaction') } });
    return checkCoverage(dataSource, map, input);
  }

  /** A dry run: what export, anonymize or delete would read and change for one subject, in order, with an estimated duration. Writes nothing. */
  async plan(input: PlanInput): Promise<OperationPlan> {
    const parsed = parseInput(planInputSchema, input, 'plan request');
    const actor = actorSchema.parse(parsed.actor);
    const subject = await this.locateSubject(parsed.subjectId, parsed.tenantId ?? actor.tenantId, actor, parsed.operation);
    return planOperation({ dataSource: this.options.dataSource, map: this.requireMap(), store: this.requireStore(), subject }, parsed.operation);
  }

  /**
   * Finds one subject as `actor` may see it ('read'): its type, canonical id and tenant (what a confirmation names
   * before an export or erasure). Another tenant's subject, or one that does not exist, is a NotFoundError.
   */
  async findSubject(input: { subjectId: string | number; actor: Actor; tenantId?: string }): Promise<{ type: string; id: string; tenantId: string | null }> {
    const parsed = parseInput(subjectRequestSchema.omit({ regulation: true }).strict(), input, 'subject lookup');
    const actor = actorSchema.parse(parsed.actor);
    const located = await this.locateSubject(parsed.subjectId, parsed.tenantId ?? actor.tenantId, actor, 'read');
    return { type: this.requireMap().subject.name, id: located.publicId, tenantId: located.tenantId };
  }

  /**
   * Asks for an export of everything held about one subject (GDPR Art. 15/20, CCPA right to know).
   * Returns the queued request at once; a second active export for the same subject is refused.
   */
  async export(input: ExportInput): Promise<PrivacyRequest> {
    const parsed = parseInput(subjectRequestSchema, input, 'export request');
    const actor = actorSchema.parse(parsed.actor);
    const subject = await this.locateSubject(parsed.subjectId, parsed.tenantId ?? actor.tenantId, actor, 'export');
    return this.createRequest('export', subject, actor.id, parsed.regulation);
  }

  /**
   * Anonymizes the subject (GDPR Art. 17 by anonymization): every @Redact field of the subject and of every
   * entity not retained is rewritten in place; rows and history stay. Originals go to the encrypted vault
   * for the recovery window. Running it again erases only what is new since the erasures still in force.
   */
  async anonymize(input: ErasureInput): Promise<PrivacyRequest> {
    return this.requestErasure('anonymize', input);
  }

  /**
   * Deletes the subject (GDPR Art. 17, CCPA §1798.105): rows of `onErase: 'delete'` entities leave every
   * ordinary query, 'anonymize' entities are redacted, 'retain' entities are kept and reported.
   * Restorable until the recovery window ends; purged for good after it.
   */
  async delete(input: ErasureInput): Promise<PrivacyRequest> {
    return this.requestErasure('delete', input);
  }

  /**
   * Puts back everything (or chosen categories / records) of an anonymize or delete request, inside its recovery
   * window. Erasures of one subject are undone newest first: while a later erasure of the subject still stands,
   * this one is refused (ConflictError naming it; WindowClosedError when that later one was purged).
   */
  async restore(input: RestoreInput): Promise<PrivacyRequest> {
    const { requestId, actor, categories, records } = parseInput(restoreInputSchema, input, 'restore request');
    this.assertKnownFilters(categories, records);
    const source = await this.loadRequest(requestId, actor, 'restore');
    this.assertErasure(source);
    if (source.body.purgedAt) throw new WindowClosedError(`Request ${requestId} was purged; its data cannot be restored`, { requestId });
    if (source.body.restoredAt) throw new ConflictError(`Request ${requestId} has already been restored`, { requestId });
    const deadline = this.recoveryDeadline(source);
    if (this.clock.now().getTime() >= deadline) {
      throw new WindowClosedError(`The recovery window of request ${requestId} ended on ${new Date(deadline).toISOString()}; its data can no longer be restored`, { requestId });
    }
    await this.assertNewestInForce(source);
    const params: RestoreParams = { sourceRequestId: source.id, ...(categories ? { categories } : {}), ...(records ? { records } : {}) };
    return this.createRequest('restore', this.requireLocator().subjectOf(source), actorSchema.parse(actor).id, source.body.regulation, params as unknown as Record<string, unknown>);
  }

  /**
   * Resumes a failed or cancelled anonymize or delete request from its last committed batch. Refused
   * (ConflictError) for any other request, once it was restored or purged, while a later erasure of the
   * subject stands, or while another erasure-family request of the subject is queued or running.
   */
  async retry(input: RetryInput): Promise<PrivacyRequest> {
    const { requestId, actor } = parseInput(retryInputSchema, input, 'retry request');
    const source = await this.loadRequest(requestId, actor, 'retry');
    if (!isErasure(source) || (source.status !== 'failed' && source.status !== 'cancelled')) {
      throw new ConflictError(`Request ${requestId} is not a failed or cancelled anonymize or delete request (type: ${source.type}, status: ${source.status})`, {
        requestId,
        type: source.type,
        status: source.status,
      });
    }
    if (source.body.restoredAt) throw new ConflictError(`Request ${requestId} was restored; ask for a new erasure instead`, { requestId });
    if (source.body.purgedAt) throw new ConflictError(`Request ${requestId} was purged; ask for a new erasure instead`, { requestId });
    const [later] = await laterInForce(this.requireStore(), source);
    if (later) {
      const ref = laterRef(later, source.tenantId);
      throw new ConflictError(`Request ${requestId} cannot be resumed while ${ref.text} of the same subject stands; ask for a new erasure instead`, { requestId, ...ref.details });
    }
    const store = this.requireStore();
    const family = activeFamilyOf(source.type);
    const active = await store.findActive(source.subjectType, source.subjectId, family);
    // A request cancelled while running may still hold its own key; only another request's key blocks it.
    if (active && active.id !== source.id) throw this.activeConflict(active, source.tenantId);
    const now = this.clock.now().getTime();
    let queued: StoredRequest | null;
    try {
      queued = await store.update(source.id, { status: 'queued', finishedAt: null, acquireActiveFamily: family, body: { error: undefined } }, now, ['failed', 'cancelled']);
    } catch (error) {
      // Lost a race with another request of the subject: the unique active key refused this one.
      const winner = await store.findActive(source.subjectType, source.subjectId, family);
      if (winner) throw this.activeConflict(winner, source.tenantId);
      throw error;
    }
    if (!queued) throw new ConflictError(`Request ${requestId} changed status meanwhile; read it again`, { requestId });
    await this.requireAudit().tryRecord('request.retried', queued, actorSchema.parse(actor).id, { previousStatus: source.status });
    await this.queue.enqueue({ requestId: queued.id, tenantId: queued.tenantId });
    const request = toPublicRequest(queued, now);
    this.events.emit('queued', { request });
    return request;
  }

  /**
   * Cancels a queued or running request. A queued one ends at once; a running one stops before its next batch
   * (what it committed stays, and a cancelled erasure can be restored or resumed with retry()). A request whose work
   * finished before it reached that check completes. Cancelling a finished request is a ConflictError.
   */
  async cancel(input: CancelInput): Promise<PrivacyRequest> {
    const { requestId, actor } = parseInput(cancelInputSchema, input, 'cancel request');
    const stored = await this.loadRequest(requestId, actor, 'cancel');
    const store = this.requireStore();
    const now = this.clock.now().getTime();
    let updated: StoredRequest | null;
    const unowned = stored.leaseOwner === null || (stored.leaseExpiresAt ?? 0) < Date.now();
    if (stored.status === 'queued' || (stored.status === 'running' && unowned)) {
      // No live worker holds it: it ends here (fenced by the lease it had, so a worker claiming it meanwhile wins).
      const patch = { status: 'cancelled' as const, finishedAt: now, releaseActiveKey: true, releaseLease: true };
      updated = await store.update(requestId, patch, now, [stored.status], undefined, stored.leaseOwner ?? undefined);
    } else if (stored.status === 'running') {
      // Its worker sees this before its next batch and records the end.
      updated = await store.update(requestId, { status: 'cancelled' }, now, ['running']);
    } else {
      throw new ConflictError(`Request ${requestId} has already finished (status: ${stored.status})`, { requestId, status: stored.status });
    }
    if (!updated) throw new ConflictError(`Request ${requestId} changed status meanwhile; read it again`, { requestId });
    const actorId = actorSchema.parse(actor).id;
    // A request no worker held ends here; a running one's worker records its end when it stops.
    await this.requireAudit().tryRecord(updated.finishedAt ? 'request.cancelled' : 'request.cancel-asked', updated, actorId, { previousStatus: stored.status });
    return toPublicRequest(updated, now);
  }

  /**
   * Extends the legal deadline of an open request, with the reason the subject must be told: GDPR allows at most two
   * more months in all (60 days), CCPA 45 more days. Recorded on the request (deadlineExtensions) and moves dueAt.
   */
  async extendDeadline(input: ExtendDeadlineInput): Promise<PrivacyRequest> {
    const { requestId, actor, days, reason } = parseInput(extendDeadlineInputSchema, input, 'deadline extension');
    const stored = await this.loadRequest(requestId, actor, 'extendDeadline');
    if (TERMINAL_STATUSES.includes(stored.status)) {
      throw new ConflictError(`Request ${requestId} has already finished (status: ${stored.status})`, { requestId, status: stored.status });
    }
    const regulation = stored.body.regulation;
    const allowed = MAX_EXTENSION_DAYS[regulation];
    const earlier = (stored.body.deadlineExtensions ?? []).reduce((n, e) => n + e.days, 0);
    if (earlier + days > allowed) {
      throw new ValidationError(`Invalid deadline extension: ${regulation.toUpperCase()} allows at most ${allowed} more days in all (${earlier} already granted)`, [
        { path: 'days', message: `at most ${allowed - earlier}` },
      ]);
    }
    const now = this.clock.now().getTime();
    const extension = { days, reason, by: actorSchema.parse(actor).id, at: now };
    const updated = await this.requireStore().update(
      requestId,
      { dueAt: stored.dueAt + days * DAY, body: { deadlineExtensions: [...(stored.body.deadlineExtensions ?? []), extension] } },
      now,
      [stored.status],
    );
    if (!updated) throw new ConflictError(`Request ${requestId} changed meanwhile; read it again`, { requestId });
    // The days only: the reason is free text and may name the person.
    await this.requireAudit().tryRecord('deadline.extended', updated, extension.by, { days });
    return toPublicRequest(updated, now);
  }

  /**
   * Destroys an erasure's recovery data for good: the vault key first (crypto-shredding), then the hidden rows.
   * Before the recovery window ends it needs `force: true`.
   */
  async purge(input: PurgeInput): Promise<PrivacyRequest> {
    const { requestId, actor, force } = parseInput(purgeInputSchema, input, 'purge request');
    const source = await this.loadRequest(requestId, actor, 'purge');
    return this.requestPurge(source, actorSchema.parse(actor).id, force);
  }

  /** Queues a purge for every erasure whose recovery window has ended (call it from a scheduler). */
  async purgeExpired(): Promise<PrivacyRequest[]> {
    const store = this.requireStore();
    await this.requireArtifacts().sweep();
    const now = this.clock.now().getTime();
    const queued: PrivacyRequest[] = [];
    // Failed and cancelled erasures too: the batches they committed hold originals that must not outlive the window.
    for (const [type, status] of (['anonymize', 'delete'] as const).flatMap((t) => (['completed', 'failed', 'cancelled'] as const).map((st) => [t, st] as const))) {
      for await (const source of store.iterate({ type, status })) {
        if (source.body.purgedAt || source.body.restoredAt || isNoop(source) || this.recoveryDeadline(source) > now) continue;
        if (status !== 'completed' && !source.body.checkpoint) continue; // stopped before it wrote anything: nothing to destroy
        try {
          queued.push(await this.requestPurge(source, SYSTEM_ACTOR_ID, false));
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error; // another erasure of the subject is active: next run
        }
      }
    }
    return queued;
  }

  /**
   * Host-level access for the read calls, without an actor: `engine.getRequest(id, engine.system)`. Use it only in
   * code that is not serving a user (schedulers, workers); calls on behalf of someone pass their actor.
   */
  readonly system: SystemAccess = SYSTEM_ACCESS;

  /**
   * Reads a request, for an actor allowed to read it ('read'), or for host code with `engine.system`. Without either
   * it is a ValidationError: a read on nobody's behalf must say so.
   */
  async getRequest(requestId: string, actor: Actor | SystemAccess): Promise<PrivacyRequest> {
    const reader = requireReader(actor, 'getRequest(requestId, actor)');
    const stored = await this.loadRequest(requestId, isSystem(reader) ? undefined : reader, 'read');
    return toPublicRequest(stored, this.clock.now().getTime());
  }

  /** Lists requests, newest first (the first page of listRequestsPage). */
  async listRequests(filter: RequestFilter): Promise<PrivacyRequest[]> {
    return (await this.listRequestsPage(filter)).requests;
  }

  /**
   * Lists requests, newest first, a page at a time (`limit`, default 100; pass `nextCursor` back as `cursor`), by
   * subject, tenant, type, status, or `overdue` (open past their deadline). `actor` is required: only the requests it
   * may read are listed, and only its own tenant's unless it names one; `engine.system` lists every request.
   */
  async listRequestsPage(filter: RequestFilter): Promise<{ requests: PrivacyRequest[]; nextCursor?: string }> {
    requireReader((filter as { actor?: unknown } | undefined)?.actor, 'listRequests({ actor, ... })');
    const f = parseInput(requestFilterSchema, filter, 'request filter');
    const actor = isSystem(f.actor) ? undefined : actorSchema.parse(f.actor);
    const limit = f.limit ?? 100;
    const now = this.clock.now().getTime();
    // One row more than the page: it says whether there is a next page.
    const fetched = await this.requireStore().list({
      subjectType: this.requireMap().subject.name,
      subjectId: f.subjectId === undefined ? undefined : this.requireLocator().canonicalId(f.subjectId),
      tenantId: f.tenantId ?? actor?.tenantId,
      type: f.type,
      status: f.status,
      limit: limit + 1,
      overdueAt: f.overdue ? now : undefined,
      before: f.cursor === undefined ? undefined : decodeCursor(f.cursor),
    });
    const rows = fetched.slice(0, limit);
    const readable: StoredRequest[] = [];
    for (const row of rows) {
      if (!actor) {
        readable.push(row);
        continue;
      }
      const subject = { type: row.subjectType, id: row.subjectId, tenantId: row.tenantId };
      try {
        await this.authorize('read', actor, subject, () => new NotFoundError(`Request ${row.id} was not found`));
        readable.push(row);
      } catch (error) {
        if (!(error instanceof NotFoundError) && (error as PrivacyEngineError).code !== 'FORBIDDEN') throw error;
      }
    }
    const last = rows[rows.length - 1];
    return {
      requests: readable.map((r) => toPublicRequest(r, now)),
      ...(fetched.length > limit && last ? { nextCursor: encodeCursor(last) } : {}),
    };
  }

  /** Resolves when the request has finished (completed, failed or cancelled); `actor` is authorized as 'read' (or `engine.system`). */
  async waitForRequest(requestId: string, options: { timeoutMs?: number; actor: Actor | SystemAccess }): Promise<PrivacyRequest> {
    requireReader(options?.actor, 'waitForRequest(requestId, { actor })');
    const { timeoutMs, actor } = parseInput(waitSchema, options, 'wait options');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const request = await this.getRequest(requestId, actor);
      // A request cancelled while running has ended once its worker recorded the end (finishedAt).
      if (TERMINAL_STATUSES.includes(request.status) && (request.status !== 'cancelled' || request.finishedAt)) return request;
      if (Date.now() > deadline) throw new ConflictError(`Request ${requestId} did not finish within ${timeoutMs} ms`, { requestId, status: request.status });
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /**
   * Opens a completed export for in-process use: the decrypted ZIP, streamed. The same checks and audit entries as
   * openDownload; an archive past its expiry fails with LinkExpiredError, one deleted by an erasure with ForbiddenError.
   * A stored file that fails authentication makes the stream fail with IntegrityError.
   */
  async download(input: { requestId: string; actor: Actor }): Promise<DownloadResult> {
    const { requestId, actor } = parseInput(requestRefSchema, input, 'download request');
    const parsedActor = actorSchema.parse(actor);
    const stored = await this.loadRequest(requestId, undefined, 'download');
    // Authorized first: another tenant's actor learns nothing about the request, not even its type.
    await this.authorizeDownload(stored, parsedActor, () => new NotFoundError(`Request ${requestId} was not found`, { requestId }));
    if (stored.type !== 'export') throw new ValidationError(`Request ${requestId} is not an export`, [{ path: 'requestId', message: 'not an export' }]);
    return this.requireArtifacts().serve(stored, parsedActor.id, 'download');
  }

  /**
   * A signed link to a completed export's archive: `token` (and `url` with `downloadLinkBaseUrl`), valid until
   * `expiresAt` (policy.downloadExpiryDays from now, or `expiresInSeconds`). Used once the archive expired or was
   * deleted, it is refused.
   */
  async createDownloadLink(input: DownloadLinkInput): Promise<DownloadLink> {
    const { requestId, actor, expiresInSeconds } = parseInput(downloadLinkInputSchema, input, 'download link request');
    const stored = await this.loadRequest(requestId, actor, 'download');
    if (stored.type !== 'export') throw new ValidationError(`Request ${requestId} is not an export`, [{ path: 'requestId', message: 'not an export' }]);
    return this.requireArtifacts().createLink(stored, actorSchema.parse(actor).id, expiresInSeconds);
  }

  /**
   * Streams the decrypted ZIP a link names, to an authorized admin of its tenant (or the subject of a self-service
   * export). Expired: LinkExpiredError. Tampered, another tenant's, another export's, or replayed after the archive
   * expired or was deleted: ForbiddenError. Every outcome is audited.
   */
  async openDownload(input: OpenDownloadInput): Promise<DownloadResult> {
    const { token, actor } = parseInput(openDownloadInputSchema, input, 'download');
    const parsedActor = actorSchema.parse(actor);
    const artifacts = this.requireArtifacts();
    const { request, tenantId, artifact } = await artifacts.requestOfToken(token, parsedActor.id);
    await this.authorizeDownload(request, parsedActor, () => new ForbiddenError('This download link is not valid'));
    return artifacts.serve(request, parsedActor.id, 'link', { tenantId, artifact });
  }

  /**
   * Scheduled housekeeping: deletes every export archive past its expiry (audited), then queues the purges
   * purgeExpired queues. Call it from a scheduler, daily or more often.
   */
  async sweep(): Promise<{ archivesDeleted: number; purgesQueued: PrivacyRequest[] }> {
    const archivesDeleted = await this.requireArtifacts().sweep();
    return { archivesDeleted, purgesQueued: await this.purgeExpired() };
  }

  /** The hash-chained audit trail: verify, prune (retention), export (JSON or CSV). Available once started. */
  get audit(): EngineAudit {
    return this.requireAudit();
  }

  // ---- internals -------------------------------------------------------------------------------

  private requireMap(): ResolvedDataMap {
    if (!this.map) throw new ConflictError('The engine is not started: call await engine.start() first');
    return this.map;
  }

  private requireAudit(): AuditLog {
    this.requireMap();
    return this.auditLog!;
  }

  private requireArtifacts(): Artifacts {
    this.requireMap();
    return this.artifacts!;
  }

  /** The audit trail (the option, or a table with the engine's prefix) and the archive service that writes to it. */
  private async startAudit(store: RequestStore, table: string): Promise<void> {
    let port: AuditPort;
    if (this.options.audit) port = this.options.audit;
    else {
      const adapter = createTypeormAudit({ dataSource: this.options.dataSource, table });
      await adapter.ensureTables();
      port = adapter;
    }
    this.auditLog = new AuditLog(port, this.clock, await this.keys.deriveKey('audit-subject'), this.logger, SYSTEM_ACTOR_ID);
    this.artifacts = new Artifacts({
      store,
      storage: this.storage,
      keys: this.keys,
      clock: this.clock,
      audit: this.auditLog,
      linkKey: await this.keys.deriveKey('link-signing'),
      downloadExpiryMs: this.options.policy.downloadExpiryDays * DAY,
      linkBaseUrl: this.options.downloadLinkBaseUrl,
      systemActorId: SYSTEM_ACTOR_ID,
    });
  }

  /** The download policy check; a refusal is audited before it is thrown. */
  private async authorizeDownload(stored: StoredRequest, actor: z.output<typeof actorSchema>, refusal: () => PrivacyEngineError): Promise<void> {
    try {
      await this.authorize('download', actor, { type: stored.subjectType, id: stored.subjectId, tenantId: stored.tenantId }, refusal);
    } catch (error) {
      await this.requireAudit().tryRecord('download.refused', stored, actor.id, { reason: 'not-authorized' });
      throw error;
    }
  }

  private requireStore(): RequestStore {
    this.requireMap();
    return this.store!;
  }

  private async loadRequest(requestId: string, actor: Actor | undefined, action: Action): Promise<StoredRequest> {
    parseInput(requestIdSchema, requestId, 'request id');
    const stored = await this.requireStore().get(requestId);
    if (!stored) throw new NotFoundError(`Request ${requestId} was not found`, { requestId });
    if (actor !== undefined) {
      const parsedActor = parseInput(actorSchema, actor, 'actor');
      await this.authorize(action, parsedActor, { type: stored.subjectType, id: stored.subjectId, tenantId: stored.tenantId }, () => new NotFoundError(`Request ${requestId} was not found`, { requestId }));
    }
    return stored;
  }

  private requireLocator(): SubjectLocator {
    this.requireMap();
    return this.locator!;
  }

  /** Runs the policy with the actor's own subject id in canonical form, so "007" is subject 7 there too. */
  private async authorize(action: Action, actor: z.output<typeof actorSchema>, subject: { type: string; id: string; tenantId: string | null }, notFound: () => PrivacyEngineError): Promise<void> {
    const canonicalActor = actor.subjectId === undefined ? actor : { ...actor, subjectId: this.requireLocator().canonicalOrRaw(actor.subjectId) };
    await assertAllowed(this.authorizeAction, { action, actor: canonicalActor, subject }, notFound);
  }

  /** Finds the subject inside the tenant and checks the actor may act on it; another tenant's subject is "not found". */
  private async locateSubject(rawId: string | number, tenantId: string | undefined, actor: z.output<typeof actorSchema>, action: Action): Promise<LocatedSubject> {
    const locator = this.requireLocator();
    const located = await locator.locate(rawId, tenantId);
    await this.authorize(action, actor, { type: this.requireMap().subject.name, id: located.publicId, tenantId: located.tenantId }, () => locator.notFound(located.publicId));
    return located;
  }

  /** A restore filter naming a category or entity the data map does not have would "complete" having restored nothing. */
  private assertKnownFilters(categories: string[] | undefined, records: Array<{ entity: string }> | undefined): void {
    const map = this.requireMap();
    const issues: Array<{ path: string; message: string }> = [];
    const knownCategories = new Set(map.categories.map((c) => c.name));
    const knownEntities = new Set(map.entities.map((e) => e.name));
    (categories ?? []).forEach((c, i) => {
      if (!knownCategories.has(c)) issues.push({ path: `categories.${i}`, message: `unknown category '${c}'` });
    });
    (records ?? []).forEach((r, i) => {
      if (!knownEntities.has(r.entity)) issues.push({ path: `records.${i}.entity`, message: `unknown entity '${r.entity}'` });
    });
    if (issues.length) throw new ValidationError(`Invalid restore request: ${issues.map((i) => i.message).join('; ')}`, issues);
  }

  private async createRequest(type: RequestType, subject: LocatedSubject, requestedBy: string, regulation: Regulation, params?: Record<string, unknown>): Promise<PrivacyRequest> {
    const store = this.requireStore();
    const subjectType = this.requireMap().subject.name;
    // Exports run side by side with other work; erasure-family requests of one subject run one at a time.
    const family = activeFamilyOf(type);
    const conflict = (existing: StoredRequest) => this.activeConflict(existing, subject.tenantId, type);
    const existing = await store.findActive(subjectType, subject.publicId, family);
    if (existing) throw conflict(existing);
    const now = this.clock.now().getTime();
    let stored: StoredRequest;
    try {
      stored = await store.insert({
        type,
        subjectType,
        subjectId: subject.publicId,
        tenantId: subject.tenantId,
        requestedBy,
        regulation,
        now,
        dueAt: now + this.options.policy.deadlineDays[regulation] * DAY,
        params,
        activeFamily: family,
      });
    } catch (error) {
      // Lost a race with an identical call: the unique active key refused the second row.
      const winner = await store.findActive(subjectType, subject.publicId, family);
      if (winner) throw conflict(winner);
      throw error;
    }
    const forced = type === 'purge' ? { forced: Boolean(params?.force) } : {};
    await this.requireAudit().tryRecord('request.submitted', stored, requestedBy, { regulation, ...forced, ...(typeof params?.sourceRequestId === 'string' ? { sourceRequestId: params.sourceRequestId } : {}) });
    await this.queue.enqueue({ requestId: stored.id, tenantId: stored.tenantId });
    const request = toPublicRequest(stored, now);
    this.events.emit('queued', { request });
    return request;
  }

  private async requestErasure(type: 'anonymize' | 'delete', input: ErasureInput): Promise<PrivacyRequest> {
    const parsed = parseInput(subjectRequestSchema, input, `${type} request`);
    const actor = actorSchema.parse(parsed.actor);
    const subject = await this.locateSubject(parsed.subjectId, parsed.tenantId ?? actor.tenantId, actor, type);
    return this.createRequest(type, subject, actor.id, parsed.regulation);
  }

  private async requestPurge(source: StoredRequest, requestedBy: string, force: boolean): Promise<PrivacyRequest> {
    this.assertErasure(source);
    if (source.body.purgedAt) throw new ConflictError(`Request ${source.id} has already been purged`, { requestId: source.id });
    if (source.body.restoredAt) throw new ConflictError(`Request ${source.id} was restored; there is nothing to purge`, { requestId: source.id });
    if (erasedRows(source, 'hidden') > 0) {
      // Rows a later erasure removed may reference rows this one hid: removing those now would leave the later
      // erasure unable to put its rows back. The later one is purged (or restored) first.
      const blocking = (await laterInForce(this.requireStore(), source)).find((later) => !later.body.purgedAt && erasedRows(later, 'removed') > 0);
      if (blocking) {
        const ref = laterRef(blocking, source.tenantId);
        throw new ConflictError(`Request ${source.id} cannot be purged while ${ref.text} of the same subject stands: purge or restore it first`, { requestId: source.id, ...ref.details });
      }
    }
    const deadline = this.recoveryDeadline(source);
    const early = this.clock.now().getTime() < deadline;
    if (early && !force) {
      throw new ConflictError(`The recovery window of request ${source.id} is open until ${new Date(deadline).toISOString()}; pass force: true to purge now`, {
        requestId: source.id,
      });
    }
    return this.createRequest('purge', this.requireLocator().subjectOf(source), requestedBy, source.body.regulation, { sourceRequestId: source.id, force: early });
  }

  /** `tenantId`: the tenant the refused request is in. Another tenant's request (a subject in several) is not named. */
  private activeConflict(existing: StoredRequest, tenantId: string | null, type: RequestType = existing.type): ConflictError {
    const subjectType = this.requireMap().subject.name.toLowerCase();
    return new ConflictError(type === 'export' ? `Already requested for this ${subjectType}` : `Another ${existing.type} request is active for this ${subjectType}`, {
      ...(inTenant(existing, tenantId) ? { existingRequestId: existing.id } : {}),
      status: existing.status,
    });
  }

  /** Restore and purge act on a finished erasure: completed, or failed / cancelled part way (its committed batches are in the vault). */
  private assertErasure(source: StoredRequest): void {
    if (!isErasure(source)) {
      throw new ValidationError(`Request ${source.id} is not an anonymize or delete request`, [{ path: 'requestId', message: 'not an erasure' }]);
    }
    if (source.status === 'queued' || source.status === 'running') {
      throw new ConflictError(`Request ${source.id} has not finished (status: ${source.status})`, { requestId: source.id, status: source.status });
    }
    if (isNoop(source)) throw new ConflictError(`Request ${source.id} changed nothing (the subject was already erased); act on the earlier request`, { requestId: source.id });
  }

  /** Erasures of a subject are undone last in, first out: every later one must have been fully restored. */
  private async assertNewestInForce(source: StoredRequest): Promise<void> {
    const later = await laterInForce(this.requireStore(), source);
    const purged = later.find((r) => r.body.purgedAt);
    if (purged) {
      const ref = laterRef(purged, source.tenantId);
      throw new WindowClosedError(`Request ${source.id} cannot be restored: ${ref.text} of the same subject was purged and cannot be undone`, { requestId: source.id, ...ref.details });
    }
    if (later.length) {
      const ref = laterRef(later[0], source.tenantId);
      throw new ConflictError(`Request ${source.id} cannot be restored while ${ref.text} of the same subject stands; restore that one first`, { requestId: source.id, ...ref.details });
    }
  }

  private recoveryDeadline(source: StoredRequest): number {
    return (source.finishedAt ?? source.createdAt) + this.options.policy.recoveryWindowDays * DAY;
  }
}
