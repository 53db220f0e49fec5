import type { ResolvedDataMap } from '../metadata/data-map.js';
import { type ErasureStep, childrenFirst, keepsSomeFields, redactedFields } from './erasure-steps.js';
import { erasableSteps } from './anonymize.js';

/** Every entity delete changes, with all its links (rows shared with other people included). */
export function deleteSteps(map: ResolvedDataMap): ErasureStep[] {
  const steps: ErasureStep[] = [];
  for (const entity of childrenFirst(map)) {
    if (entity.onErase === 'delete') steps.push({ entity, action: entity.deleteDateColumn ? 'hide' : 'remove' });
    else if ((entity.onErase === 'anonymize' || keepsSomeFields(entity)) && redactedFields(entity).length > 0) steps.push({ entity, action: 'redact' });
  }
  return steps;
}

/**
 * delete: rows of `onErase: 'delete'` entities leave every user-facing query (soft delete where the entity
 * has a @DeleteDateColumn, otherwise snapshot to the vault and remove); 'anonymize' entities are redacted;
 * 'retain' entities are kept and reported. Rows reached only through shared links are left alone (flagged
 * for review) unless the entity opted in with `shared: 'erase'`.
 */
export function deletePlan(map: ResolvedDataMap): ErasureStep[] {
  return erasableSteps(deleteSteps(map));
}
