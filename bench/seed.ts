import { DataSource, type DataSourceOptions } from 'typeorm';
import { BENCH_TABLES, OTHER_CONTACTS, OTHER_ROWS_PER_TABLE, SUBJECT_ID, SUBJECT_TABLE, type SqlGen, TENANT_ID, benchEntities, rowsPerTable } from './schema.js';

/**
 * One database per N (`pe_bench_<n>`), seeded once with set-based statements and reused while its marker
 * says it holds the right rows. Mutating cases run on a scratch copy (`pe_bench_<n>_scratch`).
 * Servers: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_MYSQL_URL (default mysql://root@127.0.0.1:3306, a MariaDB server).
 */

export type DbKind = 'postgres' | 'mysql';
export const DB_LABELS: Record<DbKind, string> = { postgres: 'PostgreSQL', mysql: 'MariaDB' };

/** Bump when the schema or the generated data changes: databases with another version are seeded again. */
const SEED_VERSION = 1;
const MARKER_TABLE = 'bench_seed_marker';

const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

export function databaseName(n: number, scratch = false): string {
  return `pe_bench_${n}${scratch ? '_scratch' : ''}`;
}

/** Connection URL of one database, for raw drivers (pg, mysql2). */
export function databaseUrl(db: DbKind, database: string): string {
  const url = new URL(db === 'postgres' ? POSTGRES_URL : MYSQL_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export function dataSourceOptions(db: DbKind, database: string): DataSourceOptions {
  const url = databaseUrl(db, database);
  if (db === 'postgres') return { type: 'postgres', url, entities: benchEntities, applicationName: 'privacy-engine-bench' };
  // As the test harness configures MariaDB: UTC, big numbers as strings, utf8mb4.
  return { type: 'mariadb', url, entities: benchEntities, timezone: 'Z', supportBigNumbers: true, bigNumberStrings: true, charset: 'UTF8MB4_UNICODE_CI' };
}

export async function openDataSource(db: DbKind, database: string, options: { synchronize?: boolean } = {}): Promise<DataSource> {
  return new DataSource({ ...dataSourceOptions(db, database), synchronize: options.synchronize ?? false }).initialize();
}

/** Runs statements on the server's admin database (create, drop, copy databases). */
async function admin(db: DbKind, statements: string[]): Promise<void> {
  const ds = await new DataSource(db === 'postgres' ? { type: 'postgres', url: POSTGRES_URL } : { type: 'mariadb', url: MYSQL_URL }).initialize();
  try {
    for (const sql of statements) await ds.query(sql);
  } finally {
    await ds.destroy();
  }
}

async function databaseExists(db: DbKind, database: string): Promise<boolean> {
  const ds = await new DataSource(db === 'postgres' ? { type: 'postgres', url: POSTGRES_URL } : { type: 'mariadb', url: MYSQL_URL }).initialize();
  try {
    const rows = db === 'postgres' ? await ds.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]) : await ds.query('SHOW DATABASES LIKE ?', [database]);
    return rows.length > 0;
  } finally {
    await ds.destroy();
  }
}

const q = (db: DbKind, name: string) => (db === 'postgres' ? `"${name}"` : `\`${name}\``);

function sqlGen(db: DbKind): SqlGen {
  const quote = (w: string) => `'${w.replace(/'/g, "''")}'`;
  return db === 'postgres'
    ? {
        hex: (salt) => `left(md5((g * ${salt})::text), 16)`,
        pick: (words, salt) => `(ARRAY[${words.map(quote).join(', ')}])[1 + (g * ${salt}) % ${words.length}]`,
        concat: (...parts) => `(${parts.join(' || ')})`,
        time: (seconds) => `(timestamp '2021-01-01 00:00:00' + g * interval '${seconds} second')`,
        int: (mod, salt) => `((g * ${salt}) % ${mod})`,
      }
    : {
        hex: (salt) => `LEFT(MD5(g * ${salt}), 16)`,
        pick: (words, salt) => `ELT(1 + (g * ${salt}) % ${words.length}, ${words.map(quote).join(', ')})`,
        concat: (...parts) => `CONCAT(${parts.join(', ')})`,
        time: (seconds) => `(TIMESTAMP '2021-01-01 00:00:00' + INTERVAL (g * ${seconds}) SECOND)`,
        int: (mod, salt) => `((g * ${salt}) % ${mod})`,
      };
}

