import { type DataSource, type QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';
import type { TableColumnOptions } from 'typeorm/schema-builder/options/TableColumnOptions.js';
import { MetadataError } from '../errors.js';
import { type Dialect, dialectOf, sqlOf } from './dialect.js';

/** The layout this code reads and writes; start() migrates older layouts forward and refuses newer ones. */
export const ENGINE_SCHEMA_VERSION = 4;

export interface EngineTableNames {
  /** Table paths, schema-qualified when the DataSource names a PostgreSQL schema. */
  requests: string;
  vault: string;
  subjects: string;
  meta: string;
  /** The default audit trail's entries (its head pointers go into `<audit>_heads`). */
  audit: string;
  /** Per-tenant rate limit state: the row every claim of a tenant locks, and its rows-per-second token bucket. */
  tenantLimits: string;
  /** Unqualified base of index names. */
  prefix: string;
}

/** The engine's table paths; on PostgreSQL they live in the DataSource's `schema` when one is configured. */
export function engineTableNames(dataSource: DataSource, prefix: string): EngineTableNames {
  const schema = dialectOf(dataSource) === 'postgres' ? (dataSource.options as { schema?: string }).schema : undefined;
  const path = (name: string) => (schema ? `${schema}.${name}` : name);
  return { requests: path(`${prefix}requests`), vault: path(`${prefix}vault`), subjects: path(`${prefix}subject_states`), meta: path(`${prefix}meta`), audit: path(`${prefix}audit`), tenantLimits: path(`${prefix}tenant_limits`), prefix };
}

export interface EnsureOptions {
  /**
   * Canonical form of a stored id of `subjectType`, or null when it has none (layout 1 stored ids as callers spelled
   * them). Rows of other subject types (another engine sharing the prefix) are left as they are.
   */
  canonical?: { subjectType: string; id: (raw: string) => string | null };
}

/**
 * The engine's own tables live in the host's database, created with TypeORM's schema API so the same
 * definitions work on every supported database. Times are epoch milliseconds (bigint) to stay
 * independent of each driver's timezone handling. A `<prefix>meta` row records the layout version.
 */
export async function ensureEngineTables(dataSource: DataSource, names: EngineTableNames, options: EnsureOptions = {}): Promise<void> {
  const runner = dataSource.createQueryRunner();
  try {
    const columns = await engineColumns(dataSource);
    const version = await storedVersion(dataSource, runner, names);
    if (version > ENGINE_SCHEMA_VERSION) {
      throw new MetadataError(
        `The privacy-engine tables (prefix '${names.prefix}') are at layout version ${version}, newer than this version of privacy-engine supports (${ENGINE_SCHEMA_VERSION}); upgrade privacy-engine`,
      );
    }
    await runner.createTable(new Table({ name: names.meta, columns: [{ ...columns.key('name', 64), isPrimary: true }, { name: 'value', type: 'varchar', length: '64' }] }), true);
    if (version === 1) await migrateV1(dataSource, runner, names, columns, options);
    if (version >= 1 && version < 3) await migrateV2(runner, names, columns);
    if (version >= 1 && version < 4) await migrateV3(runner, names);
    await runner.createTable(requestsTable(names, columns), true);
    await runner.createTable(vaultTable(dataSource, names, columns), true);
    await runner.createTable(subjectsTable(names.subjects, columns), true);
    await runner.createTable(tenantLimitsTable(names.tenantLimits, columns), true);
    if (version < ENGINE_SCHEMA_VERSION) await writeVersion(dataSource, names);
  } finally {
    await runner.release();
  }
}

interface EngineColumns {
  dialect: Dialect;
  /** A varchar compared exactly: on MySQL/MariaDB a binary, no-pad collation (not the database's case-insensitive default). */
  key(name: string, length: number, nullable?: boolean): TableColumnOptions;
  longText: string;
  blob: string;
}

async function engineColumns(dataSource: DataSource): Promise<EngineColumns> {
  const dialect = dialectOf(dataSource);
  let collation: string | undefined;
  if (dialect === 'mysql') {
    // NO PAD collations compare trailing spaces too; utf8mb4_bin (PAD SPACE) is the fallback on old servers.
    const found: Array<{ Collation: string }> = await dataSource.query(
      "SHOW COLLATION WHERE `Collation` IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin')",
    );
    collation = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin'].find((c) => found.some((f) => f.Collation === c));
  }
  return {
    dialect,
    key: (name, length, nullable = false) => ({
      name,
      type: 'varchar',
      length: String(length),
      isNullable: nullable,
      ...(collation ? { charset: 'utf8mb4', collation } : {}),
    }),
    longText: dialect === 'mysql' ? 'longtext' : 'text',
    blob: dialect === 'postgres' ? 'bytea' : dialect === 'mysql' ? 'longblob' : 'blob',
  };
}

function requestsTable(names: EngineTableNames, c: EngineColumns): Table {
  return new Table({
    name: names.requests,
    columns: [
      { ...c.key('id', 64), isPrimary: true },
      { name: 'type', type: 'varchar', length: '16' },
      { name: 'status', type: 'varchar', length: '16' },
      c.key('subject_type', 128),
      c.key('subject_id', 191),
      c.key('tenant_id', 191, true),
      { name: 'requested_by', type: 'varchar', length: '191' },
      // 'export' or 'erasure' while a request is queued or running, else null: with the subject's parts it is unique,
      // so two concurrent calls cannot both start the same work.
      c.key('active_family', 16, true),
      { name: 'created_at', type: 'bigint' },
      { name: 'updated_at', type: 'bigint' },
      { name: 'started_at', type: 'bigint', isNullable: true },
      { name: 'finished_at', type: 'bigint', isNullable: true },
      { name: 'due_at', type: 'bigint' },
      { name: 'progress_done', type: 'bigint', default: 0 },
      { name: 'progress_total', type: 'bigint', default: 0 },
      { name: 'body', type: c.longText },
      ...leaseColumns(c),
    ],
    indices: [subjectIndex(names), activeIndex(names), ...layout4Indices(names)],
  });
}

/**
 * Layout 4: a tenant's running requests are counted on every claim under a rate limit, and other processes' event
 * pollers read the requests changed since their last poll.
 */
function layout4Indices(names: EngineTableNames): TableIndex[] {
  return [
    new TableIndex({ name: `IDX_${names.prefix}requests_tenant`, columnNames: ['tenant_id', 'status'] }),
    new TableIndex({ name: `IDX_${names.prefix}requests_updated`, columnNames: ['updated_at'] }),
  ];
}

/**
 * Layout 4: one row per tenant ('' stands for requests without one). A claim under `maxRunning` locks the row, so two
 * workers cannot both count the tenant's running requests below the limit; `rowsPerSecond` is a token bucket in
 * milli-tokens, refilled from `refilled_at` (epoch ms, wall clock).
 */
function tenantLimitsTable(name: string, c: EngineColumns): Table {
  return new Table({
    name,
    columns: [
      { ...c.key('tenant_key', 191), isPrimary: true },
      { name: 'tokens_milli', type: 'bigint', default: 0 },
      { name: 'refilled_at', type: 'bigint', default: 0 },
    ],
  });
}

/** Layout 3 → 4: the indexes above (the tenant limits table is created like every engine table). */
async function migrateV3(runner: QueryRunner, names: EngineTableNames): Promise<void> {
  const requests = await runner.getTable(names.requests);
  if (!requests) return;
  for (const index of layout4Indices(names)) {
    if (!requests.indices.some((i) => i.name === index.name)) await runner.createIndex(names.requests, index);
  }
}

function subjectIndex(names: EngineTableNames): TableIndex {
  return new TableIndex({ name: `IDX_${names.prefix}requests_subject`, columnNames: ['subject_type', 'subject_id', 'status'] });
}

/**
 * One active request per family and subject. The subject is its type and canonical id (its primary key); the tenant is
 * read from the subject's row, so it is stored but not part of the key (NULLs would also make a unique key never match).
 */
function activeIndex(names: EngineTableNames): TableIndex {
  return new TableIndex({ name: `UQ_${names.prefix}requests_active`, columnNames: ['subject_type', 'subject_id', 'active_family'], isUnique: true });
}

function vaultTable(dataSource: DataSource, names: EngineTableNames, c: EngineColumns): Table {
  return new Table({
    name: names.vault,
    columns: [
      { name: 'id', type: dialectOf(dataSource) === 'sqlite' ? 'integer' : 'bigint', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
      { name: 'request_id', type: 'varchar', length: '64' },
      { name: 'kind', type: 'varchar', length: '16' },
      { name: 'seq', type: 'bigint' },
      { name: 'payload', type: c.blob },
      { name: 'created_at', type: 'bigint' },
    ],
    indices: [vaultIndex(names)],
  });
}

/** One entry per (request, kind, seq): a second worker replaying a batch cannot add its entries beside the first's. */
function vaultIndex(names: EngineTableNames): TableIndex {
  return new TableIndex({ name: `UQ_${names.prefix}vault_request`, columnNames: ['request_id', 'kind', 'seq'], isUnique: true });
}

/** Layout 3: the worker running a request and until when (epoch ms); renewed by heartbeat, taken over only once expired. */
function leaseColumns(c: EngineColumns): TableColumnOptions[] {
  return [c.key('lease_owner', 64, true), { name: 'lease_expires_at', type: 'bigint', isNullable: true }];
}

/** Layout 2 → 3: request leases, and a unique vault key (replacing the plain index of the same columns). */
async function migrateV2(runner: QueryRunner, names: EngineTableNames, c: EngineColumns): Promise<void> {
  const requests = await runner.getTable(names.requests);
  if (requests) {
    for (const column of leaseColumns(c)) {
      if (!requests.findColumnByName(column.name)) await runner.addColumn(names.requests, new TableColumn(column));
    }
  }
  const vault = await runner.getTable(names.vault);
  if (vault && !vault.indices.some((i) => i.name === vaultIndex(names).name)) {
    const old = vault.indices.find((i) => i.name === `IDX_${names.prefix}vault_request`);
    if (old) await runner.dropIndex(names.vault, old);
    await runner.createIndex(names.vault, vaultIndex(names));
  }
}

function subjectsTable(name: string, c: EngineColumns): Table {
  return new Table({
    name,
    columns: [
      { ...c.key('subject_type', 128), isPrimary: true },
      { ...c.key('subject_id', 191), isPrimary: true },
      c.key('tenant_id', 191, true),
      { name: 'state', type: 'varchar', length: '16' },
      { name: 'request_id', type: 'varchar', length: '64' },
      { name: 'updated_at', type: 'bigint' },
    ],
  });
}

/** 0: no tables yet; 1: the first layout (no meta table, joined `|` keys); else the meta row. */
async function storedVersion(dataSource: DataSource, runner: QueryRunner, names: EngineTableNames): Promise<number> {
  if (await runner.hasTable(names.meta)) {
    const { q, table, params } = sqlOf(dataSource);
    const p = params();
    const rows = await dataSource.query(`SELECT ${q('value')} FROM ${table(names.meta)} WHERE ${q('name')} = ${p.add('schema_version')}`, p.values);
    if (rows.length) return Number(rows[0].value);
  }
  return (await runner.hasTable(names.requests)) ? 1 : 0;
}

async function writeVersion(dataSource: DataSource, names: EngineTableNames): Promise<void> {
  const { q, table, params } = sqlOf(dataSource);
  const find = params();
  const rows = await dataSource.query(`SELECT ${q('value')} FROM ${table(names.meta)} WHERE ${q('name')} = ${find.add('schema_version')}`, find.values);
  const p = params();
  if (rows.length) {
    await dataSource.query(`UPDATE ${table(names.meta)} SET ${q('value')} = ${p.add(String(ENGINE_SCHEMA_VERSION))} WHERE ${q('name')} = ${p.add('schema_version')}`, p.values);
    return;
  }
  try {
    await dataSource.query(`INSERT INTO ${table(names.meta)} (${q('name')}, ${q('value')}) VALUES (${p.add('schema_version')}, ${p.add(String(ENGINE_SCHEMA_VERSION))})`, p.values);
  } catch (error) {
    // A second process starting at the same moment wrote it first.
    const again = await dataSource.query(`SELECT ${q('value')} FROM ${table(names.meta)} WHERE ${q('name')} = ${params().add('schema_version')}`, ['schema_version']);
    if (!again.length) throw error;
  }
}

/**
 * Layout 1 → 2: the joined `active_key` ('family|type|tenant|id') becomes the `active_family` column under a unique key
 * of separate parts, subject ids are rewritten in canonical form, and subject states are keyed by (type, id) columns
 * instead of a joined string. Each step can run again if a previous start() stopped half-way.
 */
async function migrateV1(dataSource: DataSource, runner: QueryRunner, names: EngineTableNames, c: EngineColumns, options: EnsureOptions): Promise<void> {
  const { q, table, params } = sqlOf(dataSource);
  const requests = table(names.requests);
  let current = await runner.getTable(names.requests);
  if (!current) return;

  if (!current.findColumnByName('active_family')) await runner.addColumn(names.requests, new TableColumn(c.key('active_family', 16, true)));
  if (current.findColumnByName('active_key')) {
    await dataSource.query(
      `UPDATE ${requests} SET ${q('active_family')} = CASE WHEN ${q('active_key')} LIKE 'export|%' THEN 'export' ELSE 'erasure' END WHERE ${q('active_key')} IS NOT NULL`,
    );
  }

  if (options.canonical) {
    const find = params();
    const rows: Array<{ id: string; subject_id: string }> = await dataSource.query(
      `SELECT ${q('id')}, ${q('subject_id')} FROM ${requests} WHERE ${q('subject_type')} = ${find.add(options.canonical.subjectType)}`,
      find.values,
    );
    for (const row of rows) {
      const canonical = options.canonical.id(String(row.subject_id));
      if (canonical === null || canonical === String(row.subject_id)) continue;
      const p = params();
      await dataSource.query(`UPDATE ${requests} SET ${q('subject_id')} = ${p.add(canonical)} WHERE ${q('id')} = ${p.add(row.id)}`, p.values);
    }
  }

  // Two spellings of one subject may both have been active; the older keeps the slot, the later one runs unguarded.
  const active: Array<{ id: string; subject_type: string; subject_id: string; active_family: string }> = await dataSource.query(
    `SELECT ${q('id')}, ${q('subject_type')}, ${q('subject_id')}, ${q('active_family')} FROM ${requests} WHERE ${q('active_family')} IS NOT NULL ORDER BY ${q('created_at')}, ${q('id')}`,
  );
  const seen = new Set<string>();
  for (const row of active) {
    const key = JSON.stringify([row.subject_type, row.subject_id, row.active_family]);
    if (!seen.has(key)) {
      seen.add(key);
      continue;
    }
    const p = params();
    await dataSource.query(`UPDATE ${requests} SET ${q('active_family')} = NULL WHERE ${q('id')} = ${p.add(row.id)}`, p.values);
  }

  current = (await runner.getTable(names.requests))!;
  if (current.findColumnByName('active_key')) await runner.dropColumn(names.requests, 'active_key');
  if (c.dialect === 'mysql') {
    // Exact comparison for the key parts, as fresh tables have.
    for (const [column, length, nullable] of [['subject_type', 128, false], ['subject_id', 191, false], ['tenant_id', 191, true]] as const) {
      const def = c.key(column, length, nullable);
      if (!def.collation) continue;
      await dataSource.query(`ALTER TABLE ${requests} MODIFY ${q(column)} varchar(${length}) CHARACTER SET utf8mb4 COLLATE ${def.collation} ${nullable ? 'NULL' : 'NOT NULL'}`);
    }
  }
  current = (await runner.getTable(names.requests))!;
  if (!current.indices.some((i) => i.name === activeIndex(names).name)) await runner.createIndex(names.requests, activeIndex(names));

  await migrateSubjectStatesV1(dataSource, runner, names, c);
}

async function migrateSubjectStatesV1(dataSource: DataSource, runner: QueryRunner, names: EngineTableNames, c: EngineColumns): Promise<void> {
  const { q, table, params } = sqlOf(dataSource);
  const staging = `${names.subjects}_v2`;
  const old = await runner.getTable(names.subjects);
  if (!old || !old.findColumnByName('subject_key')) {
    // A start() that stopped between dropping the old table and renaming the new one left the copy under its staging name.
    if (!old && (await runner.hasTable(staging))) await runner.renameTable(staging, names.subjects.split('.').pop()!);
    return;
  }
  await runner.dropTable(staging, true);
  await runner.createTable(subjectsTable(staging, c));

  // The request that set a state names its subject in separate parts; the joined key is only parsed when that request is gone.
  const rows: Array<{ subject_key: string; state: string; request_id: string; updated_at: unknown }> = await dataSource.query(
    `SELECT s.${q('subject_key')}, s.${q('state')}, s.${q('request_id')}, s.${q('updated_at')} FROM ${table(names.subjects)} s`,
  );
  const latest = new Map<string, { type: string; id: string; tenant: string | null; state: string; requestId: string; updatedAt: number }>();
  for (const row of rows) {
    const p = params();
    const [request] = await dataSource.query(
      `SELECT ${q('subject_type')}, ${q('subject_id')}, ${q('tenant_id')} FROM ${table(names.requests)} WHERE ${q('id')} = ${p.add(row.request_id)}`,
      p.values,
    );
    const parts = String(row.subject_key).split('|');
    const type = request ? String(request.subject_type) : parts[0];
    const id = request ? String(request.subject_id) : parts[parts.length - 1];
    const tenant = request ? (request.tenant_id === null ? null : String(request.tenant_id)) : parts.slice(1, -1).join('|') || null;
    const entry = { type, id, tenant, state: String(row.state), requestId: String(row.request_id), updatedAt: Number(row.updated_at) };
    const key = JSON.stringify([type, id]);
    const seen = latest.get(key);
    if (!seen || seen.updatedAt <= entry.updatedAt) latest.set(key, entry);
  }
  for (const e of latest.values()) {
    const p = params();
    await dataSource.query(
      `INSERT INTO ${table(staging)} (${['subject_type', 'subject_id', 'tenant_id', 'state', 'request_id', 'updated_at'].map(q).join(', ')}) VALUES (${[e.type, e.id, e.tenant, e.state, e.requestId, e.updatedAt].map((v) => p.add(v)).join(', ')})`,
      p.values,
    );
  }
  await runner.dropTable(names.subjects);
  await runner.renameTable(staging, names.subjects.split('.').pop()!);
}

