import { Column, DeleteDateColumn, Entity, JoinTable, ManyToMany, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { DataSource } from 'typeorm';
import { afterEach, expect, it } from 'vitest';
import { DataSubject, MetadataError, PersonalData, PrivacyEngine, Redact, type Actor, type PrivacyRequest } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';

const SECRET = 'cascade-test-secret-cascade-test-secret-0001';
const quiet = { info() {}, warn() {}, error() {} };
const admin: Actor = { id: 'dpo', roles: ['admin'] };

/**
 * Defect 2 of issue 8: a foreign key with ON DELETE CASCADE / SET NULL into rows that delete or purge
 * removes would let the database destroy or change rows the vault never saw. start() refuses such a map.
 */
describeEachDatabase('foreign keys that let the database change rows erasure removes', (db) => {
  const engines: PrivacyEngine[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop();
  });

  async function engineFor(entities: Function[], subject: Function): Promise<{ engine: PrivacyEngine; ds: DataSource }> {
    const ds = await db.createDataSource(entities);
    const engine = new PrivacyEngine({ dataSource: ds, subject, secret: SECRET, logger: quiet, policy: { batchSize: 2 } });
    engines.push(engine);
    return { engine, ds };
  }

  async function startError(engine: PrivacyEngine): Promise<MetadataError> {
    const error = await engine.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MetadataError);
    return error as MetadataError;
  }

  async function run(engine: PrivacyEngine, request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  it('refuses a retained entity whose foreign key cascades from a removed entity, naming the constraint', async () => {
    @Entity('c1_person') @DataSubject() class Person1 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('c1_order') @PersonalData({ category: 'orders', link: 'person', onErase: 'delete' })
    class Order1 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person1) person!: Person1; }
    @Entity('c1_invoice') @PersonalData({ category: 'invoices', link: 'order.person', onErase: 'retain', retention: { basis: 'Tax law' } })
    class Invoice1 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Order1, { onDelete: 'CASCADE' }) order!: Order1; }
    const { engine } = await engineFor([Person1, Order1, Invoice1], Person1);
    const error = await startError(engine);
    expect(error.message).toMatch(/^Foreign key \S+ on c1_invoice \(orderId\) references c1_order ON DELETE CASCADE: /);
    expect(error.message).toContain("Order1 (onErase 'delete')");
    expect(error).toMatchObject({ entity: 'Invoice1', field: 'orderId' });
  });

  it('refuses ON DELETE SET NULL into hidden rows that purge removes', async () => {
    @Entity('c2_person') @DataSubject() class Person2 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('c2_deal') @PersonalData({ category: 'deals', link: 'person', onErase: 'delete' })
    class Deal2 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person2) person!: Person2; @DeleteDateColumn() deletedAt?: Date | null; }
    @Entity('c2_note') @PersonalData({ category: 'notes', link: 'person', onErase: 'anonymize' })
    class Note2 {
      @PrimaryGeneratedColumn() id!: number;
      @Column({ type: 'text' }) @Redact('text') body!: string;
      @ManyToOne(() => Person2) person!: Person2;
      @ManyToOne(() => Deal2, { onDelete: 'SET NULL', nullable: true }) deal!: Deal2 | null;
    }
    const { engine } = await engineFor([Person2, Deal2, Note2], Person2);
    const error = await startError(engine);
    expect(error.message).toMatch(/^Foreign key \S+ on c2_note \(dealId\) references c2_deal ON DELETE SET NULL: /);
  });

  it('refuses a cascade from a table the data map does not know into a subject that delete removes', async () => {
    @Entity('c3_person') @DataSubject({ onErase: 'delete' }) class Person3 { @PrimaryGeneratedColumn() id!: number; @DeleteDateColumn() deletedAt?: Date | null; }
    @Entity('c3_badge') class Badge3 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person3, { onDelete: 'CASCADE' }) holder!: Person3; }
    const { engine } = await engineFor([Person3, Badge3], Person3);
    const error = await startError(engine);
    expect(error.message).toMatch(/^Foreign key \S+ on c3_badge \(holderId\) references c3_person ON DELETE CASCADE: /);
    expect(error).toMatchObject({ entity: 'Badge3' });
  });

  it('refuses a cascade even from a child the same request removes first: a partial restore may bring it back before the purge', async () => {
    @Entity('c6_person') @DataSubject({ onErase: 'delete' }) class Person6 { @PrimaryGeneratedColumn() id!: number; @DeleteDateColumn() deletedAt?: Date | null; }
    @Entity('c6_email') @PersonalData({ category: 'emails', link: 'person', onErase: 'delete' })
    class Email6 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person6, { onDelete: 'CASCADE' }) person!: Person6; }
    const { engine } = await engineFor([Person6, Email6], Person6);
    const error = await startError(engine);
    expect(error.message).toMatch(/^Foreign key \S+ on c6_email \(personId\) references c6_person ON DELETE CASCADE: erasure removes rows of Person6 \(the data subject, onErase 'delete'\)/);
  });

  it('accepts the cascades of join tables: a retained group survives the delete and purge of one member', async () => {
    @Entity('c4_person') @DataSubject({ onErase: 'delete' }) class Person4 { @PrimaryGeneratedColumn() id!: number; @DeleteDateColumn() deletedAt?: Date | null; }
    @Entity('c4_email') @PersonalData({ category: 'emails', link: 'person', onErase: 'delete' })
    class Email4 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 50 }) subject!: string; @ManyToOne(() => Person4) person!: Person4; }
    @Entity('c4_group') @PersonalData({ category: 'groups', link: 'members', onErase: 'retain', retention: { basis: 'Business record' } })
    class Group4 { @PrimaryGeneratedColumn() id!: number; @ManyToMany(() => Person4) @JoinTable({ name: 'c4_group_member' }) members!: Person4[]; }
    const { engine, ds } = await engineFor([Person4, Email4, Group4], Person4);
    await engine.start();

    const [alice, bob] = await ds.getRepository(Person4).save([{}, {}]);
    await ds.getRepository(Email4).save([{ subject: 'hello', person: alice }, { subject: 'hi', person: bob }]);
    const group = await ds.getRepository(Group4).save({ members: [alice, bob] });
    const deleted = await run(engine, engine.delete({ subjectId: alice.id, actor: admin }));
    await run(engine, engine.purge({ requestId: deleted.id, actor: admin, force: true }));
    const kept = await ds.getRepository(Group4).findOneOrFail({ where: { id: group.id }, relations: { members: true } });
    expect(kept.members.map((m) => m.id)).toEqual([bob.id]);
    expect(await ds.getRepository(Email4).count()).toBe(1);
  });

  it('warns about restricting foreign keys from tables the data map does not know, and from join tables, into hidden rows', async () => {
    @Entity('c5_person') @DataSubject({ onErase: 'delete' })
    class Person5 {
      @PrimaryGeneratedColumn() id!: number;
      @DeleteDateColumn() deletedAt?: Date | null;
      // The join table's foreign key to the person takes its ON DELETE rule from this side.
      @ManyToMany(() => Team5, (t) => t.members, { onDelete: 'RESTRICT' }) teams!: Team5[];
    }
    @Entity('c5_badge') class Badge5 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person5, { onDelete: 'RESTRICT' }) holder!: Person5; }
    @Entity('c5_team') class Team5 { @PrimaryGeneratedColumn() id!: number; @ManyToMany(() => Person5, (p) => p.teams) @JoinTable({ name: 'c5_team_member' }) members!: Person5[]; }
    const { engine } = await engineFor([Person5, Badge5, Team5], Person5);
    await engine.start();
    const messages = engine.dataMap().warnings.filter((w) => w.code === 'REMOVAL_BLOCKED').map((w) => w.message).sort();
    expect(messages).toEqual([
      'Person5: purge removes its hidden rows, but Badge5.holder (not in the data map) may still point at them; such rows stay hidden with their personal columns emptied instead',
      expect.stringMatching(/^Person5: purge removes its hidden rows, but c5_team_member\.\S+ \(not in the data map\) may still point at them; /),
    ]);
  });
});
