/**
 * Smoke test of the test harness itself (test/support): every database kind is really reached, data
 * round-trips, and each createDataSource() call gets a database of its own.
 */
import { Column, Entity, PrimaryGeneratedColumn, type DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeEachDatabase, getRedisUrl, type DatabaseKind } from './support/databases.js';

/** The entity is built per kind: the right timestamp type differs (timestamptz on PostgreSQL). */
function makeHarnessEntity(kind: DatabaseKind) {
  @Entity('harness_contact')
  class HarnessContact {
    @PrimaryGeneratedColumn({ type: 'int' })
    id!: number;

    @Column({ type: 'varchar', length: 120 })
    name!: string;

    @Column({ type: 'varchar', length: 200, nullable: true })
    email!: string | null;

    @Column({ type: 'int' })
    visits!: number;

    @Column({ type: 'boolean', default: false })
    active!: boolean;

    @Column({ type: 'text' })
    notes!: string;

    @Column(kind === 'postgres' ? { type: 'timestamptz', precision: 3 } : kind === 'mysql' ? { type: 'datetime', precision: 3 } : { type: 'datetime' })
    seenAt!: Date;
  }
  return HarnessContact;
}

const EXPECTED_DRIVER_TYPES: Record<DatabaseKind, string[]> = {
  sqlite: ['better-sqlite3'],
  postgres: ['postgres'],
  mysql: ['mariadb', 'mysql'],
};

async function serverVersion(kind: DatabaseKind, dataSource: DataSource): Promise<string> {
  const sql = kind === 'sqlite' ? 'select sqlite_version() as v' : 'select version() as v';
  const rows: { v: string }[] = await dataSource.query(sql);
  return String(rows[0]!.v);
}

async function currentDatabaseName(kind: DatabaseKind, dataSource: DataSource): Promise<string | null> {
  if (kind === 'sqlite') return null;
  const rows: { name: string }[] = await dataSource.query(kind === 'postgres' ? 'select current_database() as name' : 'select database() as name');
  return rows[0]!.name;
}

/** Tables of the DataSource's own database/schema, system tables left out. */
async function userTables(kind: DatabaseKind, dataSource: DataSource): Promise<string[]> {
  const sql = {
    sqlite: `select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' order by name`,
    postgres: `select table_name as name from information_schema.tables where table_schema = current_schema() order by table_name`,
    mysql: `select table_name as name from information_schema.tables where table_schema = database() order by table_name`,
  }[kind];
  const rows: { name: string }[] = await dataSource.query(sql);
  return rows.map((row) => row.name);
}

