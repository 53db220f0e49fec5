import type { DataSource, EntityMetadata } from 'typeorm';
import type { RelationMetadata } from 'typeorm/metadata/RelationMetadata.js';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import { MetadataError } from '../errors.js';
import type { LinkSpec, PolymorphicLink } from './declarations.js';
import { type SqlParams, quoteTablePath, tuple, sqlOf } from '../db/dialect.js';

/** One step of a relation path, reduced to the columns that connect two tables. */
type Hop =
  | { kind: 'foreign-key'; from: ColumnMetadata[]; target: EntityMetadata; to: ColumnMetadata[] }
  | { kind: 'junction'; from: ColumnMetadata[]; junction: EntityMetadata; junctionFrom: ColumnMetadata[]; junctionTo: ColumnMetadata[]; target: EntityMetadata; to: ColumnMetadata[] };

export interface ResolvedLink {
  /** The link as declared, for the data map and error messages. */
  description: string;
  kind: 'relation' | 'polymorphic';
  /**
   * 'exclusive' when every hop from the row towards the subject is many-to-one or one-to-one (the row belongs
   * to exactly one subject); 'shared' when the path crosses a one-to-many or many-to-many hop (a ticket one is
   * only CC'd on, a group's members): other people's data may sit in the same row.
   */
  sharing: 'exclusive' | 'shared';
  /** Entities the path walks through after the declaring one, ending at the subject. */
  through: string[];
  /** The foreign-key column when the link is a single direct column to the subject (used for index advice). */
  directColumn?: ColumnMetadata;
  /** SQL condition selecting the rows of `alias` that belong to the subject. */
  condition(alias: string, params: SqlParams, subjectId: unknown): string;
}

export function resolveLink(dataSource: DataSource, entity: EntityMetadata, subject: EntityMetadata, spec: LinkSpec): ResolvedLink {
  return typeof spec === 'string' ? resolveRelationPath(dataSource, entity, subject, spec) : resolvePolymorphic(dataSource, entity, spec);
}

