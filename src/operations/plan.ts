import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { countSubjectRows, subjectCondition } from '../db/subject-rows.js';
import { SqlParams, dialectOf, quoteTablePath, sqlOf } from '../db/dialect.js';
import type { ResolvedEntity } from '../metadata/data-map.js';
import type { RequestStore } from '../db/request-store.js';
import { actorSchema } from '../engine/policy.js';
import { keyStringSchema, subjectIdSchema } from '../engine/schemas.js';
import type { ResolvedDataMap } from '../metadata/data-map.js';
import { keptFieldNames, reviewedLinks } from '../metadata/data-map.js';
import { anonymizePlan, anonymizeSteps } from './anonymize.js';
import { deletePlan, deleteSteps } from './delete.js';
import { type StepAction, childrenFirst, redactedFields } from './erasure-steps.js';
import { countSharedOnly } from './shared-rows.js';
import { visibleCondition } from '../db/soft-delete.js';

export const planInputSchema = z.object({
  subjectId: subjectIdSchema,
  operation: z.enum(['export', 'anonymize', 'delete']),
  actor: actorSchema,
  tenantId: keyStringSchema.optional(),
});
export type PlanInput = z.input<typeof planInputSchema>;

export interface PlanEntity {
  /** Position in the order the operation walks the entities (children before the tables they reference). */
  order: number;
  entity: string;
  table: string;
  category: string;
  /** 'read' for export; for erasure what happens to the subject's rows, 'retain' when kept under a legal basis, 'none' when untouched. */
  action: StepAction | 'read' | 'retain' | 'none';
  /** Rows of the subject the operation reads (every link, shared ones included). */
  read: number;
  /** Rows the operation changes by `action` (0 for export and retained entities). */
  rows: number;
  /** Rows reached only through shared links: kept as they are and flagged for review. */
  shared: number;
  fields: Array<{ name: string; strategy: string }>;
  legalBasis?: string;
}

/** engine.plan(): what an operation would do to one subject, computed with reads only. No values, only counts. */
export interface OperationPlan {
  operation: 'export' | 'anonymize' | 'delete';
  subject: { type: string; id: string; tenantId: string | null };
  entities: PlanEntity[];
  /** Rows kept under a legal basis; `fields` when only those fields are kept and the others are redacted. */
  retained: Array<{ category: string; entity: string; rows: number; legalBasis: string; fields?: string[] }>;
  providers: Array<{ name: string; category: string; action: 'called' | 'manual action required' }>;
  totals: { read: number; changed: number; shared: number };
  estimate: { seconds: number; rowsPerSecond: number; basis: 'measured' | 'default'; fromRequests: number };
}

/** Assumed throughput before the engine has finished a request of the kind; replaced by measured rates once it has. */
export const DEFAULT_ROWS_PER_SECOND = 1000;

export interface PlanContext {
  dataSource: DataSource;
  map: ResolvedDataMap;
  store: RequestStore;
  subject: { id: string | number; publicId: string; tenantId: string | null };
}

/**
 * Counts, per entity, the rows an export would read or an erasure would redact, hide or remove, in the order it
 * would walk them. Counted against the data as it is now: an erasure stacked on an earlier one changes only what
 * is new since then, so it may change fewer rows than planned.
 */
