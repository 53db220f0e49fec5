import type { ResolvedDataMap } from '../metadata/data-map.js';
import { type ErasureStep, childrenFirst, redactedFields } from './erasure-steps.js';

/**
 * delete: rows of `onErase: 'delete'` entities leave every user-facing query (soft delete where the entity
 * has a @DeleteDateColumn, otherwise snapshot to the vault and remove); 'anonymize' entities are redacted;
 * 'retain' entities are kept and reported.
 */
export function deletePlan(map: ResolvedDataMap): ErasureStep[] {
  const steps: ErasureStep[] = [];
  for (const entity of childrenFirst(map)) {
    if (entity.onErase === 'delete') steps.push({ entity, action: entity.deleteDateColumn ? 'hide' : 'remove' });
    else if (entity.onErase === 'anonymize' && redactedFields(entity).length > 0) steps.push({ entity, action: 'redact' });
  }
  return steps;
}
