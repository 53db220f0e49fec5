import type { EntityTarget } from '../metadata/declarations.js';
import { getRegistry } from '../metadata/registry.js';

/**
 * Keeps a column out of every export file (a password hash, an API token), on the subject or a @PersonalData
 * entity. Erasure still redacts it when it carries @Redact. Same effect as listing it in `exclude`.
 */
export function NotExported(): PropertyDecorator {
  return (prototype, property) => defineNotExported(prototype.constructor, String(property));
}

/** Decorator-free form of @NotExported. */
export function defineNotExported(target: EntityTarget, property: string): void {
  getRegistry().exclusions.push({ target, property });
}
