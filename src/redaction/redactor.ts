import { MetadataError, ValidationError } from '../errors.js';
import type { RedactContext, RedactFunction, RedactOptions, RedactStrategyName } from '../metadata/declarations.js';
import { type ColumnFacts, typedColumnProblems } from './column-facts.js';
import { randomString } from './random.js';
import { getStrategy } from './strategies/index.js';
import { hmacHex } from './strategies/hmac.js';

export interface RedactorDeps {
  /** 32-byte key for 'hmac' and RedactContext.hmac (KeysPort.deriveKey('hmac-redaction')). */
  hmacKey: Buffer;
}

/** Turns one original value into its redacted replacement; `row` is the whole row (property names). */
export type Redactor = (value: unknown, row: Record<string, unknown>) => unknown;

const IDENTIFYING_BY_DEFAULT: ReadonlySet<string> = new Set(['email', 'phone', 'name']);

/** Returns human-readable problems (PII-free) when the rule cannot honour the column's constraints; [] when fine. */
export function checkRedactRule(strategy: RedactStrategyName | RedactFunction, options: RedactOptions, column: ColumnFacts): string[] {
  if (typeof strategy === 'function') return []; // a function cannot be checked statically
  const builtIn = getStrategy(strategy);
  if (!builtIn) return [`unknown redaction strategy '${String(strategy)}'`];
  const typed = typedColumnProblems(strategy, options.value, column);
  return typed.length ? typed : builtIn.check(column, options);
}

/**
 * Builds the function applied per value. entity/property only feed the RedactContext of custom functions.
 * Null and undefined always come back as null, custom functions included (they are not called for them).
 * Throws MetadataError for a rule checkRedactRule() refuses, so a refused rule can never run.
 */
export function createRedactor(
  strategy: RedactStrategyName | RedactFunction,
  options: RedactOptions,
  column: ColumnFacts,
  deps: RedactorDeps,
  where: { entity: string; property: string },
): Redactor {
  const problems = checkRedactRule(strategy, options, column);
  if (problems.length > 0) {
    throw new MetadataError(`@Redact on ${where.entity}.${where.property}: ${problems.join('; ')}`, { entity: where.entity, field: where.property });
  }
  if (!Buffer.isBuffer(deps.hmacKey) || deps.hmacKey.length < 32) throw new ValidationError('hmacKey must be a Buffer of at least 32 bytes');

  let apply: Redactor;
  if (typeof strategy === 'function') {
    const hmac = (value: string) => hmacHex(deps.hmacKey, value);
    apply = (value, row) => {
      const context: RedactContext = { entity: where.entity, property: where.property, row, hmac, random: randomString };
      return strategy(value, context);
    };
  } else {
    apply = getStrategy(strategy)!.create(options, column, deps);
  }
  return (value, row) => (value === null || value === undefined ? null : apply(value, row));
}

/** Whether the original value of a field with this rule identifies the person (options.identifying, else true for email/phone/name). */
export function isIdentifying(strategy: RedactStrategyName | RedactFunction, options: RedactOptions): boolean {
  return options.identifying ?? (typeof strategy === 'string' && IDENTIFYING_BY_DEFAULT.has(strategy));
}