export async function planOperation(ctx: PlanContext, operation: OperationPlan['operation']): Promise<OperationPlan> {
  const { dataSource, map, subject } = ctx;
  const steps = operation === 'anonymize' ? anonymizePlan(map) : operation === 'delete' ? deletePlan(map) : [];
  // Shared rows are flagged for every entity the operation would touch through any link (as flagSharedRows does).
  const touched = new Set((operation === 'anonymize' ? anonymizeSteps(map) : operation === 'delete' ? deleteSteps(map) : []).map((s) => s.entity.name));
  const entities: PlanEntity[] = [];
  const retained: OperationPlan['retained'] = [];
  let order = 0;
  for (const entity of childrenFirst(map)) {
    const read = await countSubjectRows(dataSource, entity, subject.id);
    const base = { order: ++order, entity: entity.name, table: entity.metadata.tablePath, category: entity.category, read };
    if (operation === 'export') {
      entities.push({ ...base, action: 'read', rows: 0, shared: 0, fields: entity.fields.filter((f) => f.exported).map((f) => ({ name: f.name, strategy: 'export' })) });
      continue;
    }
    if (!entity.isSubject && entity.onErase === 'retain') {
      const legalBasis = entity.retention?.basis ?? '';
      const kept = keptFieldNames(entity);
      if (read > 0) retained.push({ category: entity.category, entity: entity.name, rows: read, legalBasis, ...(kept.length ? { fields: kept } : {}) });
      if (!steps.some((s) => s.entity.name === entity.name)) {
        entities.push({ ...base, action: 'retain', rows: 0, shared: 0, fields: [], legalBasis });
        continue;
      }
    }
    const step = steps.find((s) => s.entity.name === entity.name);
    const shared = !entity.isSubject && touched.has(entity.name) && reviewedLinks(entity).length ? await countSharedOnly(dataSource, entity, subject.id) : 0;
    if (!step) {
      entities.push({ ...base, action: 'none', rows: 0, shared, fields: [] });
      continue;
    }
    // Hiding a row already hidden (archived) changes nothing, so the erasure does not count it either.
    const rows = step.action === 'hide' ? await countVisible(dataSource, step.entity, subject.id) : step.entity === entity ? read : await countSubjectRows(dataSource, step.entity, subject.id);
    const fields =
      step.action === 'redact'
        ? redactedFields(entity).map((f) => ({ name: f.name, strategy: typeof f.redaction!.strategy === 'function' ? 'custom' : f.redaction!.strategy }))
        : entity.fields.map((f) => ({ name: f.name, strategy: step.action }));
    entities.push({ ...base, action: step.action, rows, shared, fields });
  }
  const providers = map.providers.map((p) => ({
    name: p.name,
    category: p.category,
    action: operation === 'export' || typeof p.provider[operation] === 'function' ? ('called' as const) : ('manual action required' as const),
  }));
  const totals = {
    read: entities.reduce((n, e) => n + e.read, 0),
    changed: entities.reduce((n, e) => n + e.rows, 0),
    shared: entities.reduce((n, e) => n + e.shared, 0),
  };
  const rate = await measuredRate(ctx.store, operation);
  const work = operation === 'export' ? totals.read : totals.changed;
  return {
    operation,
    subject: { type: map.subject.name, id: subject.publicId, tenantId: subject.tenantId },
    entities,
    retained,
    providers,
    totals,
    estimate: { seconds: Math.ceil((work / rate.rowsPerSecond) * 10) / 10, ...rate },
  };
}

async function countVisible(dataSource: DataSource, entity: ResolvedEntity, subjectId: unknown): Promise<number> {
  const { q } = sqlOf(dataSource);
  const params = new SqlParams(dialectOf(dataSource));
  const where = subjectCondition(dataSource, entity, params, subjectId);
  const rows = await dataSource.query(
    `SELECT COUNT(*) AS ${q('n')} FROM ${quoteTablePath(dataSource, entity.metadata.tablePath)} pe_t WHERE ${where} AND ${visibleCondition(dataSource, entity, params, 'pe_t')}`,
    params.values,
  );
  return Number(rows[0].n);
}

/** Rows per second over the engine's last finished requests of the same type (progress totals over run time). */
async function measuredRate(store: RequestStore, type: OperationPlan['operation']): Promise<Omit<OperationPlan['estimate'], 'seconds'>> {
  const done = await store.list({ type, status: 'completed', limit: 20 });
  let rows = 0;
  let ms = 0;
  let fromRequests = 0;
  for (const r of done) {
    if (r.startedAt === null || r.finishedAt === null || r.progressTotal <= 0) continue;
    rows += r.progressTotal;
    ms += Math.max(1, r.finishedAt - r.startedAt);
    fromRequests++;
  }
  if (fromRequests === 0) return { rowsPerSecond: DEFAULT_ROWS_PER_SECOND, basis: 'default', fromRequests: 0 };
  return { rowsPerSecond: Math.max(1, Math.round((rows / ms) * 1000)), basis: 'measured', fromRequests };
}
