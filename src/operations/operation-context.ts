import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { isTransient } from '../engine/transient.js';
import { ConflictError, LeaseLostError, OperationError, type OperationStep, PrivacyEngineError, ValidationError } from '../errors.js';
import type { ProviderContext } from '../metadata/declarations.js';
import type { ResolvedDataMap } from '../metadata/data-map.js';
import type { ReviewItem } from '../request.js';
import type { RequestBody, RequestStore, StoredRequest } from '../db/request-store.js';
import type { SubjectStates } from '../db/subject-states.js';
import type { SqlExecutor } from '../db/dialect.js';
import type { Vault } from '../vault/vault.js';

/** What every erasure-family operation needs from the engine. */
export interface OperationContext {
  dataSource: DataSource;
  map: ResolvedDataMap;
  vault: Vault;
  store: RequestStore;
  subjectStates: SubjectStates;
  request: StoredRequest;
  batchSize: number;
  recoveryWindowMs: number;
  now(): Date;
  /** Throws CancelledError between batches once the request was cancelled (LeaseLostError once another worker took it). */
  checkCancelled(): Promise<void>;
  /** The lease this worker holds on the request: every checkpoint is fenced by it. */
  leaseOwner?: string;
}

/** Persists the operation's checkpoint (and progress) inside the batch's own transaction. */
export async function saveCheckpoint(
  ctx: OperationContext,
  executor: SqlExecutor,
  checkpoint: Record<string, unknown>,
  progress: { done?: number; total?: number } = {},
  extra: Partial<RequestBody> = {},
): Promise<void> {
  const saved = await ctx.store.apply(
    ctx.request.id,
    { body: { checkpoint, ...extra }, progressDone: progress.done, progressTotal: progress.total },
    ctx.now().getTime(),
    undefined,
    executor,
    ctx.leaseOwner,
  );
  // Another worker took the request over: throwing rolls this batch back with the checkpoint it would have moved.
  if (!saved) throw new LeaseLostError(ctx.request.id);
}

export function addReview(items: ReviewItem[], item: ReviewItem): void {
  if (!items.some((i) => i.item === item.item && i.reason === item.reason)) items.push(item);
}

/** Calls restore() or purge() on every provider; one without it is reported as manual action. */
export async function callProviders(
  ctx: OperationContext,
  method: 'restore' | 'purge',
  subject: { id: string | number; tenantId: string | null; requestId: string },
  review: ReviewItem[],
): Promise<Array<{ name: string; status: 'done' | 'manual action required' | 'failed'; error?: string }>> {
  const results: Array<{ name: string; status: 'done' | 'manual action required' | 'failed'; error?: string }> = [];
  for (const p of ctx.map.providers) {
    const fn = p.provider[method];
    if (typeof fn === 'function') {
      try {
        await fn.call(p.provider, subject, providerContext(ctx, p.name, method, subject.requestId));
      } catch (error) {
        // One outside system failing for good is flagged; the others, and the rows, are still put back or purged.
        if (isTransient(error)) throw error;
        const code = (error as { code?: unknown } | null)?.code;
        const reason = typeof code === 'string' || typeof code === 'number' ? String(code) : error instanceof Error ? error.name : 'error';
        results.push({ name: p.name, status: 'failed', error: reason });
        addReview(review, { item: `provider ${p.name}`, reason: `${method} failed (${reason}): manual action required` });
        continue;
      }
      results.push({ name: p.name, status: 'done' });
    } else {
      results.push({ name: p.name, status: 'manual action required' });
      addReview(review, { item: `provider ${p.name}`, reason: `does not implement ${method}: manual action required` });
    }
  }
  return results;
}

const sealSchema = z.object({ kind: z.string().trim().min(1).max(100) });

/**
 * The context a provider's method gets: a vault scoped to the provider and to the erasure (`erasureId`: the request
 * being run for anonymize and delete, the one being restored or purged otherwise). Sealing is for erasures only.
 */
export function providerContext(ctx: OperationContext, provider: string, operation: ProviderContext['operation'], erasureId: string): ProviderContext {
  return {
    operation,
    vault: {
      async seal(kind, data) {
        if (operation !== 'anonymize' && operation !== 'delete') {
          throw new ConflictError(`provider ${provider}: vault.seal() is for anonymize and delete; ${operation} can only open() what they sealed`);
        }
        const parsed = sealSchema.safeParse({ kind });
        if (!parsed.success) throw new ValidationError(`provider ${provider}: vault.seal() needs a kind of 1 to 100 characters`);
        if (data === undefined || typeof data === 'function') throw new ValidationError(`provider ${provider}: vault.seal() needs JSON-able data`);
        const seq = (await ctx.vault.lastSeq(erasureId, 'provider')) + 1;
        await ctx.vault.append(ctx.dataSource, erasureId, seq, 'provider', { p: provider, k: parsed.data.kind, d: data }, ctx.now().getTime());
      },
      async *open(kind) {
        for await (const entry of ctx.vault.entries(erasureId, { kinds: ['provider'] })) {
          const sealed = entry.payload as { p: string; k: string; d: unknown };
          if (sealed.p === provider && (kind === undefined || sealed.k === kind)) yield { kind: sealed.k, data: sealed.d };
        }
      },
    },
  };
}

/**
 * Runs one step of an operation; an unexpected error comes out as an OperationError naming the step, entity and column
 * (errors the engine already typed — cancellation, conflicts, an inner step's tag — pass through unchanged).
 */
export async function withStep<T>(where: OperationStep, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw tagStep(where, error);
  }
}

/** The synchronous form of withStep, for per-value work such as a redaction strategy. */
export function withStepSync<T>(where: OperationStep, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw tagStep(where, error);
  }
}

export function tagStep(where: OperationStep, error: unknown): PrivacyEngineError {
  return error instanceof PrivacyEngineError ? error : new OperationError(where, error);
}
