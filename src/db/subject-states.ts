import type { DataSource } from 'typeorm';
import { SqlParams, dialectOf, sqlOf } from './dialect.js';
import type { SqlExecutor } from './dialect.js';

export type SubjectState = 'anonymized' | 'deleted';

/** Which subject: its entity name, tenant (null without a tenant column) and canonical id. */
export interface SubjectRef {
  type: string;
  tenantId: string | null;
  id: string;
}

/** Per subject, the newest completed erasure still in force (its kind and request), so exports can warn. */
export class SubjectStates {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tableName: string,
  ) {}

  static key(subjectType: string, tenantId: string | null, subjectId: string): SubjectRef {
    return { type: subjectType, tenantId, id: subjectId };
  }

  private static storageKey(ref: SubjectRef): string {
    return `${ref.type}|${ref.tenantId ?? ''}|${ref.id}`;
  }

  /** Replaces the subject's state (or clears it with null) inside the caller's transaction. */
  async set(executor: SqlExecutor, ref: SubjectRef, state: SubjectState | null, requestId: string, now: number): Promise<void> {
    const { q } = sqlOf(this.dataSource);
    const key = SubjectStates.storageKey(ref);
    const del = new SqlParams(dialectOf(this.dataSource));
    await executor.query(`DELETE FROM ${q(this.tableName)} WHERE ${q('subject_key')} = ${del.add(key)}`, del.values);
    if (state === null) return;
    const ins = new SqlParams(dialectOf(this.dataSource));
    await executor.query(
      `INSERT INTO ${q(this.tableName)} (${q('subject_key')}, ${q('state')}, ${q('request_id')}, ${q('updated_at')}) VALUES (${[key, state, requestId, now].map((v) => ins.add(v)).join(', ')})`,
      ins.values,
    );
  }

  async get(ref: SubjectRef): Promise<{ state: SubjectState; requestId: string } | null> {
    const key = SubjectStates.storageKey(ref);
    const params = new SqlParams(dialectOf(this.dataSource));
    const { q } = sqlOf(this.dataSource);
    const rows = await this.dataSource.query(
      `SELECT ${q('state')}, ${q('request_id')} FROM ${q(this.tableName)} WHERE ${q('subject_key')} = ${params.add(key)}`,
      params.values,
    );
    return rows.length ? { state: rows[0].state as SubjectState, requestId: String(rows[0].request_id) } : null;
  }
}
