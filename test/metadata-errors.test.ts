import { Column, Entity, JoinTable, ManyToMany, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { expect, it } from 'vitest';
import { DataSubject, MetadataError, PersonalData, PrivacyEngine, Redact, defineRedact } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { createTestLogger } from './support/test-logger.js';

const SECRET = 'metadata-test-secret-metadata-test-secret-01';

/** Each case declares its own entities; the builder only looks at the entities of the DataSource it is given. */
describeEachDatabase('data map mistakes are MetadataErrors naming entity and field', (db) => {
  async function startWith(entities: Function[], subject: Function, extra: { tenantColumn?: string } = {}) {
    const dataSource = await db.createDataSource(entities);
    const engine = new PrivacyEngine({ dataSource, subject, secret: SECRET, logger: createTestLogger(), ...extra });
    return engine.start();
  }

  async function expectMetadataError(promise: Promise<unknown>, message: string, where: { entity?: string; field?: string }) {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).code).toBe('METADATA');
    expect((error as MetadataError).message).toBe(message);
    expect(error).toMatchObject(where);
  }

  it('an unknown relation in a link path', async () => {
    @Entity('m1_person') @DataSubject() class Person1 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('m1_deal') class Deal1 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person1) owner!: Person1; }
    @Entity('m1_note') @PersonalData({ category: 'notes', link: 'deal.ownr' })
    class Note1 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Deal1) deal!: Deal1; }
    await expectMetadataError(startWith([Person1, Deal1, Note1], Person1), "Note1: link 'deal.ownr' names unknown relation 'ownr' on Deal1 (its relations: owner)", {
      entity: 'Note1',
      field: 'deal.ownr',
    });
  });

  it('a link that never reaches the subject', async () => {
    @Entity('m2_person') @DataSubject() class Person2 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('m2_team') class Team2 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 50 }) name!: string; }
    @Entity('m2_note') @PersonalData({ category: 'notes', link: 'team' })
    class Note2 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Team2) team!: Team2; @ManyToOne(() => Person2) author!: Person2; }
    await expectMetadataError(startWith([Person2, Team2, Note2], Person2), "Note2: link 'team' ends at Team2, which is not the data subject Person2", {
      entity: 'Note2',
      field: 'team',
    });
  });

  it('a redaction that cannot keep a unique column unique', async () => {
    @Entity('m3_person') @DataSubject()
    class Person3 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 100, unique: true }) @Redact('fixed') login!: string; }
    await expectMetadataError(startWith([Person3], Person3), "Person3.login: strategy 'fixed' cannot keep a unique column unique", { entity: 'Person3', field: 'login' });
  });

  it('a redaction to null on a NOT NULL column', async () => {
    @Entity('m4_person') @DataSubject()
    class Person4 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 100 }) @Redact('null') city!: string; }
    await expectMetadataError(startWith([Person4], Person4), "Person4.city: strategy 'null' cannot be used: column is NOT NULL; choose another strategy", { entity: 'Person4', field: 'city' });
  });

  it('a redaction that does not fit the column length', async () => {
    @Entity('m5_person') @DataSubject()
    class Person5 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 20, unique: true }) @Redact('email') email!: string; }
    await expectMetadataError(startWith([Person5], Person5), "Person5.email: strategy 'email' needs at least 42 characters but column length is 20", {
      entity: 'Person5',
      field: 'email',
    });
  });

  it('a text strategy on a number column', async () => {
    @Entity('m6_person') @DataSubject()
    class Person6 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'int' }) @Redact('phone') phone!: number; }
    await expectMetadataError(startWith([Person6], Person6), "Person6.phone: strategy 'phone' produces text but column is integer", { entity: 'Person6', field: 'phone' });
  });

  it('a category declared twice with different facts', async () => {
    @Entity('m7_person') @DataSubject() class Person7 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('m7_call') @PersonalData({ category: { name: 'history', purpose: 'Support' }, link: 'person' })
    class Call7 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person7) person!: Person7; }
    @Entity('m7_visit') @PersonalData({ category: { name: 'history', purpose: 'Marketing' }, link: 'person' })
    class Visit7 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person7) person!: Person7; }
    await expectMetadataError(startWith([Person7, Call7, Visit7], Person7), "category 'history' is declared twice with different purpose (by Call7 and by Visit7)", {
      entity: 'Visit7',
      field: 'purpose',
    });
  });

  it("onErase 'retain' without a legal basis", async () => {
    @Entity('m8_person') @DataSubject() class Person8 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('m8_invoice') @PersonalData({ category: 'invoices', link: 'person', onErase: 'retain' })
    class Invoice8 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person8) person!: Person8; }
    await expectMetadataError(startWith([Person8, Invoice8], Person8), "Invoice8: onErase 'retain' needs retention.basis (the legal reason to keep the data)", { entity: 'Invoice8' });
  });

  it('@Redact on an entity that is not mapped, and on a key', async () => {
    @Entity('m9_person') @DataSubject() class Person9 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('m9_loose') class Loose9 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'text' }) @Redact('text') body!: string; }
    await expectMetadataError(startWith([Person9, Loose9], Person9), 'Loose9.body: @Redact is used on an entity that is neither the data subject nor marked @PersonalData', {
      entity: 'Loose9',
      field: 'body',
    });
  });

  it('an unknown tenant column, and a subject that is not an entity of the DataSource', async () => {
    @Entity('m10_person') @DataSubject() class Person10 { @PrimaryGeneratedColumn() id!: number; }
    class NotAnEntity {}
    await expectMetadataError(startWith([Person10], Person10, { tenantColumn: 'orgId' }), "Person10: tenantColumn 'orgId' is not a column of the subject", { entity: 'Person10', field: 'orgId' });
    await expectMetadataError(startWith([Person10], NotAnEntity), 'The data subject NotAnEntity is not an entity of this DataSource', { entity: 'NotAnEntity' });
  });

  it('a polymorphic link naming a missing column', async () => {
    @Entity('m11_person') @DataSubject() class Person11 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('m11_log') @PersonalData({ category: 'log', link: { type: 'Person', typeColumn: 'targetType', idColumn: 'targetKey' }, onErase: 'retain', retention: { basis: 'Audit' } })
    class Log11 { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 20 }) targetType!: string; @Column({ type: 'varchar', length: 20 }) targetId!: string; }
    await expectMetadataError(startWith([Person11, Log11], Person11), "Log11: polymorphic link idColumn 'targetKey' is not a column of Log11", { entity: 'Log11', field: 'targetKey' });
  });

  it('resolves @Redact and exclude given database column names to their columns', async () => {
    @Entity('m13_person') @DataSubject()
    class Person13 { @PrimaryGeneratedColumn() id!: number; @Column({ name: 'first_name', type: 'varchar', length: 100 }) firstName!: string; }
    @Entity('m13_login') @PersonalData({ category: 'logins', link: 'person', exclude: ['password_hash'] })
    class Login13 { @PrimaryGeneratedColumn() id!: number; @Column({ name: 'password_hash', type: 'varchar', length: 100 }) passwordHash!: string; @ManyToOne(() => Person13) person!: Person13; }
    defineRedact(Person13, 'first_name', 'name');
    const dataSource = await db.createDataSource([Person13, Login13]);
    const engine = new PrivacyEngine({ dataSource, subject: Person13, secret: SECRET, logger: createTestLogger() });
    await engine.start();
    const map = engine.dataMap();
    expect(map.entities[0].fields.find((f) => f.name === 'firstName')).toMatchObject({ column: 'first_name', redact: 'name' });
    expect(map.entities[1].fields.find((f) => f.name === 'passwordHash')).toMatchObject({ exported: false });
  });

  it('refuses at start-up a delete that would remove rows retained rows still point at (the request would fail half-way)', async () => {
    @Entity('m14_person') @DataSubject() class Person14 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('m14_order') @PersonalData({ category: 'orders', link: 'person', onErase: 'delete' })
    class Order14 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person14) person!: Person14; }
    @Entity('m14_invoice') @PersonalData({ category: 'invoices', link: 'order.person', onErase: 'retain', retention: { basis: 'Tax law' } })
    class Invoice14 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Order14) order!: Order14; }
    await expectMetadataError(
      startWith([Person14, Order14, Invoice14], Person14),
      "Order14: delete removes its rows, but Invoice14.order (onErase 'retain') still points at them, so a delete request would fail half-way; " +
        'give Order14 a @DeleteDateColumn or declare softDelete (a column that hides its rows), or erase the rows that point at it first',
      { entity: 'Order14' },
    );
  });

  if (db.kind !== 'sqlite') {
    it('refuses @Redact on a generated column (the database computes it)', async () => {
      const doubled = db.kind === 'postgres' ? '"n" * 2' : '`n` * 2';
      @Entity('m15_person') @DataSubject()
      class Person15 {
        @PrimaryGeneratedColumn() id!: number;
        @Column({ type: 'int' }) n!: number;
        @Column({ type: 'int', nullable: true, generatedType: 'STORED', asExpression: doubled }) @Redact('null') doubled!: number | null;
      }
      await expectMetadataError(
        startWith([Person15], Person15),
        'Person15.doubled: a generated column cannot be redacted (the database computes it); redact the columns it is computed from',
        { entity: 'Person15', field: 'doubled' },
      );
    });
  }

  it('accepts deep and many-to-many links when they are right', async () => {
    @Entity('m12_person') @DataSubject() class Person12 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('m12_group') @PersonalData({ category: 'groups', link: 'members', onErase: 'retain', retention: { basis: 'Business record' } })
    class Group12 { @PrimaryGeneratedColumn() id!: number; @ManyToMany(() => Person12) @JoinTable() members!: Person12[]; }
    @Entity('m12_post') @PersonalData({ category: 'posts', link: 'group.members' })
    class Post12 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Group12) group!: Group12; }
    await expect(startWith([Person12, Group12, Post12], Person12)).resolves.toBeUndefined();
  });
});
