import { type ResolvedEntity, keptFieldNames } from '../metadata/data-map.js';
import type { ReviewItem } from '../request.js';
import { SubjectStates } from '../db/subject-states.js';
import { hydrateRow } from '../db/hydrate.js';
import { countSubjectRows, primaryKeyOf, readSubjectPage, readSubjectRows } from '../db/subject-rows.js';
import type { ProviderSubject } from '../metadata/declarations.js';
import { type ErasureStep, childrenFirst, hidePage, redactPage, redactedFields, removePage } from './erasure-steps.js';
import { ErasureCoverage, digestBatch } from './erasure-coverage.js';
import { type OperationContext, addReview, providerContext, saveCheckpoint, tagStep, withStep } from './operation-context.js';
import { verifyErasure, type VerificationResult } from './verify.js';
import { type SharedRows, flagSharedRows } from './shared-rows.js';
import { inTransaction } from '../db/transaction.js';

export type ErasureOperation = 'anonymize' | 'delete';

interface EntityCount {
  category: string;
  action: 'anonymized' | 'hidden' | 'removed';
  rows: number;
  fields: string[];
}

interface ErasureCheckpoint {
  step: number;
  after: unknown[] | null;
  seq: number;
  done: number;
  total: number;
  counts: Record<string, EntityCount>;
  probed: boolean;
  providersDone: string[];
}

/** The proof of erasure: what was done, what was kept and why, and whether anything identifying remains. No PII. */
export interface ErasureReceipt {
  requestId: string;
  operation: ErasureOperation;
  subject: { type: string; id: string };
  completedAt: string;
  entities: Record<string, EntityCount>;
  /** Rows kept under a legal basis; `fields` when only those fields are kept (the entity's other @Redact fields were redacted). */
  retained: Array<{ category: string; entity: string; rows: number; legalBasis: string; until: string | null; fields?: string[] }>;
  /** Rows reached only through shared links, kept as they are and flagged for review (see docs/data-map.md). */
  shared: SharedRows[];
  providers: Array<{ name: string; category: string; status: 'done' | 'manual action required'; affected?: number }>;
  verification: VerificationResult;
  recoveryDeadline: string;
  /** Earlier erasures of the subject still standing: what they wrote or hid was left alone, only what is new was erased. */
  stackedOn: string[];
  /** Only on receipts written by earlier versions, when the subject was already erased and nothing was done. */
  alreadyErasedBy?: string;
}

/** What a later erasure needs to tell new personal data from what earlier erasures already wrote. */
export interface ErasureStack {
  /** Keys the digests of written values (keys port, purpose 'erasure-digest'). */
  digestKey: Buffer;
  /** Ids of the subject's earlier erasures still standing. */
  earlier: string[];
}

const ACTION_NAMES = { redact: 'anonymized', hide: 'hidden', remove: 'removed' } as const;

/**
 * Runs an erasure plan batch by batch. Each batch — the rows changed, their originals in the vault, and
 * the checkpoint — commits in one transaction, so a worker that dies resumes exactly after the last
 * committed batch and never redacts a row twice.
 */
