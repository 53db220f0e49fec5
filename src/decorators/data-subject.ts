import type { DataSubjectOptions, EntityTarget } from '../metadata/declarations.js';
import { getRegistry } from '../metadata/registry.js';

/** Marks the entity that represents the person (a Contact, a User). Records only; resolved at engine.start(). */
export function DataSubject<T = any>(options: DataSubjectOptions<T> = {}): ClassDecorator {
  return (target) => defineDataSubject(target, options);
}

/** Decorator-free form of @DataSubject, for EntitySchema hosts or entities you cannot annotate. */
export function defineDataSubject<T = any>(target: EntityTarget, options: DataSubjectOptions<T> = {}): void {
  getRegistry().subjects.push({ target, options });
}
