import type { ColumnKind } from '../column-facts.js';
import { producesText, refusesUnique, type RedactionStrategy } from './strategy.js';

const DEFAULT = '[REDACTED]';

/** What an explicit value must be for each non-text kind; json and other columns take any value. */
const VALUE_RULES: Partial<Record<ColumnKind, [string, (value: unknown) => boolean]>> = {
  integer: ['an integer', (v) => Number.isSafeInteger(v) || typeof v === 'bigint'],
  decimal: ['a numeric', (v) => (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))],
  boolean: ['a boolean', (v) => typeof v === 'boolean'],
  date: ['a Date', (v) => (v instanceof Date || typeof v === 'string') && !Number.isNaN(new Date(v).getTime())],
  binary: ['a Buffer', (v) => v instanceof Uint8Array],
};

export const fixedStrategy: RedactionStrategy = {
  name: 'fixed',
  check(column, options) {
    const problems = refusesUnique('fixed', column);
    const value = options.value ?? DEFAULT;
    if (column.kind === 'string' || column.kind === 'text') {
      if (typeof value !== 'string') problems.push(`strategy 'fixed' needs a string value for column kind '${column.kind}'`);
      else if (column.length !== undefined && value.length > column.length) {
        problems.push(`strategy 'fixed' value has ${value.length} characters but column length is ${column.length}`);
      }
    } else if (options.value == null) {
      problems.push(...producesText('fixed', column));
    } else {
      const rule = VALUE_RULES[column.kind];
      if (rule && !rule[1](value)) problems.push(`strategy 'fixed' needs ${rule[0]} value for column kind '${column.kind}'`);
    }
    return problems;
  },
  create(options) {
    const value = options.value ?? DEFAULT;
    return () => value;
  },
};
