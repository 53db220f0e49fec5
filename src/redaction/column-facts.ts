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
}
