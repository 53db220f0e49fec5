import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { AdapterError, NotFoundError, ValidationError } from '../errors.js';
import { dialectOf, sqlOf } from '../db/dialect.js';
import { hydrateRow } from '../db/hydrate.js';
import { ownRowsCondition } from '../db/subject-rows.js';
import type { StoredRequest } from '../db/request-store.js';
import type { ResolvedDataMap } from '../metadata/data-map.js';
import { isNumericColumn } from '../metadata/links.js';

export interface LocatedSubject {
  /** The id as the database wants it (number for integer keys, a decimal string for bigint keys). */
  id: string | number;
  /** The canonical id: what requests, states and filters store and compare. */
  publicId: string;
  tenantId: string | null;
  row: Record<string, unknown>;
}

/** Longest id or tenant the engine's tables hold. */
export const MAX_KEY_LENGTH = 191;

/** How a subject key is written: integers (with the column's range) or exact strings. */
type KeyKind = { kind: 'integer'; min: bigint; max: bigint; big: boolean } | { kind: 'string'; uuid: boolean };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const DECIMAL = /^-?[0-9]+$/;

function integerRange(bits: number, unsigned: boolean): { min: bigint; max: bigint } {
  return unsigned ? { min: 0n, max: 2n ** BigInt(bits) - 1n } : { min: -(2n ** BigInt(bits - 1)), max: 2n ** BigInt(bits - 1) - 1n };
}

/** The key's kind, from the type the database really has (TypeORM's normalized type: `int` on MySQL, `integer` on PostgreSQL...). */
function keyKindOf(dataSource: DataSource, column: ColumnMetadata): KeyKind {
  const type = String(dataSource.driver.normalizeType(column)).toLowerCase();
  if (!isNumericColumn(column)) return { kind: 'string', uuid: type === 'uuid' && dialectOf(dataSource) === 'postgres' };
  const dialect = dialectOf(dataSource);
  const unsigned = Boolean(column.unsigned);
  if (/^(bigint|int8)/.test(type)) return { kind: 'integer', big: true, ...integerRange(64, unsigned) };
  if (/^(decimal|numeric)/.test(type)) return { kind: 'integer', big: true, min: -(10n ** 65n), max: 10n ** 65n };
  if (/^(tinyint)/.test(type)) return { kind: 'integer', big: false, ...integerRange(8, unsigned) };
  if (/^(smallint|int2)/.test(type)) return { kind: 'integer', big: false, ...integerRange(16, unsigned) };
  if (/^(mediumint)/.test(type)) return { kind: 'integer', big: false, ...integerRange(24, unsigned) };
  // SQLite's INTEGER is 64-bit; ids are passed as JS numbers, so the safe-integer range is what can be addressed.
  if (dialect === 'sqlite') return { kind: 'integer', big: false, min: BigInt(Number.MIN_SAFE_INTEGER), max: BigInt(Number.MAX_SAFE_INTEGER) };
  return { kind: 'integer', big: false, ...integerRange(32, unsigned) };
}

function invalidId(subjectType: string, why: string): ValidationError {
  return new ValidationError(`subjectId must be ${why} for ${subjectType}`, [{ path: 'subjectId', message: why }]);
}

/** Finds subjects by id inside a tenant, and names them for people (display name) without exposing their row. */
export class SubjectLocator {
  private readonly keyKind: KeyKind;

  constructor(
    private readonly dataSource: DataSource,
    private readonly map: ResolvedDataMap,
  ) {
    this.keyKind = keyKindOf(dataSource, map.subject.primaryKey[0]);
  }

  /**
   * The one spelling of a subject id: for integer keys the decimal string without leading zeros ("007" and 7 are "7";
   * whitespace, "+", decimals and exponents are refused), for other keys the id exactly as given.
   */
  canonicalId(rawId: string | number): string {
    const subject = this.map.subject.name;
    if (this.keyKind.kind === 'string') return String(rawId);
    if (typeof rawId === 'number') {
      if (!Number.isSafeInteger(rawId)) throw invalidId(subject, 'an integer');
      return BigInt(rawId).toString();
    }
    if (!DECIMAL.test(rawId)) throw invalidId(subject, 'an integer written in decimal digits');
    return BigInt(rawId).toString();
  }

  /** The canonical id, or null when the input is not a valid id. */
  canonicalOrNull(rawId: string | number): string | null {
    try {
      return this.canonicalId(rawId);
    } catch {
      return null;
    }
  }

  /** The canonical id, or the input unchanged when it is not a valid id (for comparisons that must simply not match). */
  canonicalOrRaw(rawId: string | number): string {
    return this.canonicalOrNull(rawId) ?? String(rawId);
  }

