import { Column, DeleteDateColumn, Entity, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataSubject, PersonalData, PrivacyEngine, Redact, type Actor, type PrivacyRequest } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';

const admin: Actor = { id: 'dpo', roles: ['admin'] };

@Entity('pf_person') @DataSubject()
class PfPerson {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') name!: string;
}

/** Hidden by delete, removed by purge; no @Redact field at all. */
@Entity('pf_deal')
@PersonalData({ category: 'deals', link: 'person', onErase: 'delete' })
class PfDeal {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) title!: string;
  @Column({ type: 'decimal', precision: 10, scale: 2 }) amount!: string;
  @Column({ type: 'int' }) probability!: number;
  @Column({ type: 'boolean' }) won!: boolean;
  @Column({ type: 'date' }) closedOn!: string;
  @Column({ type: Date }) signedAt!: Date;
  @Column({ type: 'simple-json' }) meta!: Record<string, unknown>;
  @Column({ type: 'text', nullable: true }) notes!: string | null;
  @ManyToOne(() => PfPerson, { nullable: false }) person!: PfPerson;
  @DeleteDateColumn() deletedAt?: Date | null;
}

/** A retained row pointing at a deal: the deal cannot be removed while it exists. */
@Entity('pf_contract')
@PersonalData({ category: 'contracts', link: 'deal.person', onErase: 'retain', retention: { basis: 'Commercial law' } })
class PfContract {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 32 }) number!: string;
  @ManyToOne(() => PfDeal, { nullable: false }) deal!: PfDeal;
}

/**
 * Defect 3 of issue 8 (and "purge counting keys" from 12): a hidden row that kept rows still reference cannot be
 * removed; purge must then empty its personal columns (not only @Redact ones), fall back only on foreign-key
 * violations, and count what the DELETE actually removed.
 */
describeEachDatabase('purge of hidden rows that cannot be removed', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;

  beforeAll(async () => {
    ds = await db.createDataSource([PfPerson, PfDeal, PfContract]);
    engine = new PrivacyEngine({ dataSource: ds, subject: PfPerson, secret: 'purge-fallback-secret-purge-fallback-secret', logger: { info() {}, warn() {}, error() {} } });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  async function run(request: Promise<PrivacyRequest>, status: 'completed' | 'failed' = 'completed'): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.status).toBe(status);
    return done;
  }

  async function seed(token: string, deals: number) {
    const person = await ds.getRepository(PfPerson).save({ name: `Name ${token}` });
    const saved = await ds.getRepository(PfDeal).save(
      Array.from({ length: deals }, (_, i) => ({ title: `Deal ${token} ${i}`, amount: '1234.50', probability: 70, won: true, closedOn: '2024-05-17', signedAt: new Date(Date.UTC(2024, 4, 17, 9, 30)), meta: { owner: token }, notes: `notes ${token}`, person })),
    );
    return { person, deals: saved };
  }

  it('warns at start-up that purge cannot remove hidden rows that retained rows point at', () => {
    expect(engine.dataMap().warnings.filter((w) => w.code === 'REMOVAL_BLOCKED')).toEqual([
      {
        code: 'REMOVAL_BLOCKED',
        entity: 'PfDeal',
        message: "PfDeal: purge removes its hidden rows, but PfContract.deal (onErase 'retain') may still point at them; such rows stay hidden with their personal columns emptied instead",
      },
    ]);
  });

  it('empties every personal column of a referenced hidden row without @Redact fields, keeping its keys, and counts it apart', async () => {
    const { person, deals } = await seed('tokpf0001', 2);
    const contract = await ds.getRepository(PfContract).save({ number: 'C-1', deal: deals[0] });
    const deleted = await run(engine.delete({ subjectId: person.id, actor: admin }));
    const purge = await run(engine.purge({ requestId: deleted.id, actor: admin, force: true }));
    expect(purge.outcome).toMatchObject({ removed: { PfDeal: 1 }, redactedInstead: { PfDeal: 1 } });

    const rows = await ds.getRepository(PfDeal).find({ withDeleted: true, where: { person: { id: person.id } }, relations: { person: true } });
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row.id).toBe(deals[0].id);
    expect(row.person.id).toBe(person.id);
    expect(row.deletedAt).toBeInstanceOf(Date); // still hidden
    expect({ ...row, id: undefined, person: undefined, deletedAt: undefined, amount: Number(row.amount), signedAt: row.signedAt.getTime() }).toEqual({
      id: undefined,
      person: undefined,
      deletedAt: undefined,
      title: '',
      amount: 0,
      probability: 0,
      won: false,
      closedOn: '1970-01-01',
      signedAt: 0,
      meta: {},
      notes: null,
    });
    expect(await ds.getRepository(PfContract).findOneByOrFail({ id: contract.id })).toMatchObject({ number: 'C-1' });
  });

  it('counts the rows the DELETE removed, not the keys it was given', async () => {
    const { person, deals } = await seed('tokpf0002', 3);
    const deleted = await run(engine.delete({ subjectId: person.id, actor: admin }));
    // The host removes one hidden row itself before the purge.
    await ds.getRepository(PfDeal).delete({ id: deals[1].id });
    const purge = await run(engine.purge({ requestId: deleted.id, actor: admin, force: true }));
    expect(purge.outcome).toMatchObject({ removed: { PfDeal: 2 }, redactedInstead: {} });
  });

  it('fails, rather than emptying rows, when the DELETE fails for another reason than a foreign key', async () => {
    const { person, deals } = await seed('tokpf0003', 1);
    const deleted = await run(engine.delete({ subjectId: person.id, actor: admin }));
    await blockDeletes(ds, db.kind, 'pf_deal');
    try {
      const purge = await run(engine.purge({ requestId: deleted.id, actor: admin, force: true }), 'failed');
      expect(purge.outcome).toBeUndefined();
    } finally {
      await unblockDeletes(ds, db.kind, 'pf_deal');
    }
    const row = await ds.getRepository(PfDeal).findOneOrFail({ where: { id: deals[0].id }, withDeleted: true });
    expect(row.title).toBe('Deal tokpf0003 0');
  });

  // SQLite in memory has no second connection to deadlock with, and a trigger cannot raise SQLITE_BUSY.
  // SQLite in memory has no way to raise a busy error for one statement: PostgreSQL and MariaDB only.
  if (db.kind !== 'sqlite') it('retries a DELETE that failed with a deadlock, and removes the rows', async () => {
    const { person } = await seed('tokpf0004', 2);
    const deleted = await run(engine.delete({ subjectId: person.id, actor: admin }));
    await failFirstDeletes(ds, db.kind, 'pf_deal', 2);
    try {
      const purge = await run(engine.purge({ requestId: deleted.id, actor: admin, force: true }));
      expect(purge.outcome).toMatchObject({ removed: { PfDeal: 2 }, redactedInstead: {} });
      expect(purge.review).toEqual([]);
    } finally {
      await ds.query(db.kind === 'postgres' ? 'DROP TRIGGER pf_deal_flaky ON pf_deal' : 'DROP TRIGGER pf_deal_flaky');
    }
  });
});

