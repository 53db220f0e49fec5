import type { DataSource } from 'typeorm';
import { NotFoundError, ValidationError } from '../errors.js';
import { sqlOf } from '../db/dialect.js';
import { hydrateRow } from '../db/hydrate.js';
import type { StoredRequest } from '../db/request-store.js';
import type { ResolvedDataMap } from '../metadata/data-map.js';
import { isNumericColumn } from '../metadata/links.js';

export interface LocatedSubject {
  /** The id as the database wants it (number for numeric keys). */
  id: string | number;
  publicId: string;
  tenantId: string | null;
  row: Record<string, unknown>;
}

/** Finds subjects by id inside a tenant, and names them for people (display name) without exposing their row. */
export class SubjectLocator {
  constructor(
    private readonly dataSource: DataSource,
    private readonly map: ResolvedDataMap,
  ) {}

  /** The subject's row inside the tenant; any other tenant's subject is "not found". */
  async locate(rawId: string | number, tenantId: string | undefined): Promise<LocatedSubject> {
    const subject = this.map.subject;
    const pk = subject.primaryKey[0];
    const numeric = isNumericColumn(pk);
    const id = numeric ? Number(rawId) : String(rawId);
    if (numeric && !Number.isSafeInteger(id)) {
      throw new ValidationError(`subjectId must be an integer for ${subject.name}`, [{ path: 'subjectId', message: 'not an integer' }]);
    }
    if (subject.tenantColumn && tenantId === undefined) {
      throw new ValidationError('tenantId is required: give it in the call or on the actor', [{ path: 'tenantId', message: 'required' }]);
    }
    const { q, table, params: newParams } = sqlOf(this.dataSource);
    const params = newParams();
    let where = `s.${q(pk.databaseName)} = ${params.add(id)}`;
    if (subject.tenantColumn) where += ` AND s.${q(subject.tenantColumn.databaseName)} = ${params.add(tenantId)}`;
    const rows = await this.dataSource.query(`SELECT * FROM ${table(subject.metadata.tablePath)} s WHERE ${where}`, params.values);
    if (rows.length === 0) throw this.notFound(rawId);
    return { id, publicId: String(rawId), tenantId: subject.tenantColumn ? String(tenantId) : null, row: rows[0] };
  }

  notFound(rawId: string | number): NotFoundError {
    const subject = this.map.subject;
    return new NotFoundError(`${subject.name} ${String(rawId)} was not found`, { subjectType: subject.name, subjectId: String(rawId) });
  }

  /** The subject a stored request concerns, without reading its row. */
  subjectOf(request: StoredRequest): LocatedSubject {
    const numeric = isNumericColumn(this.map.subject.primaryKey[0]);
    return { id: numeric ? Number(request.subjectId) : request.subjectId, publicId: request.subjectId, tenantId: request.tenantId, row: {} };
  }

  /** The host's display name for the subject (export summaries, notifications); null when none is declared or it throws. */
  displayName(subject: LocatedSubject): string | null {
    const { displayName, fields } = this.map.subject;
    if (!displayName) return null;
    try {
      return String(displayName(hydrateRow(this.dataSource, fields, subject.row)));
    } catch {
      return null;
    }
  }
}