  /** The id as the database wants it, or null when no row can have it (outside the key column's range). */
  private databaseId(canonical: string): string | number | null {
    const kind = this.keyKind;
    // PostgreSQL refuses a malformed uuid with an error; no row can have it.
    if (kind.kind === 'string') return kind.uuid && !UUID.test(canonical) ? null : canonical;
    const value = BigInt(canonical);
    if (value < kind.min || value > kind.max) return null;
    // Bigint keys stay strings: a JS number would round them above 2^53.
    return kind.big ? canonical : Number(value);
  }

  /** The subject's row inside the tenant; any other tenant's subject is "not found". */
  async locate(rawId: string | number, tenantId: string | undefined): Promise<LocatedSubject> {
    const subject = this.map.subject;
    const pk = subject.primaryKey[0];
    const canonical = this.canonicalId(rawId);
    const tenant = subject.tenant;
    if (tenant && tenantId === undefined) {
      throw new ValidationError('tenantId is required: give it in the call or on the actor', [{ path: 'tenantId', message: 'required' }]);
    }
    const id = this.databaseId(canonical);
    if (id === null) throw this.notFound(canonical);
    const { q, table, params: newParams } = sqlOf(this.dataSource);
    const params = newParams();
    let where = `s.${q(pk.databaseName)} = ${params.add(id)}`;
    if (tenant?.kind === 'column') where += ` AND s.${q(tenant.column.databaseName)} = ${params.add(tenantId)}`;
    // A subject that is one class of a single-table hierarchy: only rows of its type.
    const own = ownRowsCondition(this.dataSource, subject, params, 's');
    if (own) where += ` AND ${own}`;
    const rows = await this.dataSource.query(`SELECT * FROM ${table(subject.metadata.tablePath)} s WHERE ${where}`, params.values);
    if (rows.length === 0) throw this.notFound(canonical);
    const row = rows[0] as Record<string, unknown>;
    // The tenant is compared byte for byte here, whatever SQL matched: a case-, accent- or pad-insensitive collation
    // may have matched 'ORG-B', 'örg-b' or 'org-b ' to a row of 'org-b'.
    let rowTenant: string | null = null;
    if (tenant) {
      rowTenant = await this.tenantOf(row, id, tenantId!);
      if (rowTenant !== tenantId) throw this.notFound(canonical);
    }
    // String keys: the row's own key, so every spelling a collation accepts is one subject.
    const publicId = this.keyKind.kind === 'string' ? String(row[pk.databaseName]) : canonical;
    if (publicId.length > MAX_KEY_LENGTH) throw invalidId(subject.name, `at most ${MAX_KEY_LENGTH} characters`);
    return { id: this.keyKind.kind === 'string' ? publicId : id, publicId, tenantId: rowTenant, row };
  }

  /**
   * The subject's tenant that is exactly `asked`, or null when it has none such. A tenant column gives one tenant;
   * a relation path (channels, workspaces) or `tenantOf()` may give several, and the subject belongs to each.
   */
  private async tenantOf(row: Record<string, unknown>, id: unknown, asked: string): Promise<string | null> {
    const tenant = this.map.subject.tenant!;
    let tenants: unknown[];
    if (tenant.kind === 'column') {
      tenants = [row[tenant.column.databaseName]];
    } else if (tenant.kind === 'relation') {
      const { q, table, params: newParams } = sqlOf(this.dataSource);
      const params = newParams();
      const value = `t.${q(tenant.column.databaseName)}`;
      // The SQL match only narrows the candidates (the collation may be loose); the comparison below decides.
      const where = `${tenant.link.condition('t', params, id)} AND ${value} = ${params.add(asked)}`;
      const found = await this.dataSource.query(`SELECT ${value} AS ${q('tenant')} FROM ${table(tenant.owner.tablePath)} t WHERE ${where}`, params.values);
      tenants = (found as Array<Record<string, unknown>>).map((r) => r.tenant);
    } else {
      let result: Awaited<ReturnType<typeof tenant.tenantOf>>;
      try {
        result = await tenant.tenantOf(hydrateRow(this.dataSource, this.map.subject.fields, row), { dataSource: this.dataSource });
      } catch (cause) {
        throw new AdapterError('tenantOf', `tenantOf() failed for a ${this.map.subject.name}`, cause);
      }
      tenants = result === null || result === undefined ? [] : typeof result === 'string' ? [result] : [...result];
    }
    return tenants.some((t) => t !== null && t !== undefined && String(t) === asked) ? asked : null;
  }

  notFound(id: string | number): NotFoundError {
    const subject = this.map.subject;
    return new NotFoundError(`${subject.name} ${String(id)} was not found`, { subjectType: subject.name, subjectId: String(id) });
  }

  /** The subject a stored request concerns, without reading its row. */
  subjectOf(request: StoredRequest): LocatedSubject {
    const id = this.keyKind.kind === 'integer' && !this.keyKind.big ? Number(request.subjectId) : request.subjectId;
    return { id, publicId: request.subjectId, tenantId: request.tenantId, row: {} };
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
