/**
 * Runs suites against every database the engine supports: SQLite (always), PostgreSQL and MariaDB/MySQL
 * (when test/support/global-setup.ts found a server). Each `createDataSource()` call gets a FRESH database,
 * dropped again when the suite ends.
 *
 * ```ts
 * describeEachDatabase('export', (db) => {
 *   let dataSource: DataSource;
 *   beforeAll(async () => { dataSource = await db.createDataSource([Contact, Activity]); });
 *   it('...', async () => { ... });
 * });
 * ```
 *
 * Connection settings shared by every kind (and by `createDatabase().options`, for child processes):
 * - pools are small (poolSize 5): test files run in parallel;
 * - MariaDB/MySQL: TypeORM type 'mariadb' on a MariaDB server and 'mysql' on a MySQL server (that is what a host
 *   configures, and TypeORM's SQL differs: RETURNING, locking clauses, uuid type); `timezone: 'Z'`;
 *   `supportBigNumbers` / `bigNumberStrings` on (TypeORM's own defaults: bigint and decimal come back as strings,
 *   as they do from PostgreSQL); databases are created `CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci` (the
 *   case-insensitive kind hosts actually run; stored bytes round-trip exactly whatever the collation) and the
 *   connection uses the same collation. Override with PRIVACY_TEST_MYSQL_COLLATION=utf8mb4_bin.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DataSource, type DataSourceOptions, type EntitySchema } from 'typeorm';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { ProvidedDatabases } from './global-setup.js';

export type DatabaseKind = 'sqlite' | 'postgres' | 'mysql';

export interface TestDatabase {
  kind: DatabaseKind;
  /** 'SQLite' | 'PostgreSQL' | 'MariaDB' ('MySQL' when the server behind PRIVACY_TEST_MYSQL_URL is a MySQL). */
  label: string;
  /**
   * Creates a FRESH database (unique name per call) and an initialized TypeORM DataSource on it with
   * synchronize: true; destroyed and dropped in afterAll automatically. SQLite: better-sqlite3 ':memory:'.
   * Call it from beforeAll/beforeEach/it inside the describeEachDatabase callback.
   */
  createDataSource(entities: (Function | EntitySchema<any>)[], options?: { logging?: boolean }): Promise<DataSource>;
  /**
   * Connection options (type, host/url, database...) for a fresh database, without creating a DataSource: for
   * tests that spawn child processes (the options are plain JSON). Creates the database (SQLite: a temporary
   * file); it is dropped in afterAll automatically, or earlier with drop().
   */
  createDatabase(): Promise<{ options: DataSourceOptions; drop(): Promise<void> }>;
}

const KINDS: readonly DatabaseKind[] = ['sqlite', 'postgres', 'mysql'];
const POOL_SIZE = 5;
const MYSQL_COLLATION = (process.env.PRIVACY_TEST_MYSQL_COLLATION || 'utf8mb4_unicode_ci').toLowerCase();
const LOG_PREFIX = '[privacy-engine tests]';

const ENV_VARS: Record<Exclude<DatabaseKind, 'sqlite'>, string> = {
  postgres: 'PRIVACY_TEST_POSTGRES_URL',
  mysql: 'PRIVACY_TEST_MYSQL_URL',
};

function provided(): ProvidedDatabases {
  // Undefined when the run does not use test/support/global-setup.ts (e.g. another config): only SQLite then.
  const databases = inject('databases') as ProvidedDatabases | undefined;
  return databases ?? { postgres: null, mysql: null, redis: null, requireAll: false };
}

/** Admin URL of the Redis server found by the global setup, or undefined (then skip Redis-dependent tests). */
export function getRedisUrl(): string | undefined {
  return provided().redis?.url;
}

function labelOf(kind: DatabaseKind, databases: ProvidedDatabases): string {
  if (kind === 'sqlite') return 'SQLite';
  if (kind === 'postgres') return 'PostgreSQL';
  return databases.mysql?.flavor === 'mysql' ? 'MySQL' : 'MariaDB';
}

