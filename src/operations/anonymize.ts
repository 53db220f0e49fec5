import { type ResolvedDataMap, withErasableLinks } from '../metadata/data-map.js';
import { type ErasureStep, childrenFirst, keepsSomeFields, redactedFields } from './erasure-steps.js';

/** Every entity anonymize changes, with all its links (rows shared with other people included). */
export function anonymizeSteps(map: ResolvedDataMap): ErasureStep[] {
  return childrenFirst(map)
    .filter((entity) => (entity.isSubject || entity.onErase !== 'retain' || keepsSomeFields(entity)) && redactedFields(entity).length > 0)
    .map((entity) => ({ entity, action: 'redact' as const }));
}

/**
 * anonymize: every @Redact field of the subject and of every entity not retained under a legal basis is
 * rewritten by its strategy; rows and history stay. Rows reached only through shared links are left alone
 * (flagged for review) unless the entity opted in with `shared: 'erase'`.
 */
export function anonymizePlan(map: ResolvedDataMap): ErasureStep[] {
  return erasableSteps(anonymizeSteps(map));
}

/** Steps restricted to the rows erasure may change; a step with no erasable link left is dropped. */
export function erasableSteps(steps: ErasureStep[]): ErasureStep[] {
  return steps.flatMap((step) => {
    const entity = withErasableLinks(step.entity);
    return entity ? [{ ...step, entity }] : [];
  });
}
