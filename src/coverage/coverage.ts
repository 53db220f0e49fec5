import type { DataSource, EntityMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { z } from 'zod';
import { limitClause, sqlOf } from '../db/dialect.js';
import { parseInput } from '../engine/options.js';
import { matches } from '../metadata/builder.js';
import type { ResolvedDataMap, ResolvedEntity } from '../metadata/data-map.js';
import { getRegistry } from '../metadata/registry.js';
import { type PersonalKind, lookPersonal, valueLooksPersonal } from './heuristics.js';

export const coverageInputSchema = z
  .object({
    /** Entities ('AuditEvent') or columns ('Order.trackingCode') that hold no personal data, like @NotPersonal. */
    allow: z.array(z.string().min(1).max(256)).default([]),
    /** Reads up to `rows` non-empty values of each text column not otherwise reported, to spot personal data by shape. */
    sample: z.union([z.boolean(), z.object({ rows: z.number().int().min(1).max(10_000) })]).default(false),
  })
  .prefault({});

export type CoverageInput = z.input<typeof coverageInputSchema>;

export type FindingKind = 'undeclared-column' | 'undeclared-entity' | 'not-redacted' | 'sampled-values';

export interface CoverageFinding {
  kind: FindingKind;
  entity: string;
  table: string;
  /** The column's property name (for 'undeclared-entity', the relation that links it to personal data). */
  column: string;
  personalKind?: PersonalKind;
  reason: string;
}

export type ColumnStatus = 'redacted' | 'kept' | 'not-personal' | 'undeclared' | 'unredacted' | 'no-personal-data';

export interface CoverageEntity {
  entity: string;
  table: string;
  status: 'subject' | 'personal' | 'not-personal' | 'undeclared' | 'no-personal-data';
  category: string | null;
  onErase: string | null;
  columns: Array<{ column: string; status: ColumnStatus; rule: string | null }>;
}

/** engine.coverage(): stable JSON (sorted, no values), for CI. */
export interface CoverageReport {
  subject: string;
  stores: { covered: number; total: number };
  undeclaredFields: number;
  /** True when nothing that looks personal is undeclared. */
  complete: boolean;
  summary: string;
  entities: CoverageEntity[];
  /** Systems outside the database that registered providers declare they cover. */
  external: Array<{ provider: string; category: string; capabilities: string[] }>;
  findings: CoverageFinding[];
}

const SAMPLE_ROWS = 100;

/**
 * Scans every entity and column of the DataSource against the data map: what is declared personal (and how erasure
 * treats it), what is declared not personal, and what looks personal by name, type, relation or sampled values but is
 * not declared. Reads nothing but metadata unless sampling is asked for; reports kinds of data, never values.
 */
export async function checkCoverage(dataSource: DataSource, map: ResolvedDataMap, input: CoverageInput = {}): Promise<CoverageReport> {
  const { allow, sample } = parseInput(coverageInputSchema, input, 'coverage options');
  const sampleRows = sample === false ? 0 : sample === true ? SAMPLE_ROWS : sample.rows;
  const notPersonal = getRegistry().notPersonal;
  const entityAllowed = (m: EntityMetadata) => allow.includes(m.name) || notPersonal.some((d) => d.property === undefined && matches(d.target, m));
  const columnAllowed = (m: EntityMetadata, c: ColumnMetadata) =>
    allow.includes(`${m.name}.${c.propertyPath}`) || notPersonal.some((d) => d.property === c.propertyPath && matches(d.target, m));
  // A single-table child nobody declared is covered by the ancestor that maps its rows.
  const declared = new Map<EntityMetadata['target'], (typeof map.entities)[number]>();
  for (const e of map.entities) {
    declared.set(e.metadata.target, e);
    for (const m of e.inheritance?.covered ?? []) declared.set(m.target, e);
  }

  const entities: CoverageEntity[] = [];
  const findings: CoverageFinding[] = [];
  for (const metadata of [...dataSource.entityMetadatas].sort((a, b) => a.name.localeCompare(b.name))) {
    if (metadata.isJunction || metadata.tableType === 'view') continue;
    const resolved = declared.get(metadata.target);
    const allowed = !resolved && entityAllowed(metadata);
    const local: CoverageFinding[] = [];
    const columns: CoverageEntity['columns'] = [];
    const finding = (kind: FindingKind, column: string, reason: string, personalKind?: PersonalKind) =>
      local.push({ kind, entity: metadata.name, table: metadata.tablePath, column, ...(personalKind ? { personalKind } : {}), reason });

    for (const column of dataColumns(metadata)) {
      const property = column.propertyPath;
      if (allowed || columnAllowed(metadata, column)) {
        columns.push({ column: property, status: 'not-personal', rule: allowed ? 'entity not personal' : 'not personal' });
        continue;
      }
      const field = resolved?.fields.find((f) => f.column === column);
      if (resolved && field?.redaction) {
        const strategy = typeof field.redaction.strategy === 'function' ? 'custom' : field.redaction.strategy;
        columns.push({ column: property, status: 'redacted', rule: `${resolved.category}: redact ${strategy}` });
        continue;
      }
      const looks = lookPersonal(column);
      if (resolved && (resolved.onErase === 'retain' || (!looks && !sampleRows))) {
        columns.push({ column: property, status: 'kept', rule: keptRule(resolved) });
        continue;
      }
      let hit = looks;
      if (!hit && sampleRows && isTextual(column)) {
        const kind = await sampleKind(dataSource, metadata, column, sampleRows);
        if (kind) hit = { kind, reason: `sampled values look like ${kind}` };
      }
      if (!hit) {
        columns.push({ column: property, status: resolved ? 'kept' : 'no-personal-data', rule: resolved ? keptRule(resolved) : null });
        continue;
      }
      const sampled = hit !== looks;
      if (resolved) {
        finding(sampled ? 'sampled-values' : 'not-redacted', property, `${hit.reason}; no @Redact, so anonymize leaves it in place (add @Redact, or @NotPersonal)`, hit.kind);
        columns.push({ column: property, status: 'unredacted', rule: keptRule(resolved) });
      } else {
        finding(sampled ? 'sampled-values' : 'undeclared-column', property, `${hit.reason}; the entity is not declared (add @PersonalData, or @NotPersonal)`, hit.kind);
        columns.push({ column: property, status: 'undeclared', rule: null });
      }
    }

    if (!resolved && !allowed) {
      for (const relation of metadata.relations) {
        if (!(relation.isManyToOne || relation.isOneToOneOwner || relation.isManyToMany)) continue;
        const target = declared.get(relation.inverseEntityMetadata.target);
        if (!target || (!target.isSubject && target.onErase === 'retain')) continue;
        const what = target.isSubject ? `the data subject ${target.name}` : `${target.name} (personal data, category '${target.category}')`;
        finding('undeclared-entity', relation.propertyPath, `linked to ${what} through '${relation.propertyPath}' without @PersonalData`);
      }
    }

    const status: CoverageEntity['status'] = resolved ? (resolved.isSubject ? 'subject' : 'personal') : allowed ? 'not-personal' : local.length ? 'undeclared' : 'no-personal-data';
    entities.push({ entity: metadata.name, table: metadata.tablePath, status, category: resolved?.category ?? null, onErase: resolved?.onErase ?? null, columns });
    findings.push(...local);
  }

  const external = map.providers
    .map((p) => ({
      provider: p.name,
      category: p.category,
      capabilities: (['export', 'anonymize', 'delete', 'restore', 'purge'] as const).filter((m) => typeof p.provider[m] === 'function'),
    }))
    .sort((a, b) => a.provider.localeCompare(b.provider));
  const covered = entities.filter((e) => e.status === 'subject' || e.status === 'personal').length + external.length;
  const total = covered + entities.filter((e) => e.status === 'undeclared').length;
  const undeclaredFields = findings.length;
  return {
    subject: map.subject.name,
    stores: { covered, total },
    undeclaredFields,
    complete: undeclaredFields === 0,
    summary: `covers ${covered} of ${total} data stores, ${undeclaredFields} undeclared field${undeclaredFields === 1 ? '' : 's'}`,
    entities,
    external,
    findings,
  };
}

function keptRule(entity: ResolvedEntity): string {
  if (entity.onErase === 'retain') return `${entity.category}: retained (${entity.retention?.basis ?? 'no basis'})`;
  return `${entity.category}: ${entity.onErase === 'delete' ? 'row deleted' : 'row kept'}`;
}

/** Columns that can hold data: keys, foreign keys and bookkeeping dates hold none of their own. */
function dataColumns(metadata: EntityMetadata): ColumnMetadata[] {
  return metadata.columns.filter(
    (c) =>
      !c.isPrimary &&
      !c.relationMetadata &&
      !c.referencedColumn &&
      !c.isCreateDate &&
      !c.isUpdateDate &&
      !c.isDeleteDate &&
      !c.isVersion &&
      !c.isDiscriminator &&
      !c.isVirtual,
  );
}

function isTextual(column: ColumnMetadata): boolean {
  if (column.type === String) return true;
  return typeof column.type === 'string' && /char|text|clob|string/i.test(column.type);
}

/** Reads a few values and reports a kind when most of them have its shape; values stay in this function. */
async function sampleKind(dataSource: DataSource, metadata: EntityMetadata, column: ColumnMetadata, rows: number): Promise<PersonalKind | null> {
  const { q, table } = sqlOf(dataSource);
  const values: Array<Record<string, unknown>> = await dataSource.query(
    `SELECT ${q(column.databaseName)} AS ${q('v')} FROM ${table(metadata.tablePath)} WHERE ${q(column.databaseName)} IS NOT NULL ${limitClause(rows)}`,
  );
  if (values.length === 0) return null;
  const counts = new Map<PersonalKind, number>();
  for (const { v } of values) {
    const kind = valueLooksPersonal(v);
    if (kind) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const [best] = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  return best && best[1] * 2 >= values.length ? best[0] : null;
}
