import { refreshSubjectState } from './erasure-stack.js';
import type { ReviewItem } from '../request.js';
import type { StoredRequest } from '../db/request-store.js';
import type { ResolvedEntity } from '../metadata/data-map.js';
import { type HidePayload, type RedactPayload, type RemovePayload, keyString, unhide, unredact, unremove } from './erasure-steps.js';
import { type OperationContext, callProviders, saveCheckpoint, withStep } from './operation-context.js';
import { inTransaction } from '../db/transaction.js';

export interface RestoreParams {
  sourceRequestId: string;
  categories?: string[];
  records?: Array<{ entity: string; id: string }>;
}

export interface RestoreOutcome {
  sourceRequestId: string;
  partial: boolean;
  restored: Record<string, number>;
  providers: Array<{ name: string; status: 'done' | 'manual action required' }>;
}

/**
 * Undoes an anonymize or delete request from its vault, newest batch first (parents before children),
 * each batch in one transaction with the checkpoint. Values come back exactly as they were stored.
 */
export async function runRestore(ctx: OperationContext, source: StoredRequest, params: RestoreParams): Promise<RestoreOutcome> {
  const { dataSource, map, request } = ctx;
  const review: ReviewItem[] = [...request.body.review];
  const cp = (request.body.checkpoint as { seq: number | null; restored: Record<string, number> } | undefined) ?? { seq: null, restored: {} };
  const partial = Boolean(params.categories?.length || params.records?.length);
  const byName = new Map<string, ResolvedEntity>(map.entities.map((e) => [e.name, e]));
  const wantedEntity = (e: ResolvedEntity) => !params.categories?.length || params.categories.includes(e.category);
  const wantedKey = (e: ResolvedEntity) => {
    if (!params.records?.length) return () => true;
    const ids = new Set(params.records.filter((r) => r.entity === e.name).map((r) => r.id));
    return (key: unknown[]) => ids.has(keyString(key));
  };

  for await (const entry of ctx.vault.entries(source.id, { reverse: true, from: cp.seq ?? undefined })) {
    await ctx.checkCancelled();
    const payload = entry.payload as { e: string };
    const entity = byName.get(payload.e);
    await withStep({ step: `restore ${entry.kind}`, entity: payload.e }, () => inTransaction(dataSource, async (tx) => {
      let n = 0;
      if (entity && wantedEntity(entity)) {
        const keep = wantedKey(entity);
        if (entry.kind === 'redact') n = await unredact(tx, dataSource, entity, payload as RedactPayload, keep);
        else if (entry.kind === 'hide') {
          const keys = await unhide(tx, dataSource, entity, payload as HidePayload, keep);
          // A partial restore records the rows it brought back: they are no longer the erasure's, and its purge
          // must leave them alone even if a later erasure hides them again.
          if (partial && keys.length) await ctx.vault.append(tx, request.id, entry.seq, 'unhide', { e: entity.name, keys }, ctx.now().getTime());
          n = keys.length;
        }
        else n = await unremove(tx, dataSource, entity, payload as RemovePayload, keep);
      }
      if (entity && n > 0) cp.restored[entity.name] = (cp.restored[entity.name] ?? 0) + n;
      cp.seq = entry.seq;
      await saveCheckpoint(ctx, tx, { ...cp }, { done: Object.values(cp.restored).reduce((a, b) => a + b, 0) });
    }));
  }

  const providers = partial ? [] : await callProviders(ctx, 'restore', { id: source.subjectId, tenantId: source.tenantId, requestId: source.id }, review);

  const now = ctx.now().getTime();
  await inTransaction(dataSource, async (tx) => {
    if (!partial) {
      // The data is back: the erasure no longer applies, and the newest erasure still standing (if any) sets the state.
      await refreshSubjectState(tx, ctx.store, ctx.subjectStates, source, now, source.id);
      await ctx.store.update(source.id, { body: { restoredAt: now, restoredBy: request.id } }, now, undefined, tx);
    }
    await saveCheckpoint(ctx, tx, { ...cp }, {}, { review });
  });
  if (!partial) {
    await ctx.vault.shred(source.id);
    await ctx.vault.deleteEntries(source.id, ['redact', 'remove', 'hide', 'digest', 'provider']);
  }
  return { sourceRequestId: source.id, partial, restored: cp.restored, providers };
}
