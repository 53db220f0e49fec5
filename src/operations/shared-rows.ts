import type { DataSource } from 'typeorm';
import type { ReviewItem } from '../request.js';
import { type ResolvedEntity, erasableLinks, reviewedLinks } from '../metadata/data-map.js';
import { subjectCondition } from '../db/subject-rows.js';
import { sqlOf } from '../db/dialect.js';
import { anonymizeSteps } from './anonymize.js';
import { deleteSteps } from './delete.js';
import { type OperationContext, addReview } from './operation-context.js';

export interface SharedRows {
  category: string;
  entity: string;
  /** Rows the erasure would have changed but left as they are: reached only through shared links. */
  rows: number;
}

/**
 * Rows an erasure left alone because they are reached only through shared links (a ticket the person is
 * only CC'd on, a group they are one member of): they may hold other people's data, so they are counted
 * for the receipt and listed in the request's review instead of being erased. No values, only counts.
 */
export async function flagSharedRows(ctx: OperationContext, operation: 'anonymize' | 'delete', subjectId: unknown, review: ReviewItem[]): Promise<SharedRows[]> {
  const out: SharedRows[] = [];
  const steps = operation === 'anonymize' ? anonymizeSteps(ctx.map) : deleteSteps(ctx.map);
  for (const { entity } of steps) {
    const shared = reviewedLinks(entity);
    if (entity.isSubject || shared.length === 0) continue;
    const rows = await countSharedOnly(ctx.dataSource, entity, subjectId);
    if (rows === 0) continue;
    out.push({ category: entity.category, entity: entity.name, rows });
    addReview(review, {
      item: entity.name,
      reason: `${rows} row(s) reached only through shared links (${shared.map((l) => l.description).join(', ')}) may hold other people's data and were kept as they are: review them, or declare shared: 'erase'`,
    });
  }
  return out;
}

/** Rows of the entity reached only through its shared links (also used by dry-run plans). */
export async function countSharedOnly(ds: DataSource, entity: ResolvedEntity, subjectId: unknown): Promise<number> {
  const { q, table, params } = sqlOf(ds);
  const p = params();
  const where = [subjectCondition(ds, { ...entity, links: reviewedLinks(entity) }, p, subjectId)];
  const exclusive = erasableLinks(entity);
  // COALESCE: a NULL foreign key makes the condition NULL, and NOT NULL would drop the row.
  if (exclusive.length) where.push(`NOT COALESCE(${subjectCondition(ds, { ...entity, links: exclusive }, p, subjectId)}, FALSE)`);
  const rows = await ds.query(`SELECT COUNT(*) AS ${q('n')} FROM ${table(entity.metadata.tablePath)} pe_t WHERE ${where.join(' AND ')}`, p.values);
  return Number(rows[0].n);
}
