import type { CategoryDefinition, EntityTarget, PersonalDataOptions } from '../metadata/declarations.js';
import { getRegistry } from '../metadata/registry.js';

/** Marks an entity holding the subject's data: its category, its link to the subject and what erasure does to it. */
export function PersonalData<T = any>(options: PersonalDataOptions<T>): ClassDecorator {
  return (target) => definePersonalData(target, options);
}

/** Decorator-free form of @PersonalData. */
export function definePersonalData<T = any>(target: EntityTarget, options: PersonalDataOptions<T>): void {
  getRegistry().personalData.push({ target, options });
}

/** Declares a category's Art. 15(1) facts once, for all entities and providers that use its name. */
export function defineCategory(definition: CategoryDefinition): void {
  getRegistry().categories.push(definition);
}