describeEachDatabase('test harness', (db) => {
  const HarnessContact = makeHarnessEntity(db.kind);
  let first: DataSource;
  let second: DataSource;

  beforeAll(async () => {
    first = await db.createDataSource([HarnessContact]);
    second = await db.createDataSource([HarnessContact]);
  });

  it('talks to the expected database through the expected driver', async () => {
    expect(EXPECTED_DRIVER_TYPES[db.kind]).toContain(first.options.type);
    expect(first.isInitialized).toBe(true);
    const version = await serverVersion(db.kind, first);
    console.info(`[harness] ${db.label}: driver ${first.options.type}, server ${version}, database ${(await currentDatabaseName(db.kind, first)) ?? ':memory:'}`);
    if (db.kind === 'sqlite') expect(version).toMatch(/^3\.\d+/);
    if (db.kind === 'postgres') expect(version).toMatch(/^PostgreSQL \d+/);
    if (db.kind === 'mysql') {
      expect(version).toMatch(/^\d+\.\d+/);
      expect(/mariadb/i.test(version)).toBe(db.label === 'MariaDB');
      expect(first.options.type).toBe(db.label === 'MariaDB' ? 'mariadb' : 'mysql');
    }
  });

  it('created the schema (synchronize) in a fresh database', async () => {
    expect(await userTables(db.kind, first)).toEqual(['harness_contact']);
    if (db.kind !== 'sqlite') {
      expect(await currentDatabaseName(db.kind, first)).toMatch(/^pe_[0-9a-f]{8}_[0-9a-z]+_[0-9a-z]{6}$/);
    }
    if (db.kind === 'mysql') {
      // 4-byte UTF-8 (emoji) needs utf8mb4 both in the database and on the connection.
      const [settings]: { collation: string; connection: string }[] = await first.query(
        'select default_collation_name as collation, @@character_set_connection as connection from information_schema.schemata where schema_name = database()',
      );
      expect(settings).toEqual({ collation: expect.stringMatching(/^utf8mb4_/), connection: 'utf8mb4' });
    }
  });

  it('round-trips a row: insert, then select', async () => {
    const repository = first.getRepository(HarnessContact);
    const seenAt = new Date('2024-02-29T23:59:58.123Z');
    const notes = 'multi-line\nunicode: Zoë, 東京, emoji 😀🎉, quote \' and backslash \\ ';
    const saved = await repository.save(repository.create({ name: 'Ada Lovelace', email: 'Ada@Example.com', visits: 42, active: true, notes, seenAt }));
    expect(typeof saved.id).toBe('number');

    const loaded = await repository.findOneByOrFail({ id: saved.id });
    expect(loaded).toEqual({ id: saved.id, name: 'Ada Lovelace', email: 'Ada@Example.com', visits: 42, active: true, notes, seenAt });
    expect(Buffer.from(loaded.notes, 'utf8').equals(Buffer.from(notes, 'utf8'))).toBe(true);

    await repository.save(repository.create({ name: 'Grace Hopper', email: null, visits: 0, notes: '', seenAt }));
    const rows = await repository.find({ order: { id: 'ASC' } });
    expect(rows.map((row) => [row.name, row.email, row.active])).toEqual([
      ['Ada Lovelace', 'Ada@Example.com', true],
      ['Grace Hopper', null, false],
    ]);
  });

  it('gives each createDataSource() call an isolated database', async () => {
    const a = first.getRepository(HarnessContact);
    const b = second.getRepository(HarnessContact);
    const before = await b.count();
    await a.save(a.create({ name: 'only in first', email: null, visits: 1, notes: 'x', seenAt: new Date() }));
    expect(await b.count()).toBe(before);
    expect(await b.countBy({ name: 'only in first' })).toBe(0);
    expect(await a.countBy({ name: 'only in first' })).toBe(1);
    if (db.kind !== 'sqlite') {
      const [nameA, nameB] = [await currentDatabaseName(db.kind, first), await currentDatabaseName(db.kind, second)];
      expect(nameA).not.toBe(nameB);
    }
  });

  it('createDatabase() gives connection options for a fresh database', async () => {
    const { options, drop } = await db.createDatabase();
    expect(JSON.parse(JSON.stringify(options))).toEqual(options); // plain data: can be handed to a child process
    const { DataSource } = await import('typeorm');
    const dataSource = new DataSource({ ...options, entities: [HarnessContact], synchronize: true });
    await dataSource.initialize();
    try {
      expect(await dataSource.getRepository(HarnessContact).count()).toBe(0);
    } finally {
      await dataSource.destroy();
      await drop();
    }
  });
});

describe.skipIf(!getRedisUrl())(`test harness [Redis]${getRedisUrl() ? '' : ' SKIPPED: Redis not available (set PRIVACY_TEST_REDIS_URL, or run a local server)'}`, () => {
  let redis: import('ioredis').Redis;

  beforeAll(async () => {
    const { Redis } = await import('ioredis');
    redis = new Redis(getRedisUrl()!, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  afterAll(async () => {
    await redis?.quit();
  });

  it('answers PING and round-trips a key', async () => {
    expect(await redis.ping()).toBe('PONG');
    const key = `pe:harness:${process.pid}:${Date.now()}`;
    await redis.set(key, 'ok 😀', 'EX', 60);
    expect(await redis.get(key)).toBe('ok 😀');
    await redis.del(key);
  });
});
