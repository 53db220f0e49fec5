/**
 * Vitest global setup: finds a PostgreSQL, a MySQL-family (MariaDB) and a Redis server for the test run and
 * hands their URLs to the test workers via `project.provide('databases', ...)` (read them with
 * `inject('databases')`, or better through test/support/databases.ts).
 *
 * Resolution order, per service:
 *   1. an explicit URL: PRIVACY_TEST_POSTGRES_URL, PRIVACY_TEST_MYSQL_URL, PRIVACY_TEST_REDIS_URL
 *      (an explicit URL that does not answer fails the run: it is a configuration error, not a missing server);
 *   2. a local server on its standard port (postgres@127.0.0.1:5432, root@127.0.0.1:3306, 127.0.0.1:6379),
 *      probed with a real connection and a 2 s timeout (PRIVACY_TEST_LOCAL_SERVICES=0 turns this step off);
 *   3. a throw-away container (testcontainers), only when a Docker engine answers.
 * A service found nowhere is announced once here and its suites are skipped, unless PRIVACY_TEST_REQUIRE_ALL=1,
 * in which case the run fails.
 *
 * The URLs given to tests are *admin* URLs: tests never use these databases directly; they create a fresh
 * database per DataSource (see databases.ts).
 */
import type { TestProject } from 'vitest/node';

export type ServiceSource = 'env' | 'local' | 'container';

export interface ProvidedService {
  /** Admin connection URL (PostgreSQL: the maintenance database; MySQL: no database selected). */
  url: string;
  source: ServiceSource;
  /** Server version string as reported by the server. */
  version: string;
}

export interface ProvidedMysqlService extends ProvidedService {
  /** The server behind the MySQL protocol: decides the TypeORM driver type ('mariadb' or 'mysql') and the label. */
  flavor: 'mariadb' | 'mysql';
}

export interface ProvidedDatabases {
  postgres: ProvidedService | null;
  mysql: ProvidedMysqlService | null;
  redis: ProvidedService | null;
  /** PRIVACY_TEST_REQUIRE_ALL=1: a missing service fails instead of skipping. */
  requireAll: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    databases: ProvidedDatabases;
  }
}

const PROBE_TIMEOUT_MS = 2_000;
const DOCKER_PROBE_TIMEOUT_MS = 10_000;
const LOG_PREFIX = '[privacy-engine tests]';

/** Test databases are named pe_<8 hex>_<base36 ms timestamp>_<random>; see databases.ts. */
const TEST_DATABASE_NAME = /^pe_[0-9a-f]{8}_([0-9a-z]{1,10})_[0-9a-z]{6}$/;
/** Leftovers of crashed/killed runs older than this are dropped at start-up. */
const STALE_DATABASE_AGE_MS = 6 * 60 * 60 * 1000;

const LOCAL_URLS = {
  postgres: 'postgres://postgres@127.0.0.1:5432/postgres',
  mysql: 'mysql://root@127.0.0.1:3306/',
  redis: 'redis://127.0.0.1:6379',
} as const;

const IMAGES = {
  postgres: 'postgres:15-alpine',
  mysql: 'mariadb:11.4',
  redis: 'redis:7-alpine',
} as const;

type ServiceKey = 'postgres' | 'mysql' | 'redis';

const SERVICES: Record<ServiceKey, { label: string; envVar: string }> = {
  postgres: { label: 'PostgreSQL', envVar: 'PRIVACY_TEST_POSTGRES_URL' },
  mysql: { label: 'MySQL/MariaDB', envVar: 'PRIVACY_TEST_MYSQL_URL' },
  redis: { label: 'Redis', envVar: 'PRIVACY_TEST_REDIS_URL' },
};

export function isRequireAll(): boolean {
  const value = (process.env.PRIVACY_TEST_REQUIRE_ALL ?? '').trim().toLowerCase();
  return value === '1' || value === 'true' || value === 'yes';
}

export function missingServiceNotice(label: string, envVar: string): string {
  return `${LOG_PREFIX} ${label} not available: ${label} suites are SKIPPED (set ${envVar}, or run a local server)`;
}

