import type { StoredRequest } from '../db/request-store.js';
import type { ReviewItem } from '../request.js';
import type { ResolvedEntity } from '../metadata/data-map.js';
import type { RawRow } from '../db/subject-rows.js';
import { quoteIdentifier } from '../db/dialect.js';
import { decodeRaw } from '../vault/vault.js';
import { deleteRows, selectRows } from '../db/batch-sql.js';
import { type HidePayload, pkNames, redactPage } from './erasure-steps.js';
import { type OperationContext, addReview, callProviders, saveCheckpoint, withStep } from './operation-context.js';

export interface PurgeOutcome {
  sourceRequestId: string;
  forced: boolean;
  keyDestroyed: boolean;
  removed: Record<string, number>;
  /** Hidden rows other kept rows still reference: redacted in place and left hidden instead of removed. */
  redactedInstead: Record<string, number>;
  providers: Array<{ name: string; status: 'done' | 'manual action required' }>;
}

/**
 * Irreversible end of an erasure: the vault's data key is destroyed first (crypto-shredding), the
 * encrypted originals are deleted, then the hidden rows are removed for good, batch by batch.
 */
export async function runPurge(ctx: OperationContext, source: StoredRequest, forced: boolean): Promise<PurgeOutcome> {
  const { dataSource, map, request } = ctx;
  const review: ReviewItem[] = [...request.body.review];
  const cp = (request.body.checkpoint as { shredded: boolean; seq: number | null; removed: Record<string, number>; redactedInstead: Record<string, number> } | undefined) ?? {
    shredded: false,
    seq: null,
    removed: {},
    redactedInstead: {},
  };

  if (!cp.shredded) {
    await withStep({ step: 'shred' }, async () => {
      await ctx.vault.shred(source.id);
      await ctx.vault.deleteEntries(source.id, ['redact', 'remove']);
    });
    cp.shredded = true;
    await saveCheckpoint(ctx, dataSource, { ...cp });
  }

  const byName = new Map<string, ResolvedEntity>(map.entities.map((e) => [e.name, e]));
  for await (const entry of ctx.vault.entries(source.id, { kinds: ['hide'], from: cp.seq ?? undefined })) {
    await ctx.checkCancelled();
    const payload = entry.payload as HidePayload;
    const entity = byName.get(payload.e);
    const keys = payload.keys.map((k) => k.map(decodeRaw));
    if (entity && keys.length) {
      const deleted = ` AND ${quoteIdentifier(dataSource, entity.deleteDateColumn!.databaseName)} IS NOT NULL`;
      try {
        await dataSource.transaction(async (tx) => {
          await deleteRows(tx, dataSource, entity.metadata.tablePath, pkNames(entity), keys, deleted);
          cp.removed[entity.name] = (cp.removed[entity.name] ?? 0) + keys.length;
          cp.seq = entry.seq;
          await saveCheckpoint(ctx, tx, { ...cp });
        });
        continue;
      } catch {
        // Some of these rows are still referenced by kept rows (e.g. retained invoices): go row by row below.
      }
      for (const key of keys) {
        try {
          await deleteRows(dataSource, dataSource, entity.metadata.tablePath, pkNames(entity), [key], deleted);
          cp.removed[entity.name] = (cp.removed[entity.name] ?? 0) + 1;
        } catch {
          // Kept rows point at it: it cannot go, so its personal fields are redacted for good and it stays hidden.
          await withStep({ step: 'purge redact', entity: entity.name }, async () => {
            const rows = (await selectRows(dataSource, dataSource, entity.metadata.tablePath, pkNames(entity), [key])) as RawRow[];
            await dataSource.transaction((tx) => redactPage(tx, dataSource, entity, rows));
          });
          cp.redactedInstead[entity.name] = (cp.redactedInstead[entity.name] ?? 0) + 1;
          addReview(review, { item: entity.name, reason: 'hidden rows still referenced by retained data were redacted and kept hidden instead of removed' });
        }
      }
    }
    cp.seq = entry.seq;
    await saveCheckpoint(ctx, dataSource, { ...cp });
  }
  await ctx.vault.deleteEntries(source.id, ['hide']);

  const providers = await callProviders(ctx, 'purge', { id: source.subjectId, tenantId: source.tenantId, requestId: source.id }, review);
  const now = ctx.now().getTime();
  await dataSource.transaction(async (tx) => {
    await ctx.store.update(source.id, { body: { purgedAt: now, purgedBy: request.id } }, now, undefined, tx);
    await saveCheckpoint(ctx, tx, { ...cp }, {}, { review, ...(forced ? { warnings: [...request.body.warnings, 'purged-before-window-end'] } : {}) });
  });
  return { sourceRequestId: source.id, forced, keyDestroyed: true, removed: cp.removed, redactedInstead: cp.redactedInstead, providers };
}
