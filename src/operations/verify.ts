import type { ResolvedEntity } from '../metadata/data-map.js';
import { SqlParams, dialectOf, quoteTablePath, sqlOf } from '../db/dialect.js';
import { subjectCondition } from '../db/subject-rows.js';
import { visibleCondition } from '../db/soft-delete.js';
import type { ErasureStep } from './erasure-steps.js';
import type { OperationContext } from './operation-context.js';

export interface VerificationResult {
  passed: boolean;
  /** How many identifying values were searched for (the values themselves are never recorded). */
  valuesChecked: number;
  tablesChecked: number;
  /** Text columns of the subject's visible rows that still hold one of the values. */
  remaining: Array<{ entity: string; field: string; rows: number }>;
  /** Entities kept under a legal basis: not searched. */
  skipped: string[];
}

/**
 * Re-reads every mapped table for the subject's original identifying values (sealed in the vault before
 * the erasure began) and reports where any is still visible. Retained entities are skipped by design;
 * hidden (soft-deleted) rows are left for the purge.
 */
export async function verifyErasure(ctx: OperationContext, subjectId: unknown, steps: ErasureStep[]): Promise<VerificationResult> {
  const values = await probedValues(ctx);
  const result: VerificationResult = { passed: true, valuesChecked: values.length, tablesChecked: 0, remaining: [], skipped: [] };
  const handled = new Set(steps.map((s) => s.entity));
  for (const entity of ctx.map.entities) {
    if (entity.onErase === 'retain' && !handled.has(entity)) {
      result.skipped.push(entity.name);
      continue;
    }
    result.tablesChecked++;
    if (values.length === 0) continue;
    // Fields a retained entity keeps under its basis are kept on purpose: not searched.
    for (const field of entity.fields.filter((f) => (f.facts.kind === 'string' || f.facts.kind === 'text') && !f.kept)) {
      const rows = await countMatches(ctx, entity, field.column.databaseName, subjectId, values);
      if (rows > 0) result.remaining.push({ entity: entity.name, field: field.name, rows });
    }
  }
  for (const p of ctx.map.providers) {
    if (typeof p.provider.anonymize !== 'function' && typeof p.provider.delete !== 'function') continue;
    let rows = 0;
    for await (const record of p.provider.export({ id: subjectId as string | number, tenantId: ctx.request.tenantId, requestId: ctx.request.id })) {
      const text = JSON.stringify(record);
      if (values.some((v) => text.includes(v))) rows++;
    }
    if (rows > 0) result.remaining.push({ entity: `provider ${p.name}`, field: '*', rows });
  }
  result.passed = result.remaining.length === 0;
  return result;
}

async function probedValues(ctx: OperationContext): Promise<string[]> {
  for await (const entry of ctx.vault.entries(ctx.request.id, { kinds: ['redact'] })) {
    const payload = entry.payload as { e?: string; values?: string[] };
    if (payload.e === '__probe__') return payload.values ?? [];
  }
  return [];
}

async function countMatches(ctx: OperationContext, entity: ResolvedEntity, column: string, subjectId: unknown, values: string[]): Promise<number> {
  const ds = ctx.dataSource;
  const params = new SqlParams(dialectOf(ds));
  const { q } = sqlOf(ds);
  const where = [subjectCondition(ds, entity, params, subjectId), `pe_t.${q(column)} IN (${values.map((v) => params.add(v)).join(', ')})`];
  if (entity.deleteDateColumn) where.push(visibleCondition(ds, entity, params, 'pe_t'));
  const rows = await ds.query(`SELECT COUNT(*) AS ${q('n')} FROM ${quoteTablePath(ds, entity.metadata.tablePath)} pe_t WHERE ${where.join(' AND ')}`, params.values);
  return Number(rows[0].n);
}
