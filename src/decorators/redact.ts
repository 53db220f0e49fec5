import type { EntityTarget, RedactFunction, RedactOptions, RedactStrategyName } from '../metadata/declarations.js';
import { getRegistry } from '../metadata/registry.js';

/** Names how a field is anonymized: a built-in strategy or a custom function. */
export function Redact(strategy: RedactStrategyName | RedactFunction, options: RedactOptions = {}): PropertyDecorator {
  return (prototype, property) => defineRedact(prototype.constructor, String(property), strategy, options);
}

/** Decorator-free form of @Redact. */
export function defineRedact(
  target: EntityTarget,
  property: string,
  strategy: RedactStrategyName | RedactFunction,
  options: RedactOptions = {},
): void {
  getRegistry().redactions.push({ target, property, strategy, options });
}