/**
 * The first `times` DELETE statements on the table fail as deadlocks (PostgreSQL 40P01, MariaDB 1213). The attempt
 * counter lives where a rollback cannot undo it: a sequence on PostgreSQL, a MyISAM table on MariaDB.
 */
async function failFirstDeletes(ds: DataSource, kind: string, table: string, times: number): Promise<void> {
  if (kind === 'postgres') {
    await ds.query(`CREATE SEQUENCE ${table}_attempts`);
    await ds.query(
      `CREATE FUNCTION ${table}_flaky() RETURNS trigger AS $$ BEGIN IF nextval('${table}_attempts') <= ${times} THEN RAISE EXCEPTION 'simulated deadlock' USING ERRCODE = '40P01'; END IF; RETURN OLD; END $$ LANGUAGE plpgsql`,
    );
    await ds.query(`CREATE TRIGGER ${table}_flaky BEFORE DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_flaky()`);
    return;
  }
  await ds.query(`CREATE TABLE ${table}_attempts (n INT NOT NULL) ENGINE=MyISAM`);
  await ds.query(`INSERT INTO ${table}_attempts VALUES (0)`);
  await ds.query(
    `CREATE TRIGGER ${table}_flaky BEFORE DELETE ON ${table} FOR EACH ROW BEGIN UPDATE ${table}_attempts SET n = n + 1; ` +
      `IF (SELECT n FROM ${table}_attempts) <= ${times} THEN SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'simulated deadlock'; END IF; END`,
  );
}

/** A trigger refusing every DELETE on the table with a plain error (not a foreign-key violation). */
async function blockDeletes(ds: DataSource, kind: string, table: string): Promise<void> {
  if (kind === 'sqlite') {
    await ds.query(`CREATE TRIGGER ${table}_block BEFORE DELETE ON ${table} BEGIN SELECT RAISE(ABORT, 'blocked by the host'); END`);
  } else if (kind === 'postgres') {
    await ds.query(`CREATE FUNCTION ${table}_block() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'blocked by the host'; END $$ LANGUAGE plpgsql`);
    await ds.query(`CREATE TRIGGER ${table}_block BEFORE DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_block()`);
  } else {
    await ds.query(`CREATE TRIGGER ${table}_block BEFORE DELETE ON ${table} FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'blocked by the host'`);
  }
}

async function unblockDeletes(ds: DataSource, kind: string, table: string): Promise<void> {
  await ds.query(kind === 'postgres' ? `DROP TRIGGER ${table}_block ON ${table}` : `DROP TRIGGER ${table}_block`);
}