/** URL with the password masked, for log lines. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable URL>';
  }
}

function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(errorMessage).join('; ');
  }
  if (error instanceof Error) return error.message || error.name || String(error);
  return String(error);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Probes: a real connection and a trivial query; they resolve to the server version or throw.

async function probePostgres(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {});
  try {
    await withTimeout(client.connect(), timeoutMs + 500, 'PostgreSQL connect');
    await client.query('select 1');
    const result = await client.query<{ server_version: string }>('show server_version');
    return `PostgreSQL ${result.rows[0]?.server_version ?? '?'}`;
  } finally {
    await client.end().catch(() => {});
  }
}

async function probeMysql(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<{ version: string; flavor: 'mariadb' | 'mysql' }> {
  const { default: mysql } = await import('mysql2/promise');
  const connection = await withTimeout(mysql.createConnection({ uri: url, connectTimeout: timeoutMs }), timeoutMs + 500, 'MySQL connect');
  try {
    await connection.query({ sql: 'select 1', timeout: timeoutMs });
    const [rows] = await connection.query<any[]>({ sql: 'select version() as v', timeout: timeoutMs });
    const version = String(rows[0]?.v ?? '?');
    return { version, flavor: /mariadb/i.test(version) ? 'mariadb' : 'mysql' };
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

async function probeRedis(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await withTimeout(client.connect(), timeoutMs + 500, 'Redis connect');
    const pong = await client.ping();
    if (pong !== 'PONG') throw new Error(`unexpected PING answer: ${pong}`);
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
    return `Redis ${version}`;
  } finally {
    client.disconnect();
  }
}

/** Retries a probe until it succeeds or the deadline passes (containers accept TCP before the server is ready). */
async function probeUntilReady<T>(probe: () => Promise<T>, deadlineMs: number): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Containers (only when a Docker engine is reachable).

interface Stoppable {
  stop(): Promise<unknown>;
}

let dockerAvailable: Promise<boolean> | undefined;

function isDockerAvailable(): Promise<boolean> {
  dockerAvailable ??= (async () => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await withTimeout(getContainerRuntimeClient(), DOCKER_PROBE_TIMEOUT_MS, 'container runtime');
      return true;
    } catch (error) {
      console.info(`${LOG_PREFIX} no container runtime (Docker) reachable, so no test containers: ${errorMessage(error)}`);
      return false;
    }
  })();
  return dockerAvailable;
}

