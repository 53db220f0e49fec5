import { Column, type DataSource, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataSubject, MetadataError, PersonalData, PrivacyEngine, Redact, type Actor, type PrivacyRequest } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { rawTextRows } from './support/raw-dump.js';
import { createTestLogger } from './support/test-logger.js';

/**
 * Per-field retention: retained orders keep the total and the tax id under tax law, while the shipping name,
 * address and gift message (their other @Redact fields) are redacted by anonymize and by delete.
 */
const admin: Actor = { id: 'dpo', roles: ['admin'] };
const SECRET = 'retention-fields-secret-retention-fields-01';

@Entity('rf_customer')
@DataSubject()
class Customer {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') name!: string;
}

@Entity('rf_order')
@Index(['customer', 'id'])
@PersonalData({
  category: { name: 'orders', legalBasis: 'Contract (Art. 6(1)(b))' },
  link: 'customer',
  onErase: 'retain',
  retention: { basis: 'Tax law: 10 years', fields: ['total', 'taxId'] },
})
class Order {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'int' }) total!: number;
  @Column({ type: 'varchar', length: 40, nullable: true }) @Redact('fixed') taxId!: string | null;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') shippingName!: string;
  @Column({ type: 'varchar', length: 200 }) @Redact('fixed') shippingAddress!: string;
  @Column({ type: 'text', nullable: true }) @Redact('null') giftMessage!: string | null;
  @ManyToOne(() => Customer, { nullable: false }) customer!: Customer;
}

/** Retained whole: no field list, nothing redacted. */
@Entity('rf_invoice')
@Index(['customer', 'id'])
@PersonalData({ category: 'invoices', link: 'customer', onErase: 'retain', retention: { basis: 'Accounting law' } })
class Invoice {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') billedTo!: string;
  @ManyToOne(() => Customer, { nullable: false }) customer!: Customer;
}

describeEachDatabase('per-field retention', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;

  beforeAll(async () => {
    ds = await db.createDataSource([Customer, Order, Invoice]);
    engine = new PrivacyEngine({ dataSource: ds, subject: Customer, secret: SECRET, policy: { batchSize: 2 }, logger: createTestLogger() });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  async function seed(token: string) {
    const customer = await ds.getRepository(Customer).save({ email: `${token}@mail.example`, name: `Ann ${token}` });
    const orders = await ds.getRepository(Order).save(
      [1, 2, 3].map((i) => ({ total: 1000 * i, taxId: `DE${token}${i}`, shippingName: `Ann ${token}`, shippingAddress: `${i} ${token} Street`, giftMessage: `for ${token}`, customer })),
    );
    await ds.getRepository(Invoice).save({ billedTo: `Ann ${token}`, customer });
    return { customer, orders };
  }

  async function finish(request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  async function snapshot() {
    return Object.fromEntries(await Promise.all([Customer, Order, Invoice].map(async (e) => [e.name, [...(await rawTextRows(ds, ds.getMetadata(e))).values()]])));
  }

  it('the data map lists the kept fields with the basis', () => {
    const order = engine.dataMap().entities.find((e) => e.name === 'Order')!;
    expect(order.retention).toEqual({ basis: 'Tax law: 10 years', fields: ['total', 'taxId'] });
    expect(engine.dataMap().entities.find((e) => e.name === 'Invoice')!.retention).toEqual({ basis: 'Accounting law' });
  });

  for (const operation of ['anonymize', 'delete'] as const) {
    it(`${operation} redacts the other @Redact fields of retained orders, keeps the named ones, and the receipt lists them with their basis`, async () => {
      const token = `rf${operation.slice(0, 3)}`;
      const { customer, orders } = await seed(token);
      const before = await snapshot();
      const plan = await engine.plan({ subjectId: customer.id, operation, actor: admin });
      expect(plan.retained.find((r) => r.entity === 'Order')).toEqual({ category: 'orders', entity: 'Order', rows: 3, legalBasis: 'Tax law: 10 years', fields: ['total', 'taxId'] });
      expect(plan.entities.find((e) => e.entity === 'Order')).toMatchObject({ action: 'redact', rows: 3, fields: [{ name: 'shippingName' }, { name: 'shippingAddress' }, { name: 'giftMessage' }] });

      const done = await finish(engine[operation]({ subjectId: customer.id, actor: admin }));
      const after = await ds.getRepository(Order).find({ where: { customer: { id: customer.id } }, order: { id: 'ASC' } });
      expect(after.map((o) => [o.total, o.taxId])).toEqual(orders.map((o) => [o.total, o.taxId]));
      for (const order of after) {
        expect(order.shippingName).not.toContain(token);
        expect(order.shippingAddress).toBe('[REDACTED]');
        expect(order.giftMessage).toBeNull();
      }
      // The invoice, retained whole, is untouched.
      expect((await ds.getRepository(Invoice).findOneByOrFail({ customer: { id: customer.id } })).billedTo).toBe(`Ann ${token}`);

      const receipt = (done.outcome as any).receipt;
      expect(receipt.entities.Order).toMatchObject({ action: 'anonymized', rows: 3, fields: ['giftMessage', 'shippingAddress', 'shippingName'] });
      expect(receipt.retained).toEqual([
        { category: 'orders', entity: 'Order', rows: 3, legalBasis: 'Tax law: 10 years', until: null, fields: ['total', 'taxId'] },
        { category: 'invoices', entity: 'Invoice', rows: 1, legalBasis: 'Accounting law', until: null },
      ]);
      // Kept fields are kept on purpose: the verification pass does not hold them against the erasure.
      expect(receipt.verification.remaining.filter((r: any) => r.entity === 'Order')).toEqual([]);

      await finish(engine.restore({ requestId: done.id, actor: admin }));
      expect(await snapshot()).toEqual(before);
    });
  }

  it('refuses retention.fields naming no column, left empty, or on an entity that is not retained', async () => {
    const start = async (entities: Function[]) => {
      const dataSource = await db.createDataSource(entities);
      return new PrivacyEngine({ dataSource, subject: entities[0], secret: SECRET, logger: createTestLogger() }).start();
    };
    @Entity('rf1_person') @DataSubject() class Person1 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('rf1_order') @PersonalData({ category: 'o', link: 'person', onErase: 'retain', retention: { basis: 'Tax', fields: ['vat'] } })
    class Order1 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person1) person!: Person1; }
    await expect(start([Person1, Order1])).rejects.toMatchObject({ code: 'METADATA', message: 'Order1.vat: retention.fields names a property that is not a column' });

    @Entity('rf2_person') @DataSubject() class Person2 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('rf2_order') @PersonalData({ category: 'o', link: 'person', onErase: 'retain', retention: { basis: 'Tax', fields: [] } })
    class Order2 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person2) person!: Person2; }
    await expect(start([Person2, Order2])).rejects.toBeInstanceOf(MetadataError);

    @Entity('rf3_person') @DataSubject() class Person3 { @PrimaryGeneratedColumn() id!: number; }
    @Entity('rf3_order') @PersonalData({ category: 'o', link: 'person', onErase: 'anonymize', retention: { basis: 'Tax', fields: ['id'] } })
    class Order3 { @PrimaryGeneratedColumn() id!: number; @ManyToOne(() => Person3) person!: Person3; }
    await expect(start([Person3, Order3])).rejects.toMatchObject({ code: 'METADATA', message: "Order3: retention.fields applies to onErase 'retain' only" });
  });
});
