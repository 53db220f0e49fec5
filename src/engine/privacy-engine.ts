import type { Readable } from 'node:stream';
import { z } from 'zod';
import { createInProcessQueue } from '../adapters/in-process-queue.js';
import { createLocalStorage } from '../adapters/local-storage.js';
import { createSecretKeys } from '../adapters/secret-keys.js';
import { CancelledError, ConflictError, ForbiddenError, LinkExpiredError, NotFoundError, PrivacyEngineError, ValidationError, WindowClosedError } from '../errors.js';
import { buildDataMap } from '../metadata/builder.js';
import { type DataMapJson, type ResolvedDataMap, dataMapToJson } from '../metadata/data-map.js';
import type { CategoryDefinition, DataCategoryProvider, ProviderRegistration } from '../metadata/declarations.js';
import { isNumericColumn } from '../metadata/links.js';
import { SqlParams, dialectOf, quoteIdentifier, quoteTablePath } from '../metadata/sql.js';
import { anonymizePlan } from '../operations/anonymize.js';
import { deletePlan } from '../operations/delete.js';
import { runErasure } from '../operations/erase.js';
import { runExport } from '../operations/export.js';
import type { OperationContext } from '../operations/operation-context.js';
import { runPurge } from '../operations/purge.js';
import { type RestoreParams, runRestore } from '../operations/restore.js';
import { Vault } from '../vault/vault.js';
import type { ClockPort } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { KeysPort } from '../ports/keys.js';
import type { QueueJob, QueuePort } from '../ports/queue.js';
import type { StoragePort } from '../ports/storage.js';
import { engineTableNames, ensureEngineTables } from './engine-tables.js';
import { type Logger, consoleLogger } from './logger.js';
import { type PrivacyEngineOptions, type ResolvedEngineOptions, engineOptionsSchema, parseInput } from './options.js';
import { type Action, type Actor, type Authorize, actorSchema, defaultAuthorize } from './policy.js';
import { type PrivacyRequest, type Regulation, type RequestStatus, type RequestType, TERMINAL_STATUSES } from './request.js';
import { RequestStore, type StoredRequest, toPublicRequest } from './request-store.js';
import { SubjectStates } from './subject-states.js';

const DAY = 24 * 60 * 60 * 1000;

/** An erasure that found its subject already erased and changed nothing. */
function isNoop(request: StoredRequest): boolean {
  return Boolean((request.body.outcome as { receipt?: { alreadyErasedBy?: string } } | undefined)?.receipt?.alreadyErasedBy);
}

const subjectIdSchema = z.union([z.string().min(1).max(191), z.number().int()]);
const exportInputSchema = z.object({
  subjectId: subjectIdSchema,
  actor: actorSchema,
  tenantId: z.string().min(1).max(191).optional(),
  regulation: z.enum(['gdpr', 'ccpa']).default('gdpr'),
});
const requestRefSchema = z.object({ requestId: z.string().min(1).max(64), actor: actorSchema });
const erasureInputSchema = z.object({
  subjectId: subjectIdSchema,
  actor: actorSchema,
  tenantId: z.string().min(1).max(191).optional(),
  regulation: z.enum(['gdpr', 'ccpa']).default('gdpr'),
});
const restoreInputSchema = requestRefSchema.extend({
  categories: z.array(z.string().min(1)).min(1).optional(),
  records: z.array(z.object({ entity: z.string().min(1), id: z.union([z.string().min(1), z.number()]).transform(String) })).min(1).optional(),
});
const purgeInputSchema = requestRefSchema.extend({ force: z.boolean().default(false) });

/** The actor the engine uses for work it starts itself (purgeExpired). */
const SYSTEM_ACTOR_ID = 'privacy-engine:system';
const waitSchema = z.object({ timeoutMs: z.number().int().positive().default(60_000) }).prefault({});

export type ExportInput = z.input<typeof exportInputSchema>;
export type ErasureInput = z.input<typeof erasureInputSchema>;
export type RestoreInput = z.input<typeof restoreInputSchema>;
export type PurgeInput = z.input<typeof purgeInputSchema>;

export interface DownloadResult {
  stream: Readable;
  fileName: string;
  contentType: 'application/zip';
  size: number;
}

