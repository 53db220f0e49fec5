import type { DataSource, EntityMetadata } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { MetadataError } from '../errors.js';
import { type ResolvedLink, resolveLink } from './links.js';

/**
 * The engine's `tenantOf` option: the tenants a subject belongs to, from its row (property names). Every tenant
 * returned is compared with the asked one exactly, byte for byte.
 */
export type TenantOf = (subject: Record<string, unknown>, context: { dataSource: DataSource }) => string | readonly string[] | null | undefined | Promise<string | readonly string[] | null | undefined>;

/** How the subject's tenant is found: a column of its own, a column reached through relations, or the host's function. */
export type ResolvedTenant =
  | { kind: 'column'; description: string; column: ColumnMetadata }
  | {
      kind: 'relation';
      description: string;
      /** The entity holding the tenant column ('Channel' for 'channels.code'). */
      owner: EntityMetadata;
      column: ColumnMetadata;
      /** Selects the owner's rows that belong to the subject (its channels), as a link from the owner to the subject. */
      link: ResolvedLink;
      through: string[];
    }
  | { kind: 'function'; description: string; tenantOf: TenantOf };

function columnOf(metadata: EntityMetadata, name: string): ColumnMetadata | undefined {
  return metadata.columns.find((c) => c.propertyPath === name) ?? metadata.columns.find((c) => c.databaseName === name);
}

/**
 * `tenantColumn: 'organizationId'` is a column of the subject; `'workspace.slug'` or `'channels.code'` walks the
 * subject's relations (any kind, many-to-many included) to a column of the entity they reach.
 */
export function resolveTenant(dataSource: DataSource, subject: EntityMetadata, tenantColumn: string | undefined, tenantOf: TenantOf | undefined): ResolvedTenant | undefined {
  if (tenantOf) return { kind: 'function', description: 'tenantOf()', tenantOf };
  if (!tenantColumn) return undefined;
  const own = columnOf(subject, tenantColumn);
  if (own) return { kind: 'column', description: tenantColumn, column: own };
  const segments = tenantColumn.split('.');
  const notFound = () =>
    new MetadataError(`${subject.name}: tenantColumn '${tenantColumn}' is not a column of the subject`, { entity: subject.name, field: tenantColumn });
  if (segments.length < 2 || segments.some((s) => s.length === 0)) throw notFound();
  const columnName = segments[segments.length - 1];
  const relations = segments.slice(0, -1);
  // Walk the relations first, to name the entity that should hold the column.
  let owner = subject;
  const through: string[] = [];
  for (const segment of relations) {
    const relation = owner.relations.find((r) => r.propertyPath === segment || r.propertyName === segment);
    if (!relation) {
      const known = owner.relations.map((r) => r.propertyPath).join(', ') || 'none';
      throw new MetadataError(`${subject.name}: tenantColumn '${tenantColumn}' names unknown relation '${segment}' on ${owner.name} (its relations: ${known})`, {
        entity: subject.name,
        field: tenantColumn,
      });
    }
    owner = relation.inverseEntityMetadata;
    through.push(owner.name);
  }
  const column = columnOf(owner, columnName);
  if (!column) {
    throw new MetadataError(`${subject.name}: tenantColumn '${tenantColumn}' names '${columnName}', which is not a column of ${owner.name}`, {
      entity: subject.name,
      field: tenantColumn,
    });
  }
  // From the owner's side this is a path walked from the subject: 'Customer.channels'.
  const link = resolveLink(dataSource, owner, subject, `${subject.name}.${relations.join('.')}`);
  return { kind: 'relation', description: tenantColumn, owner, column, link, through };
}