/** `SELECT <columns> FROM <1..total as g>`, set-based on both servers. */
function series(db: DbKind, total: number, columns: string[]): string {
  return db === 'postgres'
    ? `SELECT ${columns.join(', ')} FROM generate_series(1, ${total}) AS g`
    : `SELECT ${columns.join(', ')} FROM (SELECT seq AS g FROM seq_1_to_${total}) AS s`;
}

/** Creates the database, its tables (TypeORM synchronize: keys, foreign keys, the (contactId, id) indexes) and the rows. */
async function seed(db: DbKind, database: string, n: number): Promise<void> {
  await admin(db, [
    db === 'postgres' ? `DROP DATABASE IF EXISTS ${q(db, database)} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${q(db, database)}`,
    db === 'postgres' ? `CREATE DATABASE ${q(db, database)}` : `CREATE DATABASE ${q(db, database)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
  ]);
  const ds = await openDataSource(db, database, { synchronize: true });
  // One connection: MariaDB's session settings must apply to the inserts.
  const runner = ds.createQueryRunner();
  try {
    await runner.connect();
    const s = sqlGen(db);
    const div = db === 'postgres' ? '/' : 'DIV';
    // Foreign keys are checked row by row; the generated rows are known to be valid.
    await runner.query(db === 'postgres' ? 'SET session_replication_role = replica' : 'SET SESSION foreign_key_checks = 0, unique_checks = 0');
    const contactColumns = { id: 'g', organizationId: `CASE WHEN g <= ${OTHER_CONTACTS / 2 + 1} THEN '${TENANT_ID}' ELSE 'org-other' END`, firstName: s.concat(`'First'`, 'g'), lastName: s.concat(`'Last'`, 'g'), email: s.concat(`'contact'`, 'g', `'@example.com'`), phone: s.concat(`'+1 555 0100 '`, 'g'), createdAt: s.time(3600) };
    await runner.query(`INSERT INTO ${q(db, SUBJECT_TABLE)} (${Object.keys(contactColumns).map((c) => q(db, c)).join(', ')}) ${series(db, OTHER_CONTACTS + 1, Object.values(contactColumns))}`);

    const counts = rowsPerTable(n);
    for (const [i, table] of BENCH_TABLES.entries()) {
      // Other contacts' rows are every `stride`-th row, interleaved with the subject's.
      const total = counts[i] + OTHER_ROWS_PER_TABLE;
      const stride = Math.floor(total / OTHER_ROWS_PER_TABLE);
      const owner = `CASE WHEN g % ${stride} = 0 AND g <= ${OTHER_ROWS_PER_TABLE * stride} THEN ${SUBJECT_ID + 1} + (g ${div} ${stride}) % ${OTHER_CONTACTS} ELSE ${SUBJECT_ID} END`;
      const columns = { id: 'g', ...table.values(s), contactId: owner };
      await runner.query(`INSERT INTO ${q(db, table.table)} (${Object.keys(columns).map((c) => q(db, c)).join(', ')}) ${series(db, total, Object.values(columns))}`);
    }
    for (const table of [SUBJECT_TABLE, ...BENCH_TABLES.map((t) => t.table)]) {
      if (db === 'postgres') {
        await runner.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), (SELECT max(id) FROM ${q(db, table)}))`);
        await runner.query(`VACUUM ANALYZE ${q(db, table)}`);
      } else {
        await runner.query(`ANALYZE TABLE ${q(db, table)}`);
      }
    }
    await runner.query(`CREATE TABLE ${q(db, MARKER_TABLE)} (version int NOT NULL, n int NOT NULL)`);
    await runner.query(`INSERT INTO ${q(db, MARKER_TABLE)} (version, n) VALUES (${SEED_VERSION}, ${n})`);
  } finally {
    await runner.release();
    await ds.destroy();
  }
}

