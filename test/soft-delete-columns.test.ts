import { Column, type DataSource, DeleteDateColumn, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataSubject, PersonalData, PrivacyEngine, Redact, type Actor, type PrivacyRequest } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { rawTextRows } from './support/raw-dump.js';
import { createTestLogger } from './support/test-logger.js';

/**
 * Soft delete through columns the host already has (Vendure's plain `deletedAt`, an `isDeleted` flag), not
 * TypeORM's @DeleteDateColumn: delete hides rows by setting the column, restore unsets it, purge removes the rows.
 */
const admin: Actor = { id: 'dpo', roles: ['admin'] };
const SECRET = 'soft-delete-secret-soft-delete-secret-0001';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
/** The custom redaction of notes throws from its `failAt`-th call on (0: never): an erasure fails half-way through. */
const outage = { calls: 0, failAt: 0 };

@Entity('sd_customer')
@DataSubject({ onErase: 'delete', softDelete: 'deletedAt' })
class Customer {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
  // A plain column, as Vendure declares it: TypeORM knows nothing of its meaning.
  @Column({ type: Date, nullable: true }) deletedAt!: Date | null;
}

@Entity('sd_session')
@Index(['customer', 'id'])
@PersonalData({ category: 'sessions', link: 'customer', onErase: 'delete', softDelete: { column: 'isDeleted', value: true } })
class Session {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) token!: string;
  @Column({ type: 'boolean', default: false }) isDeleted!: boolean;
  @ManyToOne(() => Customer, { nullable: false }) customer!: Customer;
}

@Entity('sd_note')
@Index(['customer', 'id'])
@PersonalData({ category: 'notes', link: 'customer', onErase: 'anonymize' })
class Note {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 })
  @Redact(() => {
    outage.calls++;
    if (outage.failAt && outage.calls >= outage.failAt) throw new Error('redaction service unavailable');
    return '[gone]';
  })
  body!: string;
  @ManyToOne(() => Customer, { nullable: false }) customer!: Customer;
}

/** Retained orders keep pointing at the customer: the customer cannot be removed, only hidden. */
@Entity('sd_order')
@Index(['customer', 'id'])
@PersonalData({ category: 'orders', link: 'customer', onErase: 'retain', retention: { basis: 'Tax law: 10 years' } })
class Order {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'int' }) total!: number;
  @ManyToOne(() => Customer, { nullable: false }) customer!: Customer;
}

const ENTITIES = [Customer, Session, Note, Order];

