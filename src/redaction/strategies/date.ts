import type { ColumnFacts } from '../column-facts.js';
import { needsLength, refusesUnique, type RedactionStrategy } from './strategy.js';

const DATE_ONLY = /^(\d{4})-\d{2}-\d{2}$/;
const LEADING_YEAR = /^(\d{4})-/;

/** January 1st, 00:00:00.000 UTC (setUTCFullYear, because Date.UTC maps years 0-99 to 1900-1999). */
function yearStart(year: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, 0, 1);
  return date;
}

/**
 * Generalizes to the year and answers in the form it was given: Date → Date, 'YYYY-MM-DD' → 'YYYY-01-01',
 * any other parseable string → ISO string (date-only when the ISO form would not fit the column).
 * An unparseable value cannot be generalized, so it is dropped: null, or the epoch when the column is NOT NULL.
 */
function generalize(value: unknown, column: ColumnFacts): unknown {
  if (value instanceof Date) {
    if (!Number.isNaN(value.getTime())) return yearStart(value.getUTCFullYear());
    return column.nullable ? null : new Date(0);
  }
  if (typeof value === 'string') {
    const dateOnly = DATE_ONLY.exec(value);
    if (dateOnly) return `${dateOnly[1]}-01-01`;
    const time = Date.parse(value);
    if (!Number.isNaN(time)) {
      // The year as written, not as shifted to UTC by an offset ('2020-12-31T23:30:00-05:00' stays 2020).
      const written = LEADING_YEAR.exec(value);
      const iso = yearStart(written ? Number(written[1]) : new Date(time).getUTCFullYear()).toISOString();
      return column.length !== undefined && iso.length > column.length ? iso.slice(0, 10) : iso;
    }
  }
  if (column.nullable) return null;
  return typeof value === 'string' || column.kind !== 'date' ? '1970-01-01' : new Date(0);
}

export const dateStrategy: RedactionStrategy = {
  name: 'date',
  check: (column) => [
    ...(['date', 'string', 'text'].includes(column.kind) ? [] : [`strategy 'date' needs a date or text column but column is ${column.kind}`]),
    ...refusesUnique('date', column),
    ...needsLength('date', column, 'YYYY-01-01'.length),
  ],
  create: (_options, column) => (value) => generalize(value, column),
};
