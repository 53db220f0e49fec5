import type { DataSource, EntityMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { EntityTarget } from './declarations.js';

/**
 * Single-table inheritance (@TableInheritance + @ChildEntity): every class of the hierarchy is an entity of the
 * same table, told apart by a discriminator column. A mapped class owns the rows of its own type and of the
 * subtypes nobody mapped separately, so no row is read, exported or erased twice.
 */
export interface SingleTableScope {
  /** Classes of the hierarchy whose rows (and declarations: @Redact, @NotExported) this entity takes over. */
  covered: EntityMetadata[];
  /** Rows of the table this entity owns: discriminator IN values (a child), or NOT IN values (the root, when subtypes are mapped apart). */
  filter?: { column: ColumnMetadata; values: string[]; except: boolean };
}

function rootOf(metadata: EntityMetadata): EntityMetadata {
  let root = metadata;
  while (root.tableType === 'entity-child' && root.parentEntityMetadata) root = root.parentEntityMetadata;
  return root;
}

function isBelow(child: EntityMetadata, ancestor: EntityMetadata): boolean {
  let parent: EntityMetadata | undefined = child.tableType === 'entity-child' ? child.parentEntityMetadata : undefined;
  while (parent) {
    if (parent === ancestor) return true;
    parent = parent.tableType === 'entity-child' ? parent.parentEntityMetadata : undefined;
  }
  return false;
}

/** Whether the entity is part of a single-table hierarchy (its root or a child). */
export function isSingleTable(metadata: EntityMetadata): boolean {
  return rootOf(metadata).inheritancePattern === 'STI';
}

/**
 * Whether a declaration on `target` is meant for this entity. A child of a single table inherits its parent's
 * declaration only in the sense that the parent's mapping covers its rows: it is not mapped a second time.
 */
export function declaredFor(target: EntityTarget, metadata: EntityMetadata, matches: (t: EntityTarget, m: EntityMetadata) => boolean): boolean {
  if (!matches(target, metadata)) return false;
  const parent = metadata.tableType === 'entity-child' ? metadata.parentEntityMetadata : undefined;
  return !(parent && isSingleTable(metadata) && matches(target, parent));
}

export function singleTableScope(dataSource: DataSource, metadata: EntityMetadata, mapped: ReadonlySet<EntityMetadata>): SingleTableScope {
  const root = rootOf(metadata);
  if (root.inheritancePattern !== 'STI' || !root.discriminatorColumn) return { covered: [] };
  const members = dataSource.entityMetadatas.filter((m) => m.tablePath === root.tablePath && rootOf(m) === root);
  const descendantsOf = (m: EntityMetadata) => members.filter((d) => d !== m && isBelow(d, m));
  const own = descendantsOf(metadata);
  // A subtype mapped on its own takes its whole subtree with it.
  const apart = new Set<EntityMetadata>();
  for (const d of own) if (mapped.has(d)) for (const x of [d, ...descendantsOf(d)]) apart.add(x);
  const covered = own.filter((d) => !apart.has(d));
  const column = root.discriminatorColumn;
  if (metadata === root) {
    if (apart.size === 0) return { covered };
    return { covered, filter: { column, values: [...apart].map((m) => String(m.discriminatorValue)), except: true } };
  }
  return { covered, filter: { column, values: [metadata, ...covered].map((m) => String(m.discriminatorValue)), except: false } };
}
