import type { EntityTarget } from '../metadata/declarations.js';
import { getRegistry } from '../metadata/registry.js';

/**
 * Declares that an entity (on the class) or a column (on a property) holds no personal data, so the coverage
 * check (engine.coverage(), `privacy-engine check`) stops reporting it. Changes nothing in exports or erasure.
 */
export function NotPersonal(): ClassDecorator & PropertyDecorator {
  return ((target: object, property?: string | symbol) => {
    if (property === undefined) defineNotPersonal(target as Function);
    else defineNotPersonal((target as { constructor: Function }).constructor, String(property));
  }) as ClassDecorator & PropertyDecorator;
}

/** Decorator-free form of @NotPersonal: the whole entity, or one of its properties. */
export function defineNotPersonal(target: EntityTarget, property?: string): void {
  getRegistry().notPersonal.push(property === undefined ? { target } : { target, property });
}
