import type { RequestStore, StoredRequest } from '../db/request-store.js';
import type { SqlExecutor } from '../db/dialect.js';
import { type SubjectState, SubjectStates } from '../db/subject-states.js';

/**
 * The erasures of one subject form a stack: each later erasure works on what the earlier ones left. These
 * helpers answer which erasures are still in force, which is the newest, and what the subject's state is.
 */

export function isErasure(request: StoredRequest): boolean {
  return request.type === 'anonymize' || request.type === 'delete';
}

/** An erasure recorded by an older version as "already erased by …": it changed nothing. */
export function isNoop(request: StoredRequest): boolean {
  return Boolean((request.body.outcome as { receipt?: { alreadyErasedBy?: string } } | undefined)?.receipt?.alreadyErasedBy);
}

/** A failed or cancelled erasure left rows changed (or providers called) before it stopped. */
export function hasCommittedWork(request: StoredRequest): boolean {
  const cp = request.body.checkpoint as { done?: number; providersDone?: string[] } | undefined;
  return Boolean(cp && ((cp.done ?? 0) > 0 || (cp.providersDone?.length ?? 0) > 0));
}

/** A finished erasure whose effect on the data stands: completed (or stopped after committing work) and not fully restored. A purged one stands for good. */
export function isInForce(request: StoredRequest): boolean {
  if (!isErasure(request) || isNoop(request) || request.body.restoredAt) return false;
  if (request.status === 'completed') return true;
  return (request.status === 'failed' || request.status === 'cancelled') && hasCommittedWork(request);
}

/** Rows an erasure hid or removed so far, from its checkpoint (present whether it completed, failed or was cancelled). */
export function erasedRows(request: StoredRequest, action: 'hidden' | 'removed'): number {
  const counts = (request.body.checkpoint as { counts?: Record<string, { action: string; rows: number }> } | undefined)?.counts ?? {};
  return Object.values(counts).reduce((sum, c) => sum + (c.action === action ? c.rows : 0), 0);
}

/**
 * Every anonymize and delete request of the request's subject, newest first, whichever tenant asked: a subject
 * in several tenants (a customer of two channels) has one set of rows, so erasures asked for through any of
 * them stack on the same data.
 */
export async function subjectErasures(store: RequestStore, of: Pick<StoredRequest, 'subjectType' | 'subjectId'>): Promise<StoredRequest[]> {
  const filter = { subjectType: of.subjectType, subjectId: of.subjectId, limit: 1000 };
  const all = [...(await store.list({ ...filter, type: 'anonymize' })), ...(await store.list({ ...filter, type: 'delete' }))];
  return all.sort(newestFirst);
}

function newestFirst(a: StoredRequest, b: StoredRequest): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** Whether `a` was asked for after `b`. */
export function isLater(a: StoredRequest, b: StoredRequest): boolean {
  return newestFirst(a, b) < 0;
}

/** Whether a request is in the given tenant: errors never name another tenant's request to a caller. */
export function inTenant(request: StoredRequest, tenantId: string | null): boolean {
  return request.tenantId === tenantId;
}

/** A later erasure as an error names it to a caller in `tenantId`: with its id in the same tenant, by its type alone in another. */
export function laterRef(later: StoredRequest, tenantId: string | null): { text: string; details: { laterRequestId?: string } } {
  const named = inTenant(later, tenantId);
  return { text: `the later ${later.type} request${named ? ` ${later.id}` : ''}`, details: named ? { laterRequestId: later.id } : {} };
}

/** Erasures of the same subject asked for after `source` that still stand, newest first. */
export async function laterInForce(store: RequestStore, source: StoredRequest): Promise<StoredRequest[]> {
  return (await subjectErasures(store, source)).filter((r) => r.id !== source.id && isLater(r, source) && isInForce(r));
}

/**
 * Sets the subject's state to that of its newest completed erasure still in force (purged ones included:
 * their effect is permanent), or clears it. `excluding` is an erasure being restored in the same transaction.
 */
export async function refreshSubjectState(
  executor: SqlExecutor,
  store: RequestStore,
  states: SubjectStates,
  of: Pick<StoredRequest, 'subjectType' | 'subjectId' | 'tenantId'>,
  now: number,
  excluding?: string,
): Promise<void> {
  const newest = (await subjectErasures(store, of)).find((r) => r.id !== excluding && r.status === 'completed' && isInForce(r));
  const state: SubjectState | null = newest ? (newest.type === 'anonymize' ? 'anonymized' : 'deleted') : null;
  await states.set(executor, SubjectStates.key(of.subjectType, of.tenantId, of.subjectId), state, newest?.id ?? excluding ?? '', now);
}
