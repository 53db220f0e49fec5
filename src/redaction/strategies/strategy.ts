import type { RedactOptions, RedactStrategyName } from '../../metadata/declarations.js';
import type { ColumnFacts } from '../column-facts.js';
import { randomString } from '../random.js';
import type { Redactor, RedactorDeps } from '../redactor.js';

/** A built-in strategy: a static check of the column's constraints, and a factory for the per-value function. */
export interface RedactionStrategy {
  name: RedactStrategyName;
  /** PII-free problems when the strategy cannot honour the column's constraints; [] when fine. */
  check(column: ColumnFacts, options: RedactOptions): string[];
  /** Only called on rules that passed check(); the returned function never receives null or undefined. */
  create(options: RedactOptions, column: ColumnFacts, deps: RedactorDeps): Redactor;
}

// Shared constraint checks, so every strategy words the same refusal the same way.

export function producesText(name: string, column: ColumnFacts): string[] {
  return column.kind === 'string' || column.kind === 'text' ? [] : [`strategy '${name}' produces text but column is ${column.kind}`];
}

export function refusesUnique(name: string, column: ColumnFacts): string[] {
  return column.unique ? [`strategy '${name}' cannot keep a unique column unique`] : [];
}

export function needsLength(name: string, column: ColumnFacts, min: number, why = ''): string[] {
  return column.length !== undefined && column.length < min
    ? [`strategy '${name}' needs at least ${min} characters${why} but column length is ${column.length}`]
    : [];
}

export function fit(text: string, column: ColumnFacts): string {
  return column.length === undefined ? text : text.slice(0, column.length);
}

/**
 * `prefix` followed by random characters: 16 of them when the column has room, never fewer than `minRandom`
 * (check() made sure the column holds that many); the prefix is cut rather than the randomness.
 */
export function tagged(prefix: string, column: ColumnFacts, minRandom: number): string {
  if (column.length === undefined) return prefix + randomString(16);
  const random = Math.min(16, Math.max(minRandom, column.length - prefix.length));
  return prefix.slice(0, Math.max(0, column.length - random)) + randomString(random);
}
