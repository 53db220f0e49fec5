/**
 * What a redaction strategy needs to know about the column it writes to. The metadata builder derives these
 * from TypeORM's ColumnMetadata; strategies never see TypeORM.
 */
export type ColumnKind = 'string' | 'text' | 'integer' | 'decimal' | 'boolean' | 'date' | 'json' | 'binary' | 'other';

export interface ColumnFacts {
  kind: ColumnKind;
  /** Maximum number of characters (varchar(n), char(n)); undefined means unbounded. */
  length?: number;
  unique: boolean;
  nullable: boolean;
  /** An array column (PostgreSQL `text[]`...): its kind is 'other', whatever its element type. */
  array?: boolean;
  /** The values an enum column accepts (PostgreSQL and MySQL enums, simple-enum). */
  enumValues?: readonly string[];
}

/**
 * Problems (PII-free) a rule has with a column of its own type, whatever the strategy: an array column takes
 * 'null' or a fixed array; an enum column 'null' or a fixed value among its values. Custom functions are the
 * host's responsibility.
 */
export function typedColumnProblems(strategy: string, value: unknown, column: ColumnFacts): string[] {
  if (strategy === 'null') return [];
  if (column.array && !(strategy === 'fixed' && Array.isArray(value))) {
    return [`column is an array: use 'null', or 'fixed' with an array value`];
  }
  if (column.enumValues && !(strategy === 'fixed' && value !== undefined && value !== null && column.enumValues.includes(String(value)))) {
    return [`column is an enum: use 'null', or 'fixed' with one of its values`];
  }
  return [];
}
