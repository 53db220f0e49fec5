import type { EntityMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { ColumnFacts, Redactor } from '../redaction/index.js';
import type {
  CategoryFacts,
  DataCategoryProvider,
  EraseAction,
  RedactFunction,
  RedactOptions,
  RedactStrategyName,
  RetentionRule,
  SoftDeleteValue,
} from './declarations.js';
import type { ResolvedLink } from './links.js';
import type { SingleTableScope } from './inheritance.js';
import type { ResolvedTenant } from './tenant.js';

/** A column of a mapped entity, with its redaction rule when it has one. */
export interface ResolvedField {
  /** Name in exports: the property path, or the database name for a bare foreign-key column. */
  name: string;
  column: ColumnMetadata;
  facts: ColumnFacts;
  exported: boolean;
  /** Named like a login secret (src/metadata/credentials.ts): kept out of exports, reset by erasure unless @Redact says otherwise. */
  credential?: true;
  redaction?: {
    strategy: RedactStrategyName | RedactFunction;
    options: RedactOptions;
    identifying: boolean;
    apply: Redactor;
  };
  /** On a retained entity that keeps only some fields: this one is kept under the retention basis, never redacted. */
  kept?: boolean;
}

/** How rows of an entity are hidden: TypeORM's @DeleteDateColumn, or a column the host declared with `softDelete`. */
export interface ResolvedSoftDelete {
  column: ColumnMetadata;
  /** What hides a row: the time of the erasure, or a fixed value. */
  hidden: 'now' | SoftDeleteValue;
  /** What a visible row holds. */
  live: SoftDeleteValue | null;
  /** Declared with `softDelete` (false: TypeORM's @DeleteDateColumn). */
  declared: boolean;
}

export interface ResolvedEntity {
  name: string;
  metadata: EntityMetadata;
  category: string;
  isSubject: boolean;
  onErase: EraseAction;
  retention?: RetentionRule;
  primaryKey: ColumnMetadata[];
  fields: ResolvedField[];
  /** Empty for the subject itself, whose rows are selected by primary key. */
  links: ResolvedLink[];
  /** What erasure does to rows reached only through shared links: keep them and flag them for review, or erase them too. */
  shared: 'review' | 'erase';
  /** The column that hides rows: `softDelete.column` (kept under this name for the code that reads it). */
  deleteDateColumn?: ColumnMetadata;
  softDelete?: ResolvedSoftDelete;
  /** A class of a single-table hierarchy: the subtypes it covers, and which discriminator values are its rows. */
  inheritance?: SingleTableScope;
}

/** The links whose rows an erasure may change: the exclusive ones, and the shared ones when the host opted in. */
export function erasableLinks(entity: ResolvedEntity): ResolvedLink[] {
  return entity.shared === 'erase' ? entity.links : entity.links.filter((l) => l.sharing === 'exclusive');
}

/**
 * The entity as an erasure sees it: only its erasable links select rows. Null when none is left (every link
 * shared, no opt-in): erasure changes none of its rows. The subject (selected by its key) is returned as is.
 */
export function withErasableLinks(entity: ResolvedEntity): ResolvedEntity | null {
  if (entity.isSubject) return entity;
  const links = erasableLinks(entity);
  if (links.length === 0) return null;
  return links.length === entity.links.length ? entity : { ...entity, links };
}

/** Names of the fields a retained entity keeps under its basis (empty when it keeps whole rows). */
export function keptFieldNames(entity: ResolvedEntity): string[] {
  return entity.fields.filter((f) => f.kept).map((f) => f.name);
}

/** The links only flagged for review by an erasure (empty when the host opted in to erasing shared rows). */
export function reviewedLinks(entity: ResolvedEntity): ResolvedLink[] {
  return entity.shared === 'erase' ? [] : entity.links.filter((l) => l.sharing === 'shared');
}

export interface ResolvedProvider {
  name: string;
  category: string;
  provider: DataCategoryProvider;
}

export interface ResolvedCategory extends CategoryFacts {
  name: string;
  entities: string[];
  providers: string[];
}

export interface ResolvedDataMap {
  /** `tenantColumn` is set when the tenant is a column of the subject itself; `tenant` says how it is found in every case. */
  subject: ResolvedEntity & { tenantColumn?: ColumnMetadata; tenant?: ResolvedTenant; displayName?: (row: any) => string };
  /** Every mapped entity, the subject first. */
  entities: ResolvedEntity[];
  categories: ResolvedCategory[];
  providers: ResolvedProvider[];
  warnings: DataMapWarning[];
}

export interface DataMapWarning {
  code: 'MISSING_KEYSET_INDEX' | 'REMOVAL_BLOCKED';
  entity: string;
  message: string;
  /** A statement that fixes it, for the host's next migration. */
  suggestion?: string;
}

/** engine.dataMap(): the resolved map as plain JSON, safe to print or store. */
export interface DataMapJson {
  /** `tenantColumn`: the subject's own tenant column; `tenant`: how the tenant is found (a column, a relation path, or `tenantOf()`). */
  subject: {
    entity: string;
    table: string;
    primaryKey: string[];
    tenantColumn: string | null;
    tenant: { kind: 'column' | 'relation' | 'function'; path: string; through: string[] } | null;
    category: string;
  };
  categories: Array<CategoryFacts & { name: string; entities: string[]; providers: string[] }>;
  entities: Array<{
    name: string;
    table: string;
    category: string;
    onErase: EraseAction;
    retention: { basis: string; fields?: string[] } | null;
    softDelete: string | null;
    primaryKey: string[];
    links: Array<{ kind: 'relation' | 'polymorphic'; path: string; through: string[]; sharing: 'exclusive' | 'shared' }>;
    /** Rows reached only through shared links: 'review' keeps them and flags them, 'erase' erases them. */
    shared: 'review' | 'erase';
    /** A class of a single-table hierarchy: its rows are those whose discriminator is in `values` (or, for the root, not in them). */
    discriminator: { column: string; values: string[]; except: boolean } | null;
    /** `credential`: named like a login secret; not exported unless included, reset by erasure unless @Redact says otherwise. */
    fields: Array<{ name: string; column: string; kind: string; exported: boolean; redact: string | null; identifying: boolean; credential: boolean }>;
  }>;
  providers: Array<{ name: string; category: string; capabilities: string[] }>;
  warnings: DataMapWarning[];
}

export function dataMapToJson(map: ResolvedDataMap): DataMapJson {
  const subject = map.subject;
  return {
    subject: {
      entity: subject.name,
      table: subject.metadata.tablePath,
      primaryKey: subject.primaryKey.map((c) => c.databaseName),
      tenantColumn: subject.tenantColumn?.databaseName ?? null,
      tenant: subject.tenant ? { kind: subject.tenant.kind, path: subject.tenant.description, through: subject.tenant.kind === 'relation' ? [...subject.tenant.through] : [] } : null,
      category: subject.category,
    },
    categories: map.categories.map((c) => ({ ...c, entities: [...c.entities], providers: [...c.providers] })),
    entities: map.entities.map((e) => ({
      name: e.name,
      table: e.metadata.tablePath,
      category: e.category,
      onErase: e.onErase,
      retention: e.retention ? { basis: e.retention.basis, ...(e.retention.fields ? { fields: keptFieldNames(e) } : {}) } : null,
      softDelete: e.deleteDateColumn?.databaseName ?? null,
      primaryKey: e.primaryKey.map((c) => c.databaseName),
      links: e.links.map((l) => ({ kind: l.kind, path: l.description, through: l.through, sharing: l.sharing })),
      shared: e.shared,
      discriminator: e.inheritance?.filter
        ? { column: e.inheritance.filter.column.databaseName, values: [...e.inheritance.filter.values], except: e.inheritance.filter.except }
        : null,
      fields: e.fields.map((f) => ({
        name: f.name,
        column: f.column.databaseName,
        kind: f.facts.kind,
        exported: f.exported,
        redact: f.redaction ? (typeof f.redaction.strategy === 'function' ? 'custom' : f.redaction.strategy) : null,
        identifying: f.redaction?.identifying ?? false,
        credential: f.credential === true,
      })),
    })),
    providers: map.providers.map((p) => ({
      name: p.name,
      category: p.category,
      capabilities: (['export', 'anonymize', 'delete', 'restore', 'purge'] as const).filter((m) => typeof p.provider[m] === 'function'),
    })),
    warnings: map.warnings.map((w) => ({ ...w })),
  };
}