async function startContainer(key: ServiceKey, containers: Stoppable[]): Promise<{ url: string; version: string; flavor?: 'mariadb' | 'mysql' } | null> {
  if (!(await isDockerAvailable())) return null;
  const label = SERVICES[key].label;
  try {
    console.info(`${LOG_PREFIX} starting a ${label} container (${IMAGES[key]})...`);
    switch (key) {
      case 'postgres': {
        const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
        const container = await new PostgreSqlContainer(IMAGES.postgres).withDatabase('postgres').withUsername('postgres').withPassword('postgres').start();
        containers.push(container);
        const url = container.getConnectionUri();
        return { url, version: await probeUntilReady(() => probePostgres(url), 60_000) };
      }
      case 'mysql': {
        const { MySqlContainer } = await import('@testcontainers/mysql');
        const container = await new MySqlContainer(IMAGES.mysql).withRootPassword('test').start();
        containers.push(container);
        const url = new URL(container.getConnectionUri(true));
        url.pathname = '/';
        const { version, flavor } = await probeUntilReady(() => probeMysql(url.toString()), 90_000);
        return { url: url.toString(), version, flavor };
      }
      case 'redis': {
        const { RedisContainer } = await import('@testcontainers/redis');
        const container = await new RedisContainer(IMAGES.redis).start();
        containers.push(container);
        const url = container.getConnectionUrl();
        return { url, version: await probeUntilReady(() => probeRedis(url), 30_000) };
      }
    }
  } catch (error) {
    console.warn(`${LOG_PREFIX} could not start a ${label} container: ${errorMessage(error)}`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function resolveService(
  key: ServiceKey,
  containers: Stoppable[],
): Promise<{ service: ProvidedService & { flavor?: 'mariadb' | 'mysql' }; error?: never } | { service: null; error?: string }> {
  const { label, envVar } = SERVICES[key];
  const probe = async (url: string, timeoutMs?: number) => {
    if (key === 'postgres') return { version: await probePostgres(url, timeoutMs) };
    if (key === 'mysql') return probeMysql(url, timeoutMs);
    return { version: await probeRedis(url, timeoutMs) };
  };

  const fromEnv = process.env[envVar]?.trim();
  if (fromEnv) {
    try {
      // A configured server may be remote or still waking up: a more generous timeout than for the local probe.
      const found = await probe(fromEnv, 10_000);
      return { service: { url: fromEnv, source: 'env', ...found } };
    } catch (error) {
      return { service: null, error: `${envVar}=${redact(fromEnv)} is set but ${label} does not answer there: ${errorMessage(error)}` };
    }
  }

  if (process.env.PRIVACY_TEST_LOCAL_SERVICES !== '0') {
    try {
      const found = await probe(LOCAL_URLS[key]);
      return { service: { url: LOCAL_URLS[key], source: 'local', ...found } };
    } catch {
      // not running locally: try a container
    }
  }

  const started = await startContainer(key, containers);
  if (started) return { service: { ...started, source: 'container' } };
  return { service: null };
}

/** Drops test databases left behind by runs that were killed before their cleanup (older than 6 hours). */
async function dropStaleDatabases(databases: ProvidedDatabases): Promise<void> {
  const isStale = (name: string) => {
    const match = TEST_DATABASE_NAME.exec(name);
    if (!match) return false;
    const createdAt = parseInt(match[1]!, 36);
    return Number.isFinite(createdAt) && Date.now() - createdAt > STALE_DATABASE_AGE_MS;
  };
  if (databases.postgres) {
    try {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: databases.postgres.url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
      client.on('error', () => {});
      await client.connect();
      try {
        const { rows } = await client.query<{ datname: string }>(`select datname from pg_database where datname like 'pe\\_%'`);
        for (const { datname } of rows) {
          if (isStale(datname)) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        }
      } finally {
        await client.end().catch(() => {});
      }
    } catch (error) {
      console.warn(`${LOG_PREFIX} could not drop stale PostgreSQL test databases: ${errorMessage(error)}`);
    }
  }
  if (databases.mysql) {
    try {
      const { default: mysql } = await import('mysql2/promise');
      const connection = await mysql.createConnection({ uri: databases.mysql.url, connectTimeout: PROBE_TIMEOUT_MS });
      try {
        const [rows] = await connection.query<any[]>(`select schema_name as name from information_schema.schemata where schema_name like 'pe\\_%'`);
        for (const row of rows) {
          const name = String(row.name);
          if (isStale(name)) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
        }
      } finally {
        await connection.end().catch(() => connection.destroy());
      }
    } catch (error) {
      console.warn(`${LOG_PREFIX} could not drop stale MySQL test databases: ${errorMessage(error)}`);
    }
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const requireAll = isRequireAll();
  const containers: Stoppable[] = [];
  const teardown = async () => {
    await Promise.all(containers.splice(0).map((container) => container.stop().catch(() => {})));
  };

  try {
    const [postgres, mysql, redis] = await Promise.all(
      (['postgres', 'mysql', 'redis'] as const).map((key) => resolveService(key, containers)),
    );
    const results = { postgres: postgres!, mysql: mysql!, redis: redis! };

    const configErrors = Object.values(results).flatMap((result) => (result.error ? [result.error] : []));
    if (configErrors.length > 0) {
      throw new Error(`${LOG_PREFIX} ${configErrors.join('\n')}`);
    }

    const databases: ProvidedDatabases = {
      postgres: results.postgres.service ? { url: results.postgres.service.url, source: results.postgres.service.source, version: results.postgres.service.version } : null,
      mysql: results.mysql.service
        ? { url: results.mysql.service.url, source: results.mysql.service.source, version: results.mysql.service.version, flavor: results.mysql.service.flavor ?? 'mysql' }
        : null,
      redis: results.redis.service ? { url: results.redis.service.url, source: results.redis.service.source, version: results.redis.service.version } : null,
      requireAll,
    };

    const missing: string[] = [];
    for (const key of ['postgres', 'mysql', 'redis'] as const) {
      const service = databases[key];
      const { label, envVar } = SERVICES[key];
      if (service) {
        console.info(`${LOG_PREFIX} ${label}: ${service.version} (${service.source}: ${redact(service.url)})`);
      } else {
        missing.push(label);
        // With PRIVACY_TEST_REQUIRE_ALL=1 nothing is skipped: the run fails just below instead.
        if (!requireAll) console.warn(missingServiceNotice(label, envVar));
      }
    }
    if (requireAll && missing.length > 0) {
      throw new Error(
        `${LOG_PREFIX} PRIVACY_TEST_REQUIRE_ALL=1 but not available: ${missing.join(', ')} ` +
          `(set ${missing.map((label) => Object.values(SERVICES).find((s) => s.label === label)!.envVar).join(', ')}, or run local servers)`,
      );
    }

    await dropStaleDatabases(databases);
    project.provide('databases', databases);
    return teardown;
  } catch (error) {
    await teardown();
    throw error;
  }
}
