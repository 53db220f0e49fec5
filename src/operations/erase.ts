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
import { QueryFailedError } from 'typeorm';
import { isTransient } from '../engine/transient.js';

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
  /** Providers whose call failed for good: flagged on the review list, the rest of the erasure went on. */
  providersFailed?: Record<string, string>;
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
  providers: Array<{ name: string; category: string; status: 'done' | 'manual action required' | 'failed'; affected?: number; error?: string }>;
  /** True when something was left for a person to do: the request's review list says what. */
  needsReview?: boolean;
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
    // After the database refused a batch, its rows are taken one at a time, so only the row it refuses is left out.
    let isolate = 0;
    for (;;) {
      await ctx.checkCancelled();
      const size = isolate > 0 ? 1 : ctx.batchSize;
      // The page is read, and locked, inside the batch's transaction: a host's edit either lands before the read
      // (and is erased and vaulted with the page) or waits for the commit; it is never overwritten from a stale copy.
      const batch = await inTransaction(dataSource, async (tx) => {
        const rows = await readSubjectPage(dataSource, entity, subjectId, { batchSize: size, after: cp.after, columns: columnsFor(steps[cp.step]), rendered: renderedFor(steps[cp.step]), lock: true }, tx);
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
        if (action === 'redact' && refusedByDatabase(error)) return { refused: error as QueryFailedError };
        throw tagStep({ step: action, entity: entity.name }, error);
      });
      if (batch && 'refused' in batch) {
        if (size > 1) {
          isolate = size;
          continue;
        }
        // This one row cannot take its redacted value (a constraint, a trigger): flagged, and the erasure moves past it.
        // It keeps its values; the request completes with it on the review list and `needsReview` on its receipt.
        const [row] = await withStep({ step: action, entity: entity.name }, () =>
          readSubjectPage(dataSource, entity, subjectId, { batchSize: 1, after: cp.after, columns: columnsFor(steps[cp.step]), rendered: renderedFor(steps[cp.step]) }),
        );
        if (!row) throw tagStep({ step: action, entity: entity.name }, batch.refused);
        const key = primaryKeyOf(entity, row);
        addReview(review, { item: `${entity.name} ${key.length === 1 ? String(key[0]) : JSON.stringify(key)}`, reason: `could not be anonymized: the database refused the redacted value (${errorCode(batch.refused)})` });
        Object.assign(cp, { after: key, done: cp.done + 1 });
        await saveCheckpoint(ctx, dataSource, { ...cp }, { done: cp.done, total: Math.max(cp.total, cp.done) }, { review });
        isolate--;
        continue;
      }
      if (!batch) break;
      Object.assign(cp, batch.next);
      if (isolate > 0) isolate--;
      if (batch.read < size) break;
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
    if (cp.providersFailed?.[p.name]) {
      providers.push({ name: p.name, category: p.category, status: 'failed', error: cp.providersFailed[p.name] });
    } else if (!cp.providersDone.includes(p.name)) {
      let result: Awaited<ReturnType<typeof method>>;
      try {
        result = await method.call(p.provider, subjectRef, providerContext(ctx, p.name, operation, request.id));
      } catch (error) {
        // A failure a retry could get past fails the attempt (and is retried); any other is this provider's alone.
        if (isTransient(error)) throw tagStep({ step: operation, entity: `provider ${p.name}` }, error);
        const code = errorCode(error);
        cp.providersFailed = { ...cp.providersFailed, [p.name]: code };
        addReview(review, { item: `provider ${p.name}`, reason: `${operation} failed (${code}): manual action required` });
        await saveCheckpoint(ctx, dataSource, { ...cp }, {}, { review });
        providers.push({ name: p.name, category: p.category, status: 'failed', error: code });
        continue;
      }
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
      needsReview: review.length > 0,
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

/** A statement the database refused for what it was asked to write (a constraint, a type, a trigger), not for load. */
function refusedByDatabase(error: unknown): boolean {
  return error instanceof QueryFailedError && !isTransient(error);
}

/** The driver's code or the error's class: never its message, which may echo the value refused. */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code ?? (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : error instanceof Error ? error.name : 'error';
}