function resolveRelationPath(dataSource: DataSource, entity: EntityMetadata, subject: EntityMetadata, path: string): ResolvedLink {
  const segments = path.split('.');
  if (segments.some((s) => s.length === 0)) {
    throw new MetadataError(`${entity.name}: link '${path}' is not a valid relation path`, { entity: entity.name, field: path });
  }
  const hops: Hop[] = [];
  // Whether each hop, walked from the row towards the subject, reaches at most one row (for `sharing`).
  const toOne: boolean[] = [];
  let current = entity;
  let index = 0;
  // The row's side: relations of the entity reached so far, up to a segment naming the subject entity.
  for (; index < segments.length; index++) {
    const segment = segments[index];
    const relation = relationOf(current, segment);
    if (!relation) {
      if (namesEntity(subject, segment)) break;
      throw unknownRelation(entity, subject, path, segment, current);
    }
    hops.push(hopFor(relation));
    toOne.push(relation.isManyToOne || relation.isOneToOne);
    current = relation.inverseEntityMetadata;
  }
  if (index < segments.length) {
    // The subject's side ('Customer.user', 'user.Customer.user'): walked from the subject along relations declared
    // on the entities it reaches, with or without an inverse side, until it arrives where the row's side ended.
    const meeting = current;
    const reversed: Array<{ hop: Hop; toOne: boolean }> = [];
    let from = subject;
    for (const segment of segments.slice(index + 1)) {
      const relation = relationOf(from, segment);
      if (!relation) throw unknownRelation(entity, subject, path, segment, from);
      // Walked backwards, a one-to-many is many-to-one: each row has one owner on the subject's side.
      reversed.unshift({ hop: reverseHopFor(relation), toOne: relation.isOneToOne || relation.isOneToMany });
      from = relation.inverseEntityMetadata;
    }
    // A child of a single table is reached through relations to its parent class: same table, its type filtered.
    const arrives = from.target === meeting.target || (from.tablePath === meeting.tablePath && typeof meeting.target === 'function' && meeting.target.prototype instanceof (from.target as Function));
    if (!arrives) {
      const where = index === 0 ? entity.name : `${meeting.name}, where '${segments.slice(0, index).join('.')}' arrives`;
      throw new MetadataError(
        `${entity.name}: link '${path}' walks from the subject to ${from.name}, not to ${where}`,
        { entity: entity.name, field: path },
      );
    }
    for (const r of reversed) {
      hops.push(r.hop);
      toOne.push(r.toOne);
    }
    current = subject;
  }
  if (hops.length === 0) {
    throw new MetadataError(`${entity.name}: link '${path}' is not a valid relation path`, { entity: entity.name, field: path });
  }
  if (current.target !== subject.target) {
    throw new MetadataError(
      `${entity.name}: link '${path}' ends at ${current.name}, which is not the data subject ${subject.name}`,
      { entity: entity.name, field: path },
    );
  }
  const subjectKey = subject.primaryColumns;
  const last = hops[hops.length - 1];
  const direct =
    hops.length === 1 && last.kind === 'foreign-key' && last.from.length === 1 && sameColumns(last.to, subjectKey) ? last.from[0] : undefined;

  const { q } = sqlOf(dataSource);
  const table = (m: EntityMetadata) => quoteTablePath(dataSource, m.tablePath);

  return {
    description: path,
    kind: 'relation',
    sharing: toOne.every(Boolean) ? 'exclusive' : 'shared',
    through: hops.map((h) => h.target.name),
    directColumn: direct,
    condition(alias, params, subjectId) {
      // Built from the subject outwards: each hop becomes "columns IN (SELECT ... WHERE <inner>)".
      // Semi-joins never duplicate rows, and they ignore soft-delete flags of rows along the path on purpose:
      // an archived opportunity still links its quotes to the person.
      let aliasCounter = 0;
      const build = (hopIndex: number, from: string): string => {
        const hop = hops[hopIndex];
        const fromCols = hop.from.map((c) => `${from}.${q(c.databaseName)}`);
        const isLast = hopIndex === hops.length - 1;
        const t = `pe_l${aliasCounter++}`;
        const targetCols = hop.to.map((c) => `${t}.${q(c.databaseName)}`);
        // Parameters are positional: build each condition only when it is used.
        const targetWhere = () => (isLast ? `${t}.${q(subjectKey[0].databaseName)} = ${params.add(subjectId)}` : build(hopIndex + 1, t));
        const endsAtSubjectKey = isLast && sameColumns(hop.to, subjectKey);
        if (hop.kind === 'foreign-key') {
          if (endsAtSubjectKey) return `${fromCols[0]} = ${params.add(subjectId)}`;
          return `${tuple(fromCols)} IN (SELECT ${targetCols.join(', ')} FROM ${table(hop.target)} ${t} WHERE ${targetWhere()})`;
        }
        const j = `pe_l${aliasCounter++}`;
        const jFrom = hop.junctionFrom.map((c) => `${j}.${q(c.databaseName)}`);
        const jTo = hop.junctionTo.map((c) => `${j}.${q(c.databaseName)}`);
        const junctionWhere = endsAtSubjectKey
          ? `${jTo[0]} = ${params.add(subjectId)}`
          : `${tuple(jTo)} IN (SELECT ${targetCols.join(', ')} FROM ${table(hop.target)} ${t} WHERE ${targetWhere()})`;
        return `${tuple(fromCols)} IN (SELECT ${jFrom.join(', ')} FROM ${table(hop.junction)} ${j} WHERE ${junctionWhere})`;
      };
      return build(0, alias);
    },
  };
}

function relationOf(metadata: EntityMetadata, segment: string): RelationMetadata | undefined {
  return metadata.relations.find((r) => r.propertyPath === segment || r.propertyName === segment);
}

function namesEntity(metadata: EntityMetadata, segment: string): boolean {
  return segment === metadata.name || segment === metadata.targetName;
}

function unknownRelation(entity: EntityMetadata, subject: EntityMetadata, path: string, segment: string, on: EntityMetadata): MetadataError {
  const known = on.relations.map((r) => r.propertyPath).join(', ') || 'none';
  // The usual cause: the relation is declared on the subject only (Customer.user with no inverse on User).
  const fromSubject = on.target === subject.target ? undefined : subject.relations.find((r) => r.inverseEntityMetadata.target === on.target);
  const hint = fromSubject ? `; ${subject.name}.${fromSubject.propertyPath} points at ${on.name}: walk it from the subject's side with '${subject.name}.${fromSubject.propertyPath}'` : '';
  return new MetadataError(`${entity.name}: link '${path}' names unknown relation '${segment}' on ${on.name} (its relations: ${known})${hint}`, {
    entity: entity.name,
    field: path,
  });
}