describeEachDatabase('soft delete through a column the host already has', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;

  beforeAll(async () => {
    ds = await db.createDataSource(ENTITIES);
    engine = new PrivacyEngine({ dataSource: ds, subject: Customer, secret: SECRET, policy: { batchSize: 2 }, logger: quiet });
    await engine.start();
  });
  afterAll(async () => engine?.stop());
  beforeEach(() => {
    outage.calls = 0;
    outage.failAt = 0;
  });

  async function seed(token: string): Promise<Customer> {
    const customer = await ds.getRepository(Customer).save({ email: `${token}@mail.example`, deletedAt: null });
    await ds.getRepository(Session).save([1, 2, 3].map((i) => ({ token: `${token}-s${i}`, customer })));
    await ds.getRepository(Note).save([1, 2, 3].map((i) => ({ body: `${token} note ${i}`, customer })));
    await ds.getRepository(Order).save({ total: 100, customer });
    return customer;
  }

  async function finish(request: Promise<PrivacyRequest> | PrivacyRequest, status: PrivacyRequest['status'] = 'completed'): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id);
    if (status === 'completed') expect(done.error).toBeUndefined();
    expect(done.status).toBe(status);
    return done;
  }

  async function snapshot() {
    const out: Record<string, unknown> = {};
    for (const entity of ENTITIES) out[entity.name] = [...(await rawTextRows(ds, ds.getMetadata(entity))).values()];
    return out;
  }

  /** What the host's own queries see: rows whose soft-delete column says "visible". */
  async function visible(customer: Customer) {
    const customers = await ds.getRepository(Customer).createQueryBuilder('c').where('c.id = :id AND c.deletedAt IS NULL', { id: customer.id }).getCount();
    const sessions = await ds.getRepository(Session).createQueryBuilder('s').where('s.customerId = :id AND s.isDeleted = :no', { id: customer.id, no: false }).getCount();
    return { customers, sessions };
  }

  it('lists the declared columns in the data map', () => {
    const entities = engine.dataMap().entities;
    expect(entities.find((e) => e.name === 'Customer')?.softDelete).toBe('deletedAt');
    expect(entities.find((e) => e.name === 'Session')?.softDelete).toBe('isDeleted');
    expect(new Set(engine.dataMap().warnings.filter((w) => w.code === 'REMOVAL_BLOCKED').map((w) => w.entity))).toEqual(new Set(['Customer']));
  });

  it('delete hides rows by setting the column, leaves rows the host hid alone, and restore gives every table back byte for byte', async () => {
    const customer = await seed('sdA');
    const other = await seed('sdB');
    const [firstSession] = await ds.getRepository(Session).find({ where: { customer: { id: customer.id } }, order: { id: 'ASC' } });
    await ds.getRepository(Session).update(firstSession.id, { isDeleted: true }); // the host logged it out before
    const before = await snapshot();

    const deleted = await finish(engine.delete({ subjectId: customer.id, actor: admin }));
    expect(await visible(customer)).toEqual({ customers: 0, sessions: 0 });
    expect(await visible(other)).toEqual({ customers: 1, sessions: 3 });
    const receipt = (deleted.outcome as any).receipt;
    expect(receipt.entities).toMatchObject({ Customer: { action: 'hidden', rows: 1 }, Session: { action: 'hidden', rows: 2 }, Note: { action: 'anonymized', rows: 3 } });
    const hiddenAt = (await ds.getRepository(Customer).findOneByOrFail({ id: customer.id })).deletedAt;
    expect(hiddenAt).toBeInstanceOf(Date);
    // Rows stay (orders still point at the customer); only the column changed.
    expect(await ds.getRepository(Session).countBy({ customer: { id: customer.id } })).toBe(3);

    await finish(engine.restore({ requestId: deleted.id, actor: admin }));
    expect(await snapshot()).toEqual(before);
    // The session the host had hidden before stays hidden: restore unsets only what the erasure set.
    expect((await ds.getRepository(Session).findOneByOrFail({ id: firstSession.id })).isDeleted).toBe(true);
  });

  it('purge removes the hidden rows and keeps, hidden and emptied, the subject row retained rows still point at', async () => {
    const customer = await seed('sdC');
    const deleted = await finish(engine.delete({ subjectId: customer.id, actor: admin }));
    const purge = await finish(engine.purge({ requestId: deleted.id, actor: admin, force: true }));
    expect((purge.outcome as any).removed).toMatchObject({ Session: 3 });
    expect((purge.outcome as any).redactedInstead).toMatchObject({ Customer: 1 });
    expect(await ds.getRepository(Session).countBy({ customer: { id: customer.id } })).toBe(0);
    const kept = await ds.getRepository(Customer).findOneByOrFail({ id: customer.id });
    expect(kept.deletedAt).toBeInstanceOf(Date);
    expect(kept.email).not.toContain('sdC');
    expect(await ds.getRepository(Order).countBy({ customer: { id: customer.id } })).toBe(1);
  });

  it('a delete that fails half-way leaves no stranded state: its hidden rows are restorable, and a retry completes it', async () => {
    const customer = await seed('sdD');
    const before = await snapshot();
    outage.failAt = 3; // the first batch of two notes commits, the second fails
    const failed = await finish(engine.delete({ subjectId: customer.id, actor: admin }), 'failed');
    outage.failAt = 0;
    expect(failed.error?.code).toBe('INTERNAL');
    expect(await ds.getRepository(Note).countBy({ customer: { id: customer.id }, body: '[gone]' })).toBe(2);
    expect((await visible(customer)).customers).toBe(1); // the subject comes last: still visible
    await finish(engine.restore({ requestId: failed.id, actor: admin }));
    expect(await snapshot()).toEqual(before);

    outage.calls = 0;
    outage.failAt = 3;
    const again = await finish(engine.delete({ subjectId: customer.id, actor: admin }), 'failed');
    outage.failAt = 0;
    const done = await finish(engine.retry({ requestId: again.id, actor: admin }));
    expect((done.outcome as any).receipt.entities).toMatchObject({ Customer: { rows: 1 }, Session: { rows: 3 }, Note: { rows: 3 } });
    expect(await visible(customer)).toEqual({ customers: 0, sessions: 0 });
    await finish(engine.restore({ requestId: done.id, actor: admin }));
    expect(await snapshot()).toEqual(before);
  });

  describe('declarations start() refuses', () => {
    async function startWith(entities: Function[], subject: Function) {
      const dataSource = await db.createDataSource(entities);
      const e = new PrivacyEngine({ dataSource, subject, secret: SECRET, logger: createTestLogger() });
      return e.start();
    }

    it('a delete that would fail half-way: rows removed at once while retained rows point at them', async () => {
      @Entity('sd1_person') @DataSubject({ onErase: 'delete' }) class Person1 { @PrimaryGeneratedColumn() id!: number; }
      @Entity('sd1_invoice') @PersonalData({ category: 'invoices', link: 'person', onErase: 'retain', retention: { basis: 'Tax law' } })
      class Invoice1 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person1) person!: Person1; }
      await expect(startWith([Person1, Invoice1], Person1)).rejects.toMatchObject({
        code: 'METADATA',
        entity: 'Person1',
        message: expect.stringContaining("Person1: delete removes its rows, but Invoice1.person (onErase 'retain') still points at them, so a delete request would fail half-way"),
      });
    });

    it('softDelete on a column that is not there, of the wrong kind, NOT NULL without a live value, or besides a @DeleteDateColumn', async () => {
      @Entity('sd2_person') @DataSubject() class Person2 { @PrimaryGeneratedColumn() id!: number; }
      @Entity('sd2_a') @PersonalData({ category: 'a', link: 'person', onErase: 'delete', softDelete: 'removedOn' })
      class A2 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person2) person!: Person2; }
      await expect(startWith([Person2, A2], Person2)).rejects.toMatchObject({ code: 'METADATA', message: 'A2.removedOn: softDelete names a property that is not a column' });

      @Entity('sd3_person') @DataSubject() class Person3 { @PrimaryGeneratedColumn() id!: number; }
      @Entity('sd3_a') @PersonalData({ category: 'a', link: 'person', onErase: 'delete', softDelete: 'archived' })
      class A3 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'boolean', default: false }) archived!: boolean; @ManyToOne(() => Person3) person!: Person3; }
      await expect(startWith([Person3, A3], Person3)).rejects.toMatchObject({ code: 'METADATA', message: expect.stringContaining("A3.archived: softDelete value 'now' needs a date or timestamp column") });

      @Entity('sd4_person') @DataSubject() class Person4 { @PrimaryGeneratedColumn() id!: number; }
      @Entity('sd4_a') @PersonalData({ category: 'a', link: 'person', onErase: 'delete', softDelete: { column: 'state', value: 'deleted' } })
      class A4 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 10, default: 'active' }) state!: string; @ManyToOne(() => Person4) person!: Person4; }
      await expect(startWith([Person4, A4], Person4)).rejects.toMatchObject({ code: 'METADATA', message: expect.stringContaining('A4.state: softDelete names a NOT NULL column: a visible row cannot hold NULL; give live') });

      @Entity('sd5_person') @DataSubject() class Person5 { @PrimaryGeneratedColumn() id!: number; }
      @Entity('sd5_a') @PersonalData({ category: 'a', link: 'person', onErase: 'delete', softDelete: 'hiddenAt' })
      class A5 {
        @PrimaryGeneratedColumn() id!: number;
        @Column({ type: db.kind === 'postgres' ? 'timestamp' : 'datetime', nullable: true }) hiddenAt!: Date | null;
        @DeleteDateColumn() deletedAt!: Date | null;
        @ManyToOne(() => Person5) person!: Person5;
      }
      await expect(startWith([Person5, A5], Person5)).rejects.toMatchObject({ code: 'METADATA', message: expect.stringContaining('A5.hiddenAt: softDelete names another column than the @DeleteDateColumn deletedAt') });
    });
  });

  it('a status column with a fixed hidden and live value works as well', async () => {
    @Entity('sd6_person') @DataSubject() class Person6 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('sd6_ticket') @Index(['person', 'id']) @PersonalData({ category: 'tickets', link: 'person', onErase: 'delete', softDelete: { column: 'state', value: 'deleted', live: 'open' } })
    class Ticket6 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 10, default: 'open' }) state!: string; @ManyToOne(() => Person6) person!: Person6; }
    const dataSource = await db.createDataSource([Person6, Ticket6]);
    const e = new PrivacyEngine({ dataSource, subject: Person6, secret: SECRET, logger: quiet });
    await e.start();
    try {
      const person = await dataSource.getRepository(Person6).save({});
      await dataSource.getRepository(Ticket6).save([{ person }, { person, state: 'closed' }]);
      const deleted = await e.waitForRequest((await e.delete({ subjectId: person.id, actor: admin })).id);
      expect(deleted.status).toBe('completed');
      expect((await dataSource.getRepository(Ticket6).find({ order: { id: 'ASC' } })).map((t) => t.state)).toEqual(['deleted', 'closed']);
      const purged = await e.waitForRequest((await e.purge({ requestId: deleted.id, actor: admin, force: true })).id);
      expect((purged.outcome as any).removed).toEqual({ Ticket6: 1 });
      expect((await dataSource.getRepository(Ticket6).find()).map((t) => t.state)).toEqual(['closed']);
    } finally {
      await e.stop();
    }
  });
});