// ---------------------------------------------------------------------------------------------------------------
// Database names: pe_<hash of the test file>_<creation time, base36 ms>_<random>. The global setup drops
// leftovers older than a few hours by parsing this shape; keep the two in step.

function fileHash(): string {
  const testPath = expect.getState().testPath ?? 'unknown';
  return createHash('sha1').update(relative(process.cwd(), testPath)).digest('hex').slice(0, 8);
}

function freshDatabaseName(): string {
  const random = randomBytes(8).readBigUInt64BE().toString(36).padStart(6, '0').slice(-6);
  return `pe_${fileHash()}_${Date.now().toString(36)}_${random}`;
}

function assertSafeName(name: string): void {
  if (!/^pe_[0-9a-z_]+$/.test(name)) throw new Error(`refusing unexpected test database name: ${name}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Admin operations: one short-lived connection each.

async function withPostgresAdmin<T>(adminUrl: string, fn: (client: import('pg').Client) => Promise<T>): Promise<T> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000, application_name: 'privacy-engine-tests-admin' });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function withMysqlAdmin<T>(adminUrl: string, fn: (connection: import('mysql2/promise').Connection) => Promise<T>): Promise<T> {
  const { default: mysql } = await import('mysql2/promise');
  const connection = await mysql.createConnection({ uri: adminUrl, connectTimeout: 10_000 });
  try {
    return await fn(connection);
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

interface CreatedDatabase {
  options: DataSourceOptions;
  drop(): Promise<void>;
}

async function createPostgresDatabase(adminUrl: string): Promise<CreatedDatabase> {
  const name = freshDatabaseName();
  assertSafeName(name);
  await withPostgresAdmin(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    options: {
      type: 'postgres',
      url: url.toString(),
      poolSize: POOL_SIZE,
      applicationName: 'privacy-engine-tests',
      connectTimeoutMS: 10_000,
    },
    // FORCE ends sessions still attached (a worker that was not stopped, a child process...).
    drop: () => withPostgresAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

async function createMysqlDatabase(adminUrl: string, flavor: 'mariadb' | 'mysql'): Promise<CreatedDatabase> {
  const name = freshDatabaseName();
  assertSafeName(name);
  await withMysqlAdmin(adminUrl, (connection) => connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE ${MYSQL_COLLATION}`));
  const url = new URL(adminUrl);
  return {
    options: {
      type: flavor,
      host: url.hostname,
      port: url.port ? Number(url.port) : 3306,
      username: decodeURIComponent(url.username || 'root'),
      password: decodeURIComponent(url.password),
      database: name,
      poolSize: POOL_SIZE,
      charset: MYSQL_COLLATION.toUpperCase(),
      timezone: 'Z',
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: 10_000,
    },
    drop: () =>
      withMysqlAdmin(adminUrl, async (connection) => {
        // The MySQL side of Postgres' WITH (FORCE): a session left inside a transaction would otherwise hold a
        // metadata lock and make DROP DATABASE wait (lock_wait_timeout defaults to a day).
        const [sessions] = await connection.query<any[]>('select id from information_schema.processlist where db = ? and id <> connection_id()', [name]);
        for (const session of sessions) await connection.query(`KILL ${Number(session.id)}`).catch(() => {});
        await connection.query('SET SESSION lock_wait_timeout = 30');
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      }),
  };
}