export async function runErasure(ctx: OperationContext, operation: ErasureOperation, steps: ErasureStep[], subjectId: unknown, stack: ErasureStack): Promise<{ receipt: ErasureReceipt }> {
  const { dataSource, map, request } = ctx;
  const order = childrenFirst(map).map((e) => e.name);
  const coverage = new ErasureCoverage(dataSource, ctx.vault, stack.digestKey, subjectId, stack.earlier, order);
  const review: ReviewItem[] = [...request.body.review];
  const saved = request.body.checkpoint as ErasureCheckpoint | undefined;
  const cp: ErasureCheckpoint = saved ?? { step: 0, after: null, seq: 1, done: 0, total: 0, counts: {}, probed: false, providersDone: [] };

  if (!saved) {
    for (const step of steps) cp.total += await withStep({ step: 'count', entity: step.entity.name }, () => countSubjectRows(dataSource, step.entity, subjectId));
    await saveCheckpoint(ctx, dataSource, { ...cp }, { done: 0, total: cp.total });
  }

  if (!cp.probed) {
    // The subject's identifying values, sealed in the vault before anything changes: the verification pass looks for them later.
    const probe = await identifyingValues(ctx, subjectId, new ErasureCoverage(dataSource, ctx.vault, stack.digestKey, subjectId, stack.earlier, order));
    await inTransaction(dataSource, async (tx) => {
      await ctx.vault.append(tx, request.id, cp.seq, 'redact', { e: '__probe__', values: probe }, ctx.now().getTime());
      cp.seq++;
      cp.probed = true;
      await saveCheckpoint(ctx, tx, { ...cp });
    }).catch((error) => {
      ctx.vault.forget(request.id);
      throw tagStep({ step: 'probe', entity: map.subject.name }, error);
    });
  }

  for (; cp.step < steps.length; cp.step++, cp.after = null) {
    const { entity, action } = steps[cp.step];
    for (;;) {
      await ctx.checkCancelled();
      // The page is read, and locked, inside the batch's transaction: a host's edit either lands before the read
      // (and is erased and vaulted with the page) or waits for the commit; it is never overwritten from a stale copy.
      const batch = await inTransaction(dataSource, async (tx) => {
        const rows = await readSubjectPage(dataSource, entity, subjectId, { batchSize: ctx.batchSize, after: cp.after, columns: columnsFor(steps[cp.step]), rendered: renderedFor(steps[cp.step]), lock: true }, tx);
        if (rows.length === 0) return null;
        const next = { ...cp, counts: { ...cp.counts }, after: primaryKeyOf(entity, rows[rows.length - 1]), seq: cp.seq + 1, done: cp.done + rows.length };
        const now = ctx.now();
        let changed = 0;
        let fields: string[] = [];
        if (action === 'redact') {
          const skip = coverage.empty ? undefined : await coverage.skipper(entity, rows, { executor: tx });
          const result = await redactPage(tx, dataSource, entity, rows, skip);
          if (result.payload.rows.length) {
            // The originals, and what this batch wrote, digested (so that a later erasure leaves it alone): one INSERT.
            const digests = await digestBatch(tx, dataSource, entity, result.updates, stack.digestKey);
            await ctx.vault.appendAll(tx, request.id, [{ seq: cp.seq, kind: 'redact', payload: result.payload }, { seq: cp.seq, kind: 'digest', payload: digests }], now.getTime());
          }
          changed = result.payload.rows.length;
          fields = [...result.fields];
        } else if (action === 'hide') {
          const payload = await hidePage(tx, dataSource, entity, rows, now);
          if (payload.keys.length) await ctx.vault.append(tx, request.id, cp.seq, 'hide', payload, now.getTime());
          changed = payload.keys.length;
        } else {
          const payload = await removePage(tx, dataSource, entity, rows);
          await ctx.vault.append(tx, request.id, cp.seq, 'remove', payload, now.getTime());
          changed = payload.rows.length;
        }
        const previous = next.counts[entity.name] ?? { category: entity.category, action: ACTION_NAMES[action], rows: 0, fields: [] };
        next.counts[entity.name] = { ...previous, rows: previous.rows + changed, fields: [...new Set([...previous.fields, ...fields])].sort() };
        await saveCheckpoint(ctx, tx, { ...next, step: cp.step }, { done: next.done, total: Math.max(cp.total, next.done) });
        return { next, read: rows.length };
      }).catch((error) => {
        ctx.vault.forget(request.id);
        throw tagStep({ step: action, entity: entity.name }, error);
      });
      if (!batch) break;
      Object.assign(cp, batch.next);
      if (batch.read < ctx.batchSize) break;
    }
  }

  const subjectRef: ProviderSubject = { id: subjectId as string | number, tenantId: request.tenantId, requestId: request.id };
  const providers: ErasureReceipt['providers'] = [];
  for (const p of map.providers) {
    const method = p.provider[operation];
    if (typeof method !== 'function') {
      providers.push({ name: p.name, category: p.category, status: 'manual action required' });
      addReview(review, { item: `provider ${p.name}`, reason: `does not implement ${operation}: manual action required` });
      continue;
    }
    if (!cp.providersDone.includes(p.name)) {
      const result = await withStep({ step: operation, entity: `provider ${p.name}` }, async () => method.call(p.provider, subjectRef, providerContext(ctx, p.name, operation, request.id)));
      cp.providersDone.push(p.name);
      await saveCheckpoint(ctx, dataSource, { ...cp });
      providers.push({ name: p.name, category: p.category, status: 'done', ...(result && typeof result.affected === 'number' ? { affected: result.affected } : {}) });
    } else {
      providers.push({ name: p.name, category: p.category, status: 'done' });
    }
  }

  const retained = await withStep({ step: 'retained report' }, () => retainedReport(ctx, subjectId));
  const shared = await withStep({ step: 'shared rows' }, () => flagSharedRows(ctx, operation, subjectId, review));
  const verification = await withStep({ step: 'verify' }, () => verifyErasure(ctx, subjectId, steps));
  for (const finding of verification.remaining) {
    addReview(review, { item: `${finding.entity}.${finding.field}`, reason: `${finding.rows} row(s) still hold an identifying value of the subject` });
  }

  const completedAt = ctx.now();
  const key = SubjectStates.key(map.subject.name, request.tenantId, request.subjectId);
  await inTransaction(dataSource, async (tx) => {
    await ctx.subjectStates.set(tx, key, operation === 'anonymize' ? 'anonymized' : 'deleted', request.id, completedAt.getTime());
    await saveCheckpoint(ctx, tx, { ...cp }, {}, { review });
  });

  return {
    receipt: {
      requestId: request.id,
      operation,
      subject: { type: map.subject.name, id: request.subjectId },
      completedAt: completedAt.toISOString(),
      entities: cp.counts,
      retained,
      shared,
      providers,
      verification,
      recoveryDeadline: new Date(completedAt.getTime() + ctx.recoveryWindowMs).toISOString(),
      stackedOn: stack.earlier,
    },
  };
}