interface LocatedSubject {
  /** The id as the database wants it (number for numeric keys). */
  id: string | number;
  publicId: string;
  tenantId: string | null;
  row: Record<string, unknown>;
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
  private subjectStates?: SubjectStates;
  private vault?: Vault;
  private starting?: Promise<void>;

  constructor(options: PrivacyEngineOptions) {
    this.options = parseInput(engineOptionsSchema, options, 'PrivacyEngine options');
    this.queue = this.options.queue ?? createInProcessQueue();
    this.storage = this.options.storage ?? createLocalStorage();
    this.keys = this.options.keys ?? createSecretKeys({ secret: this.options.secret! });
    this.clock = this.options.clock ?? systemClock;
    this.logger = this.options.logger ?? consoleLogger;
    this.authorizeAction = this.options.authorize ?? defaultAuthorize;
  }

  /** Builds and validates the data map, creates the engine's tables, starts the queue and resumes unfinished requests. */
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
      providers: this.extraProviders,
      redaction: { hmacKey },
    });
    for (const warning of this.map.warnings) this.logger.warn(warning.message, { code: warning.code, suggestion: warning.suggestion });
    const tables = engineTableNames(this.options.tablePrefix);
    await ensureEngineTables(dataSource, tables);
    this.store = new RequestStore(dataSource, tables.requests);
    this.subjectStates = new SubjectStates(dataSource, tables.subjects);
    this.vault = new Vault(dataSource, tables.vault, this.keys);
    await this.queue.start((job) => this.runJob(job));
    for (const request of await this.store.listUnfinished()) {
      await this.queue.enqueue({ requestId: request.id, tenantId: request.tenantId });
    }
  }

  /** Waits for running requests to finish their current work and releases the queue and storage. */
  async stop(): Promise<void> {
    await this.queue.close();
    await this.storage.close?.();
    this.starting = undefined;
  }

  /** Registers data held outside TypeORM. Call before start(). */
  registerProvider(name: string, category: string | CategoryDefinition, provider: DataCategoryProvider): void {
    if (this.starting) throw new ConflictError('registerProvider() must be called before start()');
    parseInput(z.string().min(1).max(128), name, 'provider name');
    this.extraProviders.push({ name, category, provider });
  }

  /** The resolved data map as plain JSON: entities, fields, categories, links, redaction strategies, warnings. */
  dataMap(): DataMapJson {
    return dataMapToJson(this.requireMap());
  }

  /**
   * Asks for an export of everything held about one subject (GDPR Art. 15/20, CCPA right to know).
   * Returns the queued request at once; a second active export for the same subject is refused.
   */
  async export(input: ExportInput): Promise<PrivacyRequest> {
    const parsed = parseInput(exportInputSchema, input, 'export request');
    const actor = actorSchema.parse(parsed.actor);
    const subject = await this.locateSubject(parsed.subjectId, parsed.tenantId ?? actor.tenantId, actor, 'export');
    return this.createRequest('export', subject, actor.id, parsed.regulation);
  }

  /**
   * Anonymizes the subject (GDPR Art. 17 by anonymization): every @Redact field of the subject and of every
   * entity not retained is rewritten in place; rows and history stay. Originals go to the encrypted vault
   * for the recovery window. Running it again on an erased subject is a no-op.
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

  /** Puts back everything (or chosen categories / records) of an anonymize or delete request, inside its recovery window. */
  async restore(input: RestoreInput): Promise<PrivacyRequest> {
    const { requestId, actor, categories, records } = parseInput(restoreInputSchema, input, 'restore request');
    const source = await this.loadRequest(requestId, actor, 'restore');
    this.assertErasure(source);
    if (source.body.purgedAt) throw new WindowClosedError(`Request ${requestId} was purged; its data cannot be restored`, { requestId });
    if (source.body.restoredAt) throw new ConflictError(`Request ${requestId} has already been restored`, { requestId });
    const deadline = this.recoveryDeadline(source);
    if (this.clock.now().getTime() >= deadline) {
      throw new WindowClosedError(`The recovery window of request ${requestId} ended on ${new Date(deadline).toISOString()}; its data can no longer be restored`, { requestId });
    }
    const params: RestoreParams = { sourceRequestId: source.id, ...(categories ? { categories } : {}), ...(records ? { records } : {}) };
    return this.createRequest('restore', this.subjectOf(source), actorSchema.parse(actor).id, source.body.regulation, params as unknown as Record<string, unknown>);
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
    const now = this.clock.now().getTime();
    const queued: PrivacyRequest[] = [];
    for (const type of ['anonymize', 'delete'] as const) {
      for await (const source of store.iterate({ type, status: 'completed' })) {
        if (source.body.purgedAt || source.body.restoredAt || isNoop(source) || this.recoveryDeadline(source) > now) continue;
        try {
          queued.push(await this.requestPurge(source, SYSTEM_ACTOR_ID, false));
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error; // another erasure of the subject is active: next run
        }
      }
    }
    return queued;
  }

  /** Reads a request. With an actor, the actor must be allowed to read it. */
  async getRequest(requestId: string, actor?: Actor): Promise<PrivacyRequest> {
    const stored = await this.loadRequest(requestId, actor, 'read');
    return toPublicRequest(stored, this.clock.now().getTime());
  }

  /** Lists requests, newest first, optionally for one subject, tenant, type or status. */
  async listRequests(filter: { subjectId?: string | number; tenantId?: string; type?: RequestType; status?: RequestStatus; limit?: number } = {}): Promise<PrivacyRequest[]> {
    const f = parseInput(
      z.object({
        subjectId: subjectIdSchema.optional(),
        tenantId: z.string().optional(),
        type: z.enum(['export', 'anonymize', 'delete', 'restore', 'purge']).optional(),
        status: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']).optional(),
        limit: z.number().int().min(1).max(1000).optional(),
      }),
      filter,
      'request filter',
    );
    const rows = await this.requireStore().list({
      subjectType: this.requireMap().subject.name,
      subjectId: f.subjectId === undefined ? undefined : String(f.subjectId),
      tenantId: f.tenantId,
      type: f.type,
      status: f.status,
      limit: f.limit,
    });
    const now = this.clock.now().getTime();
    return rows.map((r) => toPublicRequest(r, now));
  }

  /** Resolves when the request has finished (completed, failed or cancelled). */
  async waitForRequest(requestId: string, options?: { timeoutMs?: number }): Promise<PrivacyRequest> {
    const { timeoutMs } = parseInput(waitSchema, options, 'wait options');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const request = await this.getRequest(requestId);
      if (TERMINAL_STATUSES.includes(request.status)) return request;
      if (Date.now() > deadline) throw new ConflictError(`Request ${requestId} did not finish within ${timeoutMs} ms`, { requestId, status: request.status });
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Opens a completed export for download; refused after the download expiry. */
  async download(input: { requestId: string; actor: Actor }): Promise<DownloadResult> {
    const { requestId, actor } = parseInput(requestRefSchema, input, 'download request');
    const stored = await this.loadRequest(requestId, actor, 'download');
    if (stored.type !== 'export') throw new ValidationError(`Request ${requestId} is not an export`, [{ path: 'requestId', message: 'not an export' }]);
    const outcome = stored.body.outcome as { artifact?: { key: string; fileName: string; size: number; expiresAt: string } } | undefined;
    if (stored.status !== 'completed' || !outcome?.artifact) {
      throw new ConflictError(`Export ${requestId} is not ready (status: ${stored.status})`, { status: stored.status });
    }
    if (this.clock.now().getTime() >= Date.parse(outcome.artifact.expiresAt)) throw new LinkExpiredError();
    const stream = await this.storage.get(outcome.artifact.key);
    return { stream, fileName: outcome.artifact.fileName, contentType: 'application/zip', size: outcome.artifact.size };
  }

  // ---- internals -------------------------------------------------------------------------------

  private requireMap(): ResolvedDataMap {
    if (!this.map) throw new ConflictError('The engine is not started: call await engine.start() first');
    return this.map;
  }

  private requireStore(): RequestStore {
    this.requireMap();
    return this.store!;
  }

  private async loadRequest(requestId: string, actor: Actor | undefined, action: Action): Promise<StoredRequest> {
    parseInput(z.string().min(1).max(64), requestId, 'request id');
    const stored = await this.requireStore().get(requestId);
    if (!stored) throw new NotFoundError(`Request ${requestId} was not found`, { requestId });
    if (actor !== undefined) {
      const parsedActor = parseInput(actorSchema, actor, 'actor');
      await this.authorize(action, parsedActor, { type: stored.subjectType, id: stored.subjectId, tenantId: stored.tenantId }, () => new NotFoundError(`Request ${requestId} was not found`, { requestId }));
    }
    return stored;
  }

  private async authorize(
    action: Action,
    actor: z.output<typeof actorSchema>,
    subject: { type: string; id: string; tenantId: string | null },
    notFound: () => PrivacyEngineError,
  ): Promise<void> {
    if (await this.authorizeAction({ action, actor, subject })) return;
    // Another tenant's subjects do not exist for this actor; within the tenant the refusal is explicit.
    if (subject.tenantId !== null && actor.tenantId !== subject.tenantId) throw notFound();
    throw new ForbiddenError(`Actor ${actor.id} may not ${action} this ${subject.type.toLowerCase()}`, { action, actorId: actor.id });
  }

  /** Finds the subject's row inside the tenant; any other tenant's subject is "not found". */
  private async locateSubject(
    rawId: string | number,
    tenantId: string | undefined,
    actor: z.output<typeof actorSchema> | null,
    action: Action,
  ): Promise<LocatedSubject> {
    const map = this.requireMap();
    const { dataSource } = this.options;
    const subject = map.subject;
    const pk = subject.primaryKey[0];
    const numeric = isNumericColumn(pk);
    const id = numeric ? Number(rawId) : String(rawId);
    if (numeric && !Number.isSafeInteger(id)) {
      throw new ValidationError(`subjectId must be an integer for ${subject.name}`, [{ path: 'subjectId', message: 'not an integer' }]);
    }
    if (subject.tenantColumn && tenantId === undefined) {
      throw new ValidationError('tenantId is required: give it in the call or on the actor', [{ path: 'tenantId', message: 'required' }]);
    }
    const notFound = () => new NotFoundError(`${subject.name} ${String(rawId)} was not found`, { subjectType: subject.name, subjectId: String(rawId) });
    const params = new SqlParams(dialectOf(dataSource));
    const q = (n: string) => quoteIdentifier(dataSource, n);
    let where = `s.${q(pk.databaseName)} = ${params.add(id)}`;
    if (subject.tenantColumn) where += ` AND s.${q(subject.tenantColumn.databaseName)} = ${params.add(tenantId)}`;
    const rows = await dataSource.query(`SELECT * FROM ${quoteTablePath(dataSource, subject.metadata.tablePath)} s WHERE ${where}`, params.values);
    if (rows.length === 0) throw notFound();
    const located: LocatedSubject = { id, publicId: String(rawId), tenantId: subject.tenantColumn ? String(tenantId) : null, row: rows[0] };
    if (actor) await this.authorize(action, actor, { type: subject.name, id: located.publicId, tenantId: located.tenantId }, notFound);
    return located;
  }

  private async createRequest(type: RequestType, subject: LocatedSubject, requestedBy: string, regulation: Regulation, params?: Record<string, unknown>): Promise<PrivacyRequest> {
    const store = this.requireStore();
    const subjectType = this.requireMap().subject.name;
    // Exports run side by side with other work; erasure-family requests of one subject run one at a time.
    const family = type === 'export' ? 'export' : 'erasure';
    const activeKey = `${family}|${subjectType}|${subject.tenantId ?? ''}|${subject.publicId}`;
    const conflict = (existing: StoredRequest) =>
      new ConflictError(
        family === 'export' ? `Already requested for this ${subjectType.toLowerCase()}` : `Another ${existing.type} request is active for this ${subjectType.toLowerCase()}`,
        { existingRequestId: existing.id, status: existing.status },
      );
    const existing = await store.findByActiveKey(activeKey);
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
        activeKey,
      });
    } catch (error) {
      // Lost a race with an identical call: the unique active key refused the second row.
      const winner = await store.findByActiveKey(activeKey);
      if (winner) throw conflict(winner);
      throw error;
    }
    await this.queue.enqueue({ requestId: stored.id, tenantId: stored.tenantId });
    return toPublicRequest(stored, now);
  }

  private async requestErasure(type: 'anonymize' | 'delete', input: ErasureInput): Promise<PrivacyRequest> {
    const parsed = parseInput(erasureInputSchema, input, `${type} request`);
    const actor = actorSchema.parse(parsed.actor);
    const subject = await this.locateSubject(parsed.subjectId, parsed.tenantId ?? actor.tenantId, actor, type);
    return this.createRequest(type, subject, actor.id, parsed.regulation);
  }

  private async requestPurge(source: StoredRequest, requestedBy: string, force: boolean): Promise<PrivacyRequest> {
    this.assertErasure(source);
    if (source.body.purgedAt) throw new ConflictError(`Request ${source.id} has already been purged`, { requestId: source.id });
    if (source.body.restoredAt) throw new ConflictError(`Request ${source.id} was restored; there is nothing to purge`, { requestId: source.id });
    const deadline = this.recoveryDeadline(source);
    const early = this.clock.now().getTime() < deadline;
    if (early && !force) {
      throw new ConflictError(`The recovery window of request ${source.id} is open until ${new Date(deadline).toISOString()}; pass force: true to purge now`, {
        requestId: source.id,
      });
    }
    return this.createRequest('purge', this.subjectOf(source), requestedBy, source.body.regulation, { sourceRequestId: source.id, force: early });
  }

  private assertErasure(source: StoredRequest): void {
    if (source.type !== 'anonymize' && source.type !== 'delete') {
      throw new ValidationError(`Request ${source.id} is not an anonymize or delete request`, [{ path: 'requestId', message: 'not an erasure' }]);
    }
    if (source.status !== 'completed') throw new ConflictError(`Request ${source.id} has not completed (status: ${source.status})`, { status: source.status });
    if (isNoop(source)) throw new ConflictError(`Request ${source.id} changed nothing (the subject was already erased); act on the earlier request`, { requestId: source.id });
  }

  private recoveryDeadline(source: StoredRequest): number {
    return (source.finishedAt ?? source.createdAt) + this.options.policy.recoveryWindowDays * DAY;
  }

  private subjectOf(source: StoredRequest): LocatedSubject {
    const numeric = isNumericColumn(this.requireMap().subject.primaryKey[0]);
    return { id: numeric ? Number(source.subjectId) : source.subjectId, publicId: source.subjectId, tenantId: source.tenantId, row: {} };
  }

  /** Reads the request's status at most twice a second, between batches; throws once it was cancelled. */
  private cancellationCheck(requestId: string): () => Promise<void> {
    let last = 0;
    return async () => {
      const t = Date.now();
      if (t - last < 500) return;
      last = t;
      const latest = await this.requireStore().get(requestId);
      if (latest?.status === 'cancelled') throw new CancelledError(`Request ${requestId} was cancelled`);
    };
  }

  private operationContext(request: StoredRequest): OperationContext {
    return {
      dataSource: this.options.dataSource,
      map: this.requireMap(),
      vault: this.vault!,
      store: this.requireStore(),
      subjectStates: this.subjectStates!,
      request,
      batchSize: this.options.policy.batchSize,
      recoveryWindowMs: this.options.policy.recoveryWindowDays * DAY,
      now: () => this.clock.now(),
      checkCancelled: this.cancellationCheck(request.id),
    };
  }

  /** Runs one queued request to its end; every outcome, failure included, is written to the request row. */
  private async runJob(job: QueueJob): Promise<void> {
    const store = this.requireStore();
    const now = () => this.clock.now().getTime();
    const current = await store.get(job.requestId);
    if (!current || TERMINAL_STATUSES.includes(current.status)) return;
    const running = await store.update(job.requestId, { status: 'running', startedAt: current.startedAt ?? now() }, now(), ['queued', 'running']);
    if (!running) return;
    try {
      const outcome = await this.runOperation(running);
      await store.update(running.id, { status: 'completed', finishedAt: now(), releaseActiveKey: true, body: { outcome } }, now(), ['running']);
    } catch (error) {
      const cancelled = error instanceof CancelledError;
      const publicError =
        error instanceof PrivacyEngineError ? { code: error.code, message: error.message } : { code: 'INTERNAL', message: 'The request failed unexpectedly; see the server logs' };
      // Log the error's kind, never its message: database errors can echo the values they refused.
      this.logger.error(`${running.type} request failed`, {
        requestId: running.id,
        error: error instanceof Error ? error.name : typeof error,
        code: (error as { code?: unknown })?.code,
      });
      await store.update(
        running.id,
        { status: cancelled ? 'cancelled' : 'failed', finishedAt: now(), releaseActiveKey: true, body: cancelled ? {} : { error: publicError } },
        now(),
        ['running'],
      );
    }
  }

  private async runOperation(request: StoredRequest): Promise<Record<string, unknown>> {
    const result = await this.dispatch(request);
    return result as unknown as Record<string, unknown>;
  }

  private async dispatch(request: StoredRequest): Promise<object> {
    const map = this.requireMap();
    switch (request.type) {
      case 'export':
        return this.runExportRequest(request, await this.locateSubject(request.subjectId, request.tenantId ?? undefined, null, 'export'));
      case 'anonymize':
      case 'delete': {
        const state = await this.subjectStates!.get(SubjectStates.key(map.subject.name, request.tenantId, request.subjectId));
        const already = state && (request.type === 'anonymize' || state.state === 'deleted') && state.requestId !== request.id;
        if (already) return { receipt: { requestId: request.id, operation: request.type, subject: { type: map.subject.name, id: request.subjectId }, alreadyErasedBy: state.requestId } };
        const subject = await this.locateSubject(request.subjectId, request.tenantId ?? undefined, null, request.type);
        const plan = request.type === 'anonymize' ? anonymizePlan(map) : deletePlan(map);
        return runErasure(this.operationContext(request), request.type, plan, subject.id);
      }
      case 'restore':
      case 'purge': {
        const sourceId = String(request.body.params?.sourceRequestId);
        const source = await this.requireStore().get(sourceId);
        if (!source) throw new NotFoundError(`Request ${sourceId} was not found`, { requestId: sourceId });
        if (request.type === 'restore') return runRestore(this.operationContext(request), source, request.body.params as unknown as RestoreParams);
        return runPurge(this.operationContext(request), source, Boolean(request.body.params?.force));
      }
    }
  }

  private async runExportRequest(request: StoredRequest, subject: LocatedSubject) {
    const map = this.requireMap();
    const store = this.requireStore();
    const warnings: string[] = [];
    const state = await this.subjectStates!.get(SubjectStates.key(map.subject.name, subject.tenantId, subject.publicId));
    if (state) warnings.push(state.state === 'anonymized' ? 'subject-anonymized' : 'subject-deleted');
    if (warnings.length) await store.update(request.id, { body: { warnings } }, this.clock.now().getTime());
    const now = this.clock.now();
    let lastWrite = 0;
    return runExport({
      dataSource: this.options.dataSource,
      map,
      storage: this.storage,
      batchSize: this.options.policy.batchSize,
      requestId: request.id,
      subject: { id: subject.id, publicId: subject.publicId, tenantId: subject.tenantId, displayName: this.displayName(subject) },
      warnings,
      now,
      downloadExpiresAt: () => new Date(this.clock.now().getTime() + this.options.policy.downloadExpiryDays * DAY),
      onProgress: async (done, total) => {
        // Progress is persisted at most a few times a second: one UPDATE per batch would dominate small batches.
        const t = Date.now();
        if (done !== 0 && done !== total && t - lastWrite < 250) return;
        lastWrite = t;
        await store.update(request.id, { progressDone: done, progressTotal: total }, this.clock.now().getTime());
      },
      checkCancelled: this.cancellationCheck(request.id),
    });
  }

  private displayName(subject: LocatedSubject): string | null {
    const map = this.requireMap();
    if (!map.subject.displayName) return null;
    const driver = this.options.dataSource.driver;
    const entity: Record<string, unknown> = {};
    for (const field of map.subject.fields) {
      const raw = subject.row[field.column.databaseName];
      entity[field.column.propertyName] = raw === null || raw === undefined ? raw : driver.prepareHydratedValue(raw, field.column);
    }
    try {
      return String(map.subject.displayName(entity));
    } catch {
      return null;
    }
  }
}
