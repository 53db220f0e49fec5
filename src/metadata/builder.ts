import type { DataSource, EntityMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { MetadataError } from '../errors.js';
import { type ColumnFacts, type ColumnKind, type RedactorDeps, checkRedactRule, createRedactor, isIdentifying } from '../redaction/index.js';
import type {
  CategoryDefinition,
  CategoryFacts,
  DataCategoryProvider,
  EntityTarget,
  PersonalDataDeclaration,
  PersonalDataOptions,
  ProviderRegistration,
  SoftDeleteOptions,
} from './declarations.js';
import type { ForeignKeyMetadata } from 'typeorm/metadata/ForeignKeyMetadata.js';
import {
  type DataMapWarning,
  type ResolvedCategory,
  type ResolvedDataMap,
  type ResolvedEntity,
  type ResolvedField,
  type ResolvedProvider,
  type ResolvedSoftDelete,
  erasableLinks,
} from './data-map.js';
import { resolveLink } from './links.js';
import { type TenantOf, resolveTenant } from './tenant.js';
import { isCredentialColumn, credentialReset } from './credentials.js';
import { type SingleTableScope, declaredFor, singleTableScope } from './inheritance.js';
import { getRegistry } from './registry.js';
import { quoteTablePath, sqlOf } from '../db/dialect.js';

export interface BuildOptions {
  dataSource: DataSource;
  subject: EntityTarget;
  /** A column of the subject, or a path through its relations to a column ('channels.code'). */
  tenantColumn?: string;
  /** The subject's tenants computed by the host, instead of tenantColumn. */
  tenantOf?: TenantOf;
  /** Providers registered on the engine, besides decorated provider classes. */
  providers: ProviderRegistration[];
  redaction: RedactorDeps;
}

const FACT_KEYS = ['purpose', 'legalBasis', 'recipients', 'retention', 'source', 'description'] as const;

/** Resolves the registry's declarations against the host's DataSource; every mistake is a MetadataError naming entity and field. */
export function buildDataMap(options: BuildOptions): ResolvedDataMap {
  const { dataSource } = options;
  const registry = getRegistry();
  if (!dataSource.hasMetadata(options.subject as Function)) {
    throw new MetadataError(`The data subject ${targetName(options.subject)} is not an entity of this DataSource`, { entity: targetName(options.subject) });
  }
  const subjectMetadata = dataSource.getMetadata(options.subject as Function);
  if (subjectMetadata.primaryColumns.length !== 1) {
    throw new MetadataError(`${subjectMetadata.name}: the data subject needs a single-column primary key`, { entity: subjectMetadata.name });
  }

  const categories = new CategoryCollector();
  for (const definition of registry.categories) categories.declare(definition, 'defineCategory()');

  const subjectDeclarations = registry.subjects.filter((d) => matches(d.target, subjectMetadata));
  const subjectOptions = Object.assign({}, ...subjectDeclarations.map((d) => d.options));
  const subjectCategory = categories.declare(subjectOptions.category ?? 'profile', subjectMetadata.name);

  const tenant = resolveTenant(dataSource, subjectMetadata, options.tenantColumn, options.tenantOf);
  const tenantColumn: ColumnMetadata | undefined = tenant?.kind === 'column' ? tenant.column : undefined;

  const subject: ResolvedDataMap['subject'] = {
    ...resolveEntity(options, subjectMetadata, { category: subjectCategory, link: [], onErase: subjectOptions.onErase ?? 'anonymize', exclude: subjectOptions.exclude, include: subjectOptions.include, softDelete: subjectOptions.softDelete }, true),
    tenantColumn,
    ...(tenant ? { tenant } : {}),
    displayName: subjectOptions.displayName,
  };
  categories.use(subjectCategory, subjectMetadata.name);

  const entities: ResolvedEntity[] = [subject];
  // Mapped first, resolved second: a single-table parent needs to know which of its subtypes are mapped apart.
  const mapped = new Map<EntityMetadata, PersonalDataDeclaration[]>();
  for (const metadata of dataSource.entityMetadatas) {
    if (metadata.target === subjectMetadata.target || metadata.isJunction) continue;
    const declarations = registry.personalData.filter((d) => declaredFor(d.target, metadata, matches));
    if (declarations.length > 0) mapped.set(metadata, declarations);
  }
  const mappedSet = new Set(mapped.keys());
  for (const [metadata, declarations] of mapped) {
    const distinct = new Set(declarations.map((d) => d.options));
    if (distinct.size > 1) {
      throw new MetadataError(`${metadata.name}: @PersonalData is declared ${distinct.size} times; declare it once`, { entity: metadata.name });
    }
    const declared = declarations[0].options;
    const category = categories.declare(declared.category, metadata.name);
    categories.use(category, metadata.name);
    entities.push(resolveEntity(options, metadata, { ...declared, category }, false, subjectMetadata, singleTableScope(dataSource, metadata, mappedSet)));
  }

  for (const redaction of registry.redactions) {
    const owner = dataSource.entityMetadatas.find((m) => matches(redaction.target, m));
    if (owner && !entities.some((e) => e.metadata === owner || e.inheritance?.covered.includes(owner))) {
      throw new MetadataError(
        `${owner.name}.${redaction.property}: @Redact is used on an entity that is neither the data subject nor marked @PersonalData`,
        { entity: owner.name, field: redaction.property },
      );
    }
  }

  refuseCascades(dataSource, entities);
  const providers = resolveProviders([...registry.providers, ...options.providers], categories);
  return { subject, entities, categories: categories.resolved(), providers, warnings: [...keysetIndexWarnings(dataSource, entities), ...removalWarnings(dataSource, entities)] };
}

function resolveEntity(
  options: BuildOptions,
  metadata: EntityMetadata,
  declared: Omit<PersonalDataOptions, 'category'> & { category: string },
  isSubject: boolean,
  subjectMetadata?: EntityMetadata,
  scope: SingleTableScope = { covered: [] },
): ResolvedEntity {
  const { dataSource } = options;
  // Declarations on subtypes whose rows this entity covers (a single-table parent) apply to it too.
  const declaredOn = (target: EntityTarget) => matches(target, metadata) || scope.covered.some((m) => matches(target, m));
  const onErase = declared.onErase ?? 'anonymize';
  if (!['anonymize', 'delete', 'retain'].includes(onErase)) {
    throw new MetadataError(`${metadata.name}: onErase must be 'anonymize', 'delete' or 'retain'`, { entity: metadata.name });
  }
  if (onErase === 'retain' && !declared.retention?.basis) {
    throw new MetadataError(`${metadata.name}: onErase 'retain' needs retention.basis (the legal reason to keep the data)`, { entity: metadata.name });
  }

  const links = isSubject ? [] : [declared.link].flat();
  if (!isSubject && links.length === 0) {
    throw new MetadataError(`${metadata.name}: @PersonalData needs a link to the data subject`, { entity: metadata.name });
  }
  const resolvedLinks = links.map((spec) => resolveLink(dataSource, metadata, subjectMetadata!, spec));
  const shared = declared.shared ?? 'review';
  if (shared !== 'review' && shared !== 'erase') {
    throw new MetadataError(`${metadata.name}: shared must be 'review' or 'erase'`, { entity: metadata.name });
  }

  const exclude = new Set(declared.exclude ?? []);
  for (const name of exclude) {
    if (!findColumn(metadata, name)) {
      throw new MetadataError(`${metadata.name}.${name}: 'exclude' names a property that is not a column`, { entity: metadata.name, field: name });
    }
  }
  for (const { property } of [...getRegistry().exclusions.filter((e) => declaredOn(e.target)), ...embeddedDeclarations(metadata, getRegistry().exclusions)]) {
    if (!findColumn(metadata, property)) {
      throw new MetadataError(`${metadata.name}.${property}: @NotExported is on a property that is not a column`, { entity: metadata.name, field: property });
    }
    exclude.add(property);
  }
  const include = new Set(declared.include ?? []);
  for (const name of include) {
    const column = findColumn(metadata, name);
    if (!column) {
      throw new MetadataError(`${metadata.name}.${name}: 'include' names a property that is not a column`, { entity: metadata.name, field: name });
    }
    if ([...exclude].some((n) => findColumn(metadata, n) === column)) {
      throw new MetadataError(`${metadata.name}.${name}: the column is both excluded from and included in exports; keep one`, { entity: metadata.name, field: name });
    }
  }
  const notPersonal = getRegistry().notPersonal.filter((n) => n.property !== undefined && declaredOn(n.target));
  const redactions = [...getRegistry().redactions.filter((r) => declaredOn(r.target)), ...embeddedDeclarations(metadata, getRegistry().redactions)];
  for (const r of redactions) {
    if (!findColumn(metadata, r.property)) {
      throw new MetadataError(`${metadata.name}.${r.property}: @Redact is on a property that is not a column`, { entity: metadata.name, field: r.property });
    }
  }

  const fields: ResolvedField[] = metadata.columns.map((column) => {
    const name = fieldName(column);
    const facts = columnFacts(dataSource, metadata, column);
    // Property paths and database names both name a column: resolve each declaration to its column.
    const excluded = [...exclude].some((n) => findColumn(metadata, n) === column);
    const included = [...include].some((n) => findColumn(metadata, n) === column);
    // A column marked @NotPersonal is never taken for a credential, whatever its name.
    const credential =
      !notPersonal.some((n) => findColumn(metadata, n.property!) === column) &&
      !(isSubject && options.tenantColumn !== undefined && findColumn(metadata, options.tenantColumn) === column) &&
      isCredentialColumn(column, facts);
    // Hidden columns (select: false) and credentials leave the system only when the data map names them.
    const hidden = column.isSelect === false || credential;
    const field: ResolvedField = { name, column, facts, exported: !excluded && (included || !hidden), ...(credential ? { credential: true } : {}) };
    const declaredRule = redactions.filter((r) => findColumn(metadata, r.property) === column).at(-1);
    const reset = !declaredRule && credential ? credentialReset(facts, String(dataSource.driver.normalizeType(column)).toLowerCase()) : undefined;
    const rule = declaredRule ?? (reset ? { ...reset, options: { identifying: false } } : undefined);
    if (rule) {
      const problems = checkRedactRule(rule.strategy, rule.options, facts);
      if (problems.length > 0) {
        throw new MetadataError(`${metadata.name}.${name}: ${problems.join('; ')}`, { entity: metadata.name, field: name });
      }
      if (column.generatedType || column.asExpression) {
        throw new MetadataError(`${metadata.name}.${name}: a generated column cannot be redacted (the database computes it); redact the columns it is computed from`, {
          entity: metadata.name,
          field: name,
        });
      }
      if (column.isPrimary || column.relationMetadata || (isSubject && column.propertyPath === options.tenantColumn)) {
        throw new MetadataError(`${metadata.name}.${name}: keys, foreign keys and the tenant column cannot be redacted (they hold the row's structure, not personal data)`, {
          entity: metadata.name,
          field: name,
        });
      }
      field.redaction = {
        strategy: rule.strategy,
        options: rule.options,
        identifying: isIdentifying(rule.strategy, rule.options),
        apply: createRedactor(rule.strategy, rule.options, facts, options.redaction, { entity: metadata.name, property: name }),
      };
    }
    return field;
  });
  markKeptFields(metadata, declared, fields);
  const softDelete = resolveSoftDelete(options, metadata, declared.softDelete, fields, isSubject);

  return {
    name: metadata.name,
    metadata,
    category: declared.category,
    isSubject,
    onErase,
    retention: declared.retention,
    primaryKey: metadata.primaryColumns,
    fields,
    links: resolvedLinks,
    shared,
    deleteDateColumn: softDelete?.column,
    softDelete,
    ...(scope.filter || scope.covered.length ? { inheritance: scope } : {}),
  };
}

/** `retention.fields`: the fields a retained entity keeps under its basis; its other @Redact fields are redacted. */
function markKeptFields(metadata: EntityMetadata, declared: Omit<PersonalDataOptions, 'category'>, fields: ResolvedField[]): void {
  const names = declared.retention?.fields;
  if (names === undefined) return;
  if (declared.onErase !== 'retain') {
    throw new MetadataError(`${metadata.name}: retention.fields applies to onErase 'retain' only`, { entity: metadata.name });
  }
  if (!Array.isArray(names) || names.length === 0) {
    throw new MetadataError(`${metadata.name}: retention.fields must list at least one field (leave it out to keep whole rows)`, { entity: metadata.name });
  }
  for (const name of names) {
    const column = typeof name === 'string' ? findColumn(metadata, name) : undefined;
    if (!column) throw new MetadataError(`${metadata.name}.${String(name)}: retention.fields names a property that is not a column`, { entity: metadata.name, field: String(name) });
    fields.find((f) => f.column === column)!.kept = true;
  }
}

/**
 * The column that hides rows: TypeORM's @DeleteDateColumn, or the one declared with `softDelete` (a plain
 * `deletedAt` timestamp, an `isDeleted` flag). A declaration that could not hide and unhide a row exactly is refused.
 */
function resolveSoftDelete(
  options: BuildOptions,
  metadata: EntityMetadata,
  spec: string | SoftDeleteOptions | undefined,
  fields: ResolvedField[],
  isSubject: boolean,
): ResolvedSoftDelete | undefined {
  const typeorm = metadata.deleteDateColumn;
  if (spec === undefined) return typeorm ? { column: typeorm, hidden: 'now', live: null, declared: false } : undefined;
  const declared: SoftDeleteOptions = typeof spec === 'string' ? { column: spec } : spec;
  const fail = (why: string, field = String(declared?.column)) => new MetadataError(`${metadata.name}.${field}: softDelete ${why}`, { entity: metadata.name, field });
  if (!declared || typeof declared.column !== 'string') throw fail("needs a column: softDelete: 'deletedAt' or { column, value }", 'softDelete');
  const column = findColumn(metadata, declared.column);
  if (!column) throw fail('names a property that is not a column');
  if (typeorm && typeorm !== column) throw fail(`names another column than the @DeleteDateColumn ${typeorm.propertyPath}; leave softDelete out`);
  if (column.isPrimary || column.relationMetadata || column.generatedType || column.asExpression || (isSubject && column.propertyPath === options.tenantColumn)) {
    throw fail('cannot be a key, a foreign key, a generated column or the tenant column');
  }
  const field = fields.find((f) => f.column === column)!;
  if (field.redaction) throw fail('names a column that carries @Redact; a column cannot both hide rows and be redacted');
  const hidden = declared.value ?? 'now';
  const live = declared.live !== undefined ? declared.live : hidden === true ? false : null;
  const scalar = (v: unknown) => ['boolean', 'number', 'string'].includes(typeof v);
  if (!scalar(hidden)) throw fail("value must be 'now', a boolean, a number or a string");
  if (live !== null && !scalar(live)) throw fail('live must be null, a boolean, a number or a string');
  if (hidden === 'now' && field.facts.kind !== 'date') throw fail(`value 'now' needs a date or timestamp column (${column.propertyPath} is ${field.facts.kind}); give the value that hides a row`);
  if (hidden === live) throw fail('value and live must differ');
  if (live === null && !column.isNullable) throw fail('names a NOT NULL column: a visible row cannot hold NULL; give live (the value of a visible row)');
  return { column, hidden, live, declared: true };
}

function resolveProviders(registrations: ProviderRegistration[], categories: CategoryCollector): ResolvedProvider[] {
  const byName = new Map<string, ResolvedProvider>();
  for (const registration of registrations) {
    const category = categories.declare(registration.category, `provider ${registration.name}`);
    categories.use(category, registration.name, true);
    let provider: DataCategoryProvider;
    try {
      provider = typeof registration.provider === 'function' ? new registration.provider() : registration.provider;
    } catch (cause) {
      throw new MetadataError(`provider ${registration.name}: its class could not be constructed without arguments; register an instance with engine.registerProvider()`, {
        entity: registration.name,
        cause,
      });
    }
    if (typeof provider?.export !== 'function') {
      throw new MetadataError(`provider ${registration.name}: it must implement export(subject)`, { entity: registration.name });
    }
    // A later registration of the same name (an instance from the host) replaces a decorated class.
    byName.set(registration.name, { name: registration.name, category, provider });
  }
  return [...byName.values()];
}

/** Keeps each category's Art. 15(1) facts consistent wherever the category is named. */
class CategoryCollector {
  private readonly facts = new Map<string, { facts: CategoryFacts; declaredBy: string }>();
  private readonly members = new Map<string, { entities: string[]; providers: string[] }>();

  declare(category: string | CategoryDefinition, by: string): string {
    if (typeof category === 'string') {
      if (!category.trim()) throw new MetadataError(`${by}: category name must not be empty`, { entity: by });
      return category;
    }
    const { name, ...facts } = category;
    if (!name?.trim()) throw new MetadataError(`${by}: category name must not be empty`, { entity: by });
    const known = this.facts.get(name);
    if (!known) {
      this.facts.set(name, { facts, declaredBy: by });
      return name;
    }
    for (const key of FACT_KEYS) {
      const a = known.facts[key];
      const b = facts[key];
      if (a !== undefined && b !== undefined && JSON.stringify(a) !== JSON.stringify(b)) {
        throw new MetadataError(`category '${name}' is declared twice with different ${key} (by ${known.declaredBy} and by ${by})`, {
          entity: by,
          field: key,
        });
      }
      if (a === undefined && b !== undefined) (known.facts as Record<string, unknown>)[key] = b;
    }
    return name;
  }

  use(name: string, member: string, isProvider = false): void {
    const entry = this.members.get(name) ?? { entities: [], providers: [] };
    (isProvider ? entry.providers : entry.entities).push(member);
    this.members.set(name, entry);
  }

  resolved(): ResolvedCategory[] {
    return [...this.members.entries()].map(([name, m]) => ({ name, ...(this.facts.get(name)?.facts ?? {}), entities: m.entities, providers: m.providers }));
  }
}

function keysetIndexWarnings(dataSource: DataSource, entities: ResolvedEntity[]): DataMapWarning[] {
  const warnings: DataMapWarning[] = [];
  for (const entity of entities) {
    const pk = entity.primaryKey;
    for (const link of entity.links) {
      const column = link.directColumn;
      if (!column) continue;
      const wanted = [column, ...pk].map((c) => c.databaseName);
      // A single-table child lists only its own indices; the table's are spread over the hierarchy.
      const indices = dataSource.entityMetadatas.filter((m) => m.tablePath === entity.metadata.tablePath).flatMap((m) => m.indices);
      const covered = indices.some((index) => wanted.every((name, i) => index.columns[i]?.databaseName === name));
      if (covered) continue;
      const table = entity.metadata.tableName;
      const { q } = sqlOf(dataSource);
      warnings.push({
        code: 'MISSING_KEYSET_INDEX',
        entity: entity.name,
        message: `${entity.name}: no index on (${wanted.join(', ')}); reading a subject with many rows pages slowly without it (engine.suggestIndexes() gives a migration)`,
        suggestion: `CREATE INDEX ${q(`IDX_${table}_${column.databaseName}_keyset`)} ON ${quoteTablePath(dataSource, entity.metadata.tablePath)} (${wanted.map(q).join(', ')})`,
      });
    }
  }
  return warnings;
}

/** Entities whose rows delete removes at once (no @DeleteDateColumn) or purge removes later (hidden rows). */
function removableEntities(entities: ResolvedEntity[]): ResolvedEntity[] {
  return entities.filter((e) => e.onErase === 'delete');
}

/** Foreign keys of every table TypeORM knows (mapped or not, join tables included) that point at the entity's table. */
function foreignKeysInto(dataSource: DataSource, target: EntityMetadata): Array<{ owner: EntityMetadata; fk: ForeignKeyMetadata }> {
  const out: Array<{ owner: EntityMetadata; fk: ForeignKeyMetadata }> = [];
  for (const owner of dataSource.entityMetadatas) {
    for (const fk of owner.foreignKeys) if (fk.referencedTablePath === target.tablePath) out.push({ owner, fk });
  }
  return out;
}

const DATABASE_CHANGES = ['CASCADE', 'SET NULL', 'SET DEFAULT'];

/**
 * A foreign key with ON DELETE CASCADE / SET NULL / SET DEFAULT into rows that erasure removes lets the database
 * delete or change other rows (a retained invoice) that the vault never saw, so no restore could bring them back
 * and a retained row could vanish. Refused at start-up, naming the constraint. Even a child the same request
 * erases first is refused: a partial restore may bring it back before the parent is purged. Only join tables
 * pass: their rows are snapshotted with a removed row, and at purge they are nothing but the purged row's links.
 */
function refuseCascades(dataSource: DataSource, entities: ResolvedEntity[]): void {
  for (const removed of removableEntities(entities)) {
    for (const { owner, fk } of foreignKeysInto(dataSource, removed.metadata)) {
      const onDelete = String(fk.onDelete ?? 'NO ACTION').toUpperCase();
      if (!DATABASE_CHANGES.includes(onDelete) || owner.isJunction) continue;
      const columns = fk.columnNames.join(', ');
      const what = removed.isSubject ? `${removed.name} (the data subject, onErase 'delete')` : `${removed.name} (onErase 'delete')`;
      throw new MetadataError(
        `Foreign key ${fk.name} on ${owner.tablePath} (${columns}) references ${fk.referencedTablePath} ON DELETE ${onDelete}: ` +
          `erasure removes rows of ${what}, at once or at purge, and the database would then ${onDelete === 'CASCADE' ? 'delete' : 'change'} ` +
          `${owner.name} rows that no restore can bring back; declare the foreign key ON DELETE RESTRICT or NO ACTION`,
        { entity: owner.name, field: columns },
      );
    }
  }
}

/** Whether every row of `child` that points at an erased `parent` row is itself erased (removed or hidden) by the same request, first. */
function erasedThrough(child: ResolvedEntity, fk: ForeignKeyMetadata, parent: ResolvedEntity): boolean {
  if (child.onErase !== 'delete' || child === parent) return false;
  const relation = child.metadata.relations.find((r) => r.isOwning && r.foreignKeys.includes(fk));
  if (!relation) return false;
  const paths = new Set(erasableLinks(child).filter((l) => l.kind === 'relation').map((l) => l.description));
  if (parent.isSubject) return paths.has(relation.propertyPath);
  const parentLinks = erasableLinks(parent);
  return parentLinks.length > 0 && parentLinks.every((l) => l.kind === 'relation' && paths.has(`${relation.propertyPath}.${l.description}`));
}

/**
 * Rows that erasure removes cannot go while rows that stay still point at them. Said at start-up rather than
 * mid-request: without a soft-delete column the delete request would fail half-way, so it is refused; with one,
 * purge cannot remove the hidden rows and empties their personal columns instead (they stay, hidden).
 */
function removalWarnings(dataSource: DataSource, entities: ResolvedEntity[]): DataMapWarning[] {
  const warnings: DataMapWarning[] = [];
  for (const removed of removableEntities(entities)) {
    for (const { owner, fk } of foreignKeysInto(dataSource, removed.metadata)) {
      const onDelete = String(fk.onDelete ?? 'NO ACTION').toUpperCase();
      // Join-table rows are removed with a row delete removes at once, but block the purge of a hidden one.
      if (DATABASE_CHANGES.includes(onDelete) || (owner.isJunction && !removed.deleteDateColumn) || owner === removed.metadata) continue;
      const keeper = entities.find((e) => e.metadata === owner);
      // Rows the same request removes first do not stay; any other row (shared ones included) may.
      if (keeper && erasedThrough(keeper, fk, removed)) continue;
      const relation = owner.relations.find((r) => r.isOwning && r.foreignKeys.includes(fk));
      const by = `${owner.name}.${relation?.propertyPath ?? fk.columnNames.join(', ')} (${keeper ? `onErase '${keeper.onErase}'` : 'not in the data map'})`;
      if (!removed.deleteDateColumn) {
        // The DELETE would fail mid-request, after the children before it were erased: refused before any request runs.
        throw new MetadataError(
          `${removed.name}: delete removes its rows, but ${by} still points at them, so a delete request would fail half-way; ` +
            `give ${removed.name} a @DeleteDateColumn or declare softDelete (a column that hides its rows), or erase the rows that point at it first`,
          { entity: removed.name },
        );
      }
      warnings.push({
        code: 'REMOVAL_BLOCKED',
        entity: removed.name,
        message: `${removed.name}: purge removes its hidden rows, but ${by} may still point at them; such rows stay hidden with their personal columns emptied instead`,
      });
    }
  }
  return warnings;
}

/**
 * Declarations on a property of an embedded class (`@Column(() => CustomFields) customFields` with `@Redact` on
 * `CustomFields.nickname`), as declarations on the entity's property path (`customFields.nickname`).
 */
function embeddedDeclarations<D extends { target: EntityTarget; property: string }>(metadata: EntityMetadata, declarations: readonly D[]): D[] {
  const out: D[] = [];
  for (const embedded of metadata.allEmbeddeds) {
    const type = embedded.type;
    if (typeof type !== 'function') continue;
    for (const d of declarations) {
      if (typeof d.target === 'function' && (d.target === type || type.prototype instanceof d.target)) out.push({ ...d, property: `${embedded.propertyPath}.${d.property}` });
    }
  }
  return out;
}

export function matches(target: EntityTarget, metadata: EntityMetadata): boolean {
  if (typeof target === 'string') return target === metadata.name || target === metadata.targetName;
  if (metadata.target === target) return true;
  // The class or one of its ancestors. Not inheritanceTree: a single-table root lists its children there too.
  return typeof metadata.target === 'function' && metadata.target.prototype instanceof target;
}

function targetName(target: EntityTarget): string {
  return typeof target === 'string' ? target : target.name;
}

export function findColumn(metadata: EntityMetadata, name: string): ColumnMetadata | undefined {
  return metadata.columns.find((c) => c.propertyPath === name) ?? metadata.columns.find((c) => c.databaseName === name);
}

/** Export name of a column: its property path, or the database name for a foreign key with no property of its own. */
export function fieldName(column: ColumnMetadata): string {
  return column.relationMetadata && column.isVirtual ? column.databaseName : column.propertyPath;
}

function columnFacts(dataSource: DataSource, metadata: EntityMetadata, column: ColumnMetadata): ColumnFacts {
  const type = dataSource.driver.normalizeType(column).toLowerCase();
  const length = Number.parseInt(dataSource.driver.getColumnLength(column) || String(column.length || ''), 10);
  const unique =
    column.isPrimary ||
    // A column in any unique constraint, composite ones included, must stay distinct after redaction.
    metadata.uniques.some((u) => u.columns.includes(column)) ||
    metadata.indices.some((i) => i.isUnique && i.columns.includes(column));
  const kind = column.type === 'simple-json' ? 'json' : column.isArray ? 'other' : kindOf(type);
  return {
    kind,
    length: Number.isFinite(length) && length > 0 ? length : undefined,
    unique,
    nullable: column.isNullable,
    ...(column.isArray ? { array: true } : {}),
    ...(column.enum ? { enumValues: column.enum.map(String) } : {}),
  };
}

function kindOf(type: string): ColumnKind {
  if (/^(varchar|character varying|nvarchar|char|character|nchar|string|citext|varchar2)/.test(type)) return 'string';
  if (/(text|clob)$/.test(type)) return 'text';
  if (/^(bool|boolean)$/.test(type)) return 'boolean';
  if (/^(int|integer|smallint|bigint|tinyint|mediumint|int2|int4|int8)/.test(type)) return 'integer';
  if (/^(decimal|numeric|float|double|real|number|dec)/.test(type)) return 'decimal';
  if (/^(date|datetime|timestamp|time)/.test(type)) return 'date';
  if (/json/.test(type)) return 'json';
  if (/(blob|bytea|binary|varbinary)/.test(type)) return 'binary';
  return 'other';
}
