import type { DataSource } from 'typeorm';
import { sqlOf } from './dialect.js';
import type { SqlExecutor } from './dialect.js';

export type SubjectState = 'anonymized' | 'deleted';

/** Which subject: its entity name, tenant (null without a tenant column) and canonical id. */
export interface SubjectRef {
  type: string;
  tenantId: string | null;
  id: string;
}

/**
 * Per subject, the newest completed erasure still in force (its kind and request), so exports can warn. Keyed by
 * (subject type, canonical id) columns: the id is the subject's primary key, and the tenant, read from its row, is
 * stored beside it.
 */
export class SubjectStates {
  constructor(
    private readonly dataSource: DataSource,
    /** Table path, schema-qualified where the DataSource names a schema. */
    private readonly tablePath: string,
  ) {}

  static key(subjectType: string, tenantId: string | null, subjectId: string): SubjectRef {
    return { type: subjectType, tenantId, id: subjectId };
  }

  private where(ref: SubjectRef, params: ReturnType<ReturnType<typeof sqlOf>['params']>): string {
    const { q } = sqlOf(this.dataSource);
    return `${q('subject_type')} = ${params.add(ref.type)} AND ${q('subject_id')} = ${params.add(ref.id)}`;
  }

  /** Replaces the subject's state (or clears it with null) inside the caller's transaction. */
  async set(executor: SqlExecutor, ref: SubjectRef, state: SubjectState | null, requestId: string, now: number): Promise<void> {
    const { q, table, params } = sqlOf(this.dataSource);
    const del = params();
    await executor.query(`DELETE FROM ${table(this.tablePath)} WHERE ${this.where(ref, del)}`, del.values);
    if (state === null) return;
    const ins = params();
    const columns = ['subject_type', 'subject_id', 'tenant_id', 'state', 'request_id', 'updated_at'].map(q).join(', ');
    await executor.query(
      `INSERT INTO ${table(this.tablePath)} (${columns}) VALUES (${[ref.type, ref.id, ref.tenantId, state, requestId, now].map((v) => ins.add(v)).join(', ')})`,
      ins.values,
    );
  }

  async get(ref: SubjectRef): Promise<{ state: SubjectState; requestId: string } | null> {
    const { q, table, params } = sqlOf(this.dataSource);
    const p = params();
    const rows: Array<Record<string, unknown>> = await this.dataSource.query(
      `SELECT ${q('state')}, ${q('request_id')}, ${q('subject_id')} FROM ${table(this.tablePath)} WHERE ${this.where(ref, p)}`,
      p.values,
    );
    // Byte-equal ids only, whatever the column's collation.
    const row = rows.find((r) => String(r.subject_id) === ref.id);
    return row ? { state: row.state as SubjectState, requestId: String(row.request_id) } : null;
  }
}