async function createSqliteFileDatabase(): Promise<CreatedDatabase> {
  const file = join(tmpdir(), `${freshDatabaseName()}.sqlite`);
  return {
    options: { type: 'better-sqlite3', database: file },
    drop: async () => {
      await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(file + suffix, { force: true })));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

function createTestDatabase(kind: DatabaseKind, label: string, databases: ProvidedDatabases, cleanups: (() => Promise<void>)[]): TestDatabase {
  const createDatabase = async (): Promise<CreatedDatabase> => {
    let created: CreatedDatabase;
    if (kind === 'sqlite') {
      created = await createSqliteFileDatabase();
    } else if (kind === 'postgres') {
      if (!databases.postgres) throw new Error(`${LOG_PREFIX} PostgreSQL is not available`);
      created = await createPostgresDatabase(databases.postgres.url);
    } else {
      if (!databases.mysql) throw new Error(`${LOG_PREFIX} ${label} is not available`);
      created = await createMysqlDatabase(databases.mysql.url, databases.mysql.flavor);
    }
    let dropped = false;
    const drop = async () => {
      if (dropped) return;
      dropped = true;
      await created.drop();
    };
    cleanups.push(drop);
    return { options: created.options, drop };
  };

  return {
    kind,
    label,
    createDatabase,
    async createDataSource(entities, options = {}) {
      let dataSource: DataSource;
      let drop: (() => Promise<void>) | undefined;
      const common = { entities, synchronize: true, logging: options.logging ?? false } as const;
      if (kind === 'sqlite') {
        dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:', ...common });
      } else {
        const created = await createDatabase();
        drop = created.drop;
        dataSource = new DataSource({ ...created.options, ...common } as DataSourceOptions);
      }
      // Registered before initialize() so a half-initialized DataSource is cleaned up too; runs before the drop.
      cleanups.push(async () => {
        if (dataSource.isInitialized) await dataSource.destroy();
      });
      try {
        await dataSource.initialize();
      } catch (error) {
        if (dataSource.isInitialized) await dataSource.destroy().catch(() => {});
        await drop?.().catch(() => {});
        throw error;
      }
      return dataSource;
    },
  };
}

/**
 * Runs the same suite once per database kind, titled `<title> [SQLite]`, `<title> [PostgreSQL]`, `<title> [MariaDB]`.
 * A kind whose server is missing is skipped with the reason in its title, unless PRIVACY_TEST_REQUIRE_ALL=1 where
 * it fails. `only` limits the suite to some kinds (suites that spawn processes, say, where each run costs seconds).
 */
export function describeEachDatabase(title: string, fn: (db: TestDatabase) => void, options: { only?: DatabaseKind[] } = {}): void {
  const databases = provided();
  const requireAll = databases.requireAll || ['1', 'true', 'yes'].includes((process.env.PRIVACY_TEST_REQUIRE_ALL ?? '').trim().toLowerCase());

  for (const kind of KINDS.filter((k) => !options.only || options.only.includes(k))) {
    const label = labelOf(kind, databases);
    const available = kind === 'sqlite' || (kind === 'postgres' ? databases.postgres !== null : databases.mysql !== null);
    const suiteTitle = `${title} [${label}]`;

    if (!available) {
      const envVar = ENV_VARS[kind as Exclude<DatabaseKind, 'sqlite'>];
      const reason = `${label} not available (set ${envVar}, or run a local server)`;
      if (requireAll) {
        describe(suiteTitle, () => {
          it(`needs ${label}`, () => {
            throw new Error(`${LOG_PREFIX} PRIVACY_TEST_REQUIRE_ALL=1 but ${reason}`);
          });
        });
      } else {
        // The suite's tests are still collected (and reported as skipped); no hook of it runs.
        describe.skip(`${suiteTitle} SKIPPED: ${reason}`, () => {
          fn(createTestDatabase(kind, label, databases, []));
        });
      }
      continue;
    }

    describe(suiteTitle, () => {
      const cleanups: (() => Promise<void>)[] = [];
      // Registered first, so with vitest's default 'stack' hook order it runs after the suite's own afterAll
      // hooks (which stop engines and workers still using the DataSources).
      afterAll(async () => {
        const errors: unknown[] = [];
        // Reverse order: DataSources are destroyed before their databases are dropped.
        for (const cleanup of cleanups.splice(0).reverse()) {
          try {
            await cleanup();
          } catch (error) {
            errors.push(error);
          }
        }
        if (errors.length === 1) throw errors[0];
        if (errors.length > 1) throw new AggregateError(errors, `${LOG_PREFIX} ${errors.length} cleanup steps failed`);
      });
      fn(createTestDatabase(kind, label, databases, cleanups));
    });
  }
}