/** Only what the step needs travels from the database: the key plus the redacted (or delete-date) columns. */
function columnsFor({ entity, action }: ErasureStep) {
  if (action === 'hide') return [entity.deleteDateColumn!];
  if (action === 'remove') return [];
  const fields = redactedFields(entity);
  const columns = (fields.some((f) => typeof f.redaction!.strategy === 'function') ? entity.fields : fields).map((f) => f.column);
  // A row an earlier delete hid is left alone while it stays hidden: the delete-date column tells.
  return entity.deleteDateColumn && !columns.includes(entity.deleteDateColumn) ? [...columns, entity.deleteDateColumn] : columns;
}

/** What the vault keeps of a redacted page is read as the database renders it, so restore is exact. */
function renderedFor({ entity, action }: ErasureStep) {
  return action === 'redact' ? redactedFields(entity).map((f) => f.column) : undefined;
}

/**
 * The subject's own identifying values (email, phone, names), as stored, for the verification pass; values an
 * earlier erasure wrote are not the subject's and are left out.
 */
async function identifyingValues(ctx: OperationContext, subjectId: unknown, coverage: ErasureCoverage): Promise<string[]> {
  const subject = ctx.map.subject;
  const fields = subject.fields.filter((f) => f.redaction?.identifying);
  if (fields.length === 0) return [];
  const columns = subject.deleteDateColumn ? [...subject.fields.map((f) => f.column), subject.deleteDateColumn] : undefined;
  const [row] = await readSubjectPage(ctx.dataSource, subject, subjectId, { batchSize: 1, columns });
  if (!row) return [];
  // A hidden subject row still holds the subject's values: they are searched for, unlike values an erasure wrote.
  const skip = coverage.empty ? () => false : await coverage.skipper(subject, [row], { hiddenRows: false });
  return fields
    .filter((f) => !skip(row, f.column.databaseName))
    .map((f) => row[f.column.databaseName])
    .filter((v): v is string => typeof v === 'string' && v.length > 0);
}

/** Retained categories with their legal basis and, where the host gave a rule, the latest retention date. */
async function retainedReport(ctx: OperationContext, subjectId: unknown): Promise<ErasureReceipt['retained']> {
  const out: ErasureReceipt['retained'] = [];
  const retainedEntities: ResolvedEntity[] = ctx.map.entities.filter((e) => !e.isSubject && e.onErase === 'retain');
  for (const entity of retainedEntities) {
    let rows = 0;
    let until: number | null = null;
    for await (const page of readSubjectRows(ctx.dataSource, entity, subjectId, { batchSize: ctx.batchSize })) {
      rows += page.length;
      if (!entity.retention?.until) continue;
      for (const raw of page) {
        const date = entity.retention.until(hydrateRow(ctx.dataSource, entity.fields, raw)).getTime();
        if (Number.isFinite(date)) until = until === null ? date : Math.max(until, date);
      }
    }
    const kept = keptFieldNames(entity);
    if (rows > 0) {
      out.push({
        category: entity.category,
        entity: entity.name,
        rows,
        legalBasis: entity.retention?.basis ?? '',
        until: until === null ? null : new Date(until).toISOString(),
        ...(kept.length ? { fields: kept } : {}),
      });
    }
  }
  return out;
}
