import type { ResolvedDataMap } from '../metadata/data-map.js';
import { type ErasureStep, childrenFirst, redactedFields } from './erasure-steps.js';

/**
 * anonymize: every @Redact field of the subject and of every entity not retained under a legal basis is
 * rewritten by its strategy; rows and history stay.
 */
export function anonymizePlan(map: ResolvedDataMap): ErasureStep[] {
  return childrenFirst(map)
    .filter((entity) => (entity.isSubject || entity.onErase !== 'retain') && redactedFields(entity).length > 0)
    .map((entity) => ({ entity, action: 'redact' as const }));
}