/** Reduces any relation kind to "these columns here match those columns there" (through a junction for many-to-many). */
function hopFor(relation: RelationMetadata): Hop {
  const target = relation.inverseEntityMetadata;
  if (relation.isManyToMany) {
    const owner = relation.isOwning ? relation : relation.inverseRelation!;
    const junction = owner.junctionEntityMetadata!;
    // On the owner, joinColumns point at the owner's table and inverseJoinColumns at the other side.
    const [hereSide, thereSide] = relation.isOwning ? [owner.joinColumns, owner.inverseJoinColumns] : [owner.inverseJoinColumns, owner.joinColumns];
    return {
      kind: 'junction',
      from: hereSide.map((c) => c.referencedColumn!),
      junction,
      junctionFrom: hereSide,
      junctionTo: thereSide,
      target,
      to: thereSide.map((c) => c.referencedColumn!),
    };
  }
  if (relation.isOwning) {
    // Many-to-one, or the owning side of one-to-one: the foreign key is on this table.
    return { kind: 'foreign-key', from: relation.joinColumns, target, to: relation.joinColumns.map((c) => c.referencedColumn!) };
  }
  // One-to-many, or the inverse side of one-to-one: the foreign key is on the target table.
  const fk = relation.inverseRelation!.joinColumns;
  return { kind: 'foreign-key', from: fk.map((c) => c.referencedColumn!), target, to: fk };
}

/** The hop of `hopFor(relation)` walked the other way: from the relation's target back to the entity declaring it. */
function reverseHopFor(relation: RelationMetadata): Hop {
  const source = relation.entityMetadata;
  const forward = hopFor(relation);
  if (forward.kind === 'junction') {
    return { kind: 'junction', from: forward.to, junction: forward.junction, junctionFrom: forward.junctionTo, junctionTo: forward.junctionFrom, target: source, to: forward.from };
  }
  return { kind: 'foreign-key', from: forward.to, target: source, to: forward.from };
}

function resolvePolymorphic(dataSource: DataSource, entity: EntityMetadata, spec: PolymorphicLink): ResolvedLink {
  const column = (name: string, role: string): ColumnMetadata => {
    const found = entity.columns.find((c) => c.propertyPath === name || c.databaseName === name);
    if (!found) {
      throw new MetadataError(`${entity.name}: polymorphic link ${role} '${name}' is not a column of ${entity.name}`, {
        entity: entity.name,
        field: name,
      });
    }
    return found;
  };
  const typeColumn = column(spec.typeColumn, 'typeColumn');
  const idColumn = column(spec.idColumn, 'idColumn');
  const numericId = isNumericColumn(idColumn);
  const { q } = sqlOf(dataSource);
  return {
    description: `${spec.typeColumn}='${spec.type}' / ${spec.idColumn}`,
    kind: 'polymorphic',
    // The row names one subject in its own columns.
    sharing: 'exclusive',
    through: [],
    condition(alias, params, subjectId) {
      // A bigint id arrives as a decimal string; Number() would round it above 2^53 and match another subject's rows.
      const id = numericId && typeof subjectId === 'number' ? subjectId : numericId && Number.isSafeInteger(Number(subjectId)) ? Number(subjectId) : String(subjectId);
      return `(${alias}.${q(typeColumn.databaseName)} = ${params.add(spec.type)} AND ${alias}.${q(idColumn.databaseName)} = ${params.add(id)})`;
    },
  };
}

function sameColumns(a: ColumnMetadata[], b: ColumnMetadata[]): boolean {
  return a.length === b.length && a.every((c, i) => c.databaseName === b[i].databaseName);
}

export function isNumericColumn(column: ColumnMetadata): boolean {
  const type = typeof column.type === 'function' ? column.type.name.toLowerCase() : String(column.type).toLowerCase();
  return /^(number|int|integer|smallint|bigint|tinyint|mediumint|int2|int4|int8|float|double|real|decimal|numeric)/.test(type);
}