/** The subject's rows over the bench tables (the subject's own row not counted). */
export async function countSubjectRows(ds: DataSource, db: DbKind): Promise<number> {
  let total = 0;
  for (const table of BENCH_TABLES) {
    const [row] = await ds.query(`SELECT COUNT(*) AS n FROM ${q(db, table.table)} WHERE ${q(db, 'contactId')} = ${SUBJECT_ID}`);
    total += Number(row.n);
  }
  return total;
}

async function isSeeded(db: DbKind, database: string, n: number): Promise<boolean> {
  if (!(await databaseExists(db, database))) return false;
  const ds = await openDataSource(db, database);
  try {
    const marker = await ds.query(`SELECT version, n FROM ${q(db, MARKER_TABLE)}`).catch(() => []);
    if (marker.length !== 1 || Number(marker[0].version) !== SEED_VERSION || Number(marker[0].n) !== n) return false;
    return (await countSubjectRows(ds, db)) === n;
  } finally {
    await ds.destroy();
  }
}

/** Reads every table once so the first case does not pay for a cold cache. */
async function prewarm(db: DbKind, database: string): Promise<void> {
  const ds = await openDataSource(db, database);
  try {
    for (const table of [SUBJECT_TABLE, ...BENCH_TABLES.map((t) => t.table)]) {
      await ds.query(`SELECT COUNT(*) FROM ${q(db, table)} WHERE ${q(db, 'deletedAt')} IS NULL`);
    }
    await countSubjectRows(ds, db);
  } finally {
    await ds.destroy();
  }
}

/** Makes sure `pe_bench_<n>` holds the generated CRM; returns how long seeding took (0 when reused). */
export async function ensureSeeded(db: DbKind, n: number): Promise<{ database: string; seededSeconds: number }> {
  const database = databaseName(n);
  let seededSeconds = 0;
  if (!(await isSeeded(db, database, n))) {
    const t0 = performance.now();
    await seed(db, database, n);
    seededSeconds = (performance.now() - t0) / 1000;
  }
  await prewarm(db, database);
  return { database, seededSeconds };
}

/**
 * PostgreSQL: a CHECKPOINT before each case, so that writing out what earlier cases changed does not slow it.
 * (MariaDB flushes in the background; there is no comparable statement without changing server settings.)
 */
export async function settle(db: DbKind): Promise<void> {
  if (db === 'postgres') await admin(db, ['CHECKPOINT']);
}

/** A fresh copy of `pe_bench_<n>` for a case that changes data: PostgreSQL copies it as a template, MariaDB seeds it again. */
export async function createScratch(db: DbKind, n: number): Promise<string> {
  const scratch = databaseName(n, true);
  if (db === 'postgres') {
    const create = `CREATE DATABASE ${q(db, scratch)} TEMPLATE ${q(db, databaseName(n))}`;
    await admin(db, [`DROP DATABASE IF EXISTS ${q(db, scratch)} WITH (FORCE)`]);
    // FILE_COPY (PostgreSQL 15+) copies the files instead of writing every page through the WAL.
    await admin(db, [`${create} STRATEGY = FILE_COPY`]).catch(() => admin(db, [create]));
  } else {
    await seed(db, scratch, n);
  }
  await prewarm(db, scratch);
  return scratch;
}

export async function dropScratch(db: DbKind, n: number): Promise<void> {
  const scratch = q(db, databaseName(n, true));
  await admin(db, [db === 'postgres' ? `DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${scratch}`]);
}
