import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Column, type DataSource, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataSubject, PersonalData, PrivacyEngine, Redact } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { createTestLogger } from './support/test-logger.js';

/**
 * The (link, primary key) indexes of entities a host cannot edit (they live in a dependency): engine.suggestIndexes()
 * gives the DDL and a TypeORM migration, and once the database has the index the start-up warning is gone.
 */
const SECRET = 'index-suggestions-secret-index-suggestions-1';

@Entity('ix_customer')
@DataSubject()
class Customer {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 191 }) @Redact('email') email!: string;
}

/** "From a dependency": no @Index for the engine's reads. */
@Entity('ix_order')
@PersonalData({ category: 'orders', link: 'customer' })
class Order {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') shippingName!: string;
  @ManyToOne(() => Customer) customer!: Customer;
}

@Entity('ix_note')
@Index(['customer', 'id'])
@PersonalData({ category: 'notes', link: 'customer' })
class Note {
  @PrimaryGeneratedColumn() id!: number;
  @ManyToOne(() => Customer) customer!: Customer;
}

/** Also "from a dependency", given its index without editing the class: TypeORM's decorator called as a function. */
@Entity('ix_payment')
@PersonalData({ category: 'payments', link: 'customer' })
class Payment {
  @PrimaryGeneratedColumn() id!: number;
  @ManyToOne(() => Customer) customer!: Customer;
}
Index(['customer', 'id'])(Payment);

describeEachDatabase('index suggestions for entities the host does not own', (db) => {
  let ds: DataSource;
  const engines: PrivacyEngine[] = [];

  async function started() {
    const logger = createTestLogger();
    const engine = new PrivacyEngine({ dataSource: ds, subject: Customer, secret: SECRET, logger });
    engines.push(engine);
    await engine.start();
    return { engine, logger };
  }

  beforeAll(async () => {
    ds = await db.createDataSource([Customer, Order, Note, Payment]);
  });
  afterAll(async () => {
    for (const engine of engines) await engine.stop();
  });

  it('suggests the missing index with its DDL and a migration; the warning goes once a migration added it, and comes back when it is dropped (where the database lets it go)', async () => {
    const { engine, logger } = await started();
    expect(logger.warnings('MISSING_KEYSET_INDEX').map((w) => w.message)).toEqual([
      'Order: no index on (customerId, id); reading a subject with many rows pages slowly without it (engine.suggestIndexes() gives a migration)',
    ]);
    const q = (name: string) => (db.kind === 'mysql' ? `\`${name}\`` : `"${name}"`);
    const suggestions = await engine.suggestIndexes({ migrationName: `OrderKeyset${db.kind}1700000000000` });
    expect(suggestions.indexes).toEqual([
      {
        entity: 'Order',
        table: 'ix_order',
        columns: ['customerId', 'id'],
        name: 'IDX_ix_order_customerId_keyset',
        sql: `CREATE INDEX ${q('IDX_ix_order_customerId_keyset')} ON ${q('ix_order')} (${q('customerId')}, ${q('id')})`,
        dropSql: db.kind === 'mysql' ? `DROP INDEX ${q('IDX_ix_order_customerId_keyset')} ON ${q('ix_order')}` : `DROP INDEX ${q('IDX_ix_order_customerId_keyset')}`,
      },
    ]);
    expect(suggestions.migration).toContain(`export class OrderKeyset${db.kind}1700000000000 implements MigrationInterface`);

    // The migration as a host would save it, run by TypeORM's own migration runner.
    const file = path.join(import.meta.dirname, `.index-migration-${db.kind}-${process.pid}.ts`);
    await writeFile(file, suggestions.migration);
    try {
      const module = await import(file);
      const migration = new module[`OrderKeyset${db.kind}1700000000000`]();
      const runner = ds.createQueryRunner();
      try {
        await migration.up(runner);
        expect((await engine.suggestIndexes()).indexes).toEqual([]);
        const again = await started();
        expect(again.logger.warnings('MISSING_KEYSET_INDEX')).toEqual([]);
        expect(again.engine.dataMap().warnings.filter((w) => w.code === 'MISSING_KEYSET_INDEX')).toEqual([]);
        // MySQL/MariaDB let the new index carry the foreign key and drop their own: down() could not drop it then.
        if (db.kind !== 'mysql') await migration.down(runner);
        else await ds.query(suggestions.indexes[0].dropSql).catch((e: Error) => expect(e.message).toMatch(/foreign key/));
      } finally {
        await runner.release();
      }
    } finally {
      await rm(file, { force: true });
    }
    if (db.kind === 'mysql') return;
    expect((await engine.suggestIndexes()).indexes.map((i) => i.name)).toEqual(['IDX_ix_order_customerId_keyset']);
    // The plain DDL works as well.
    await ds.query(suggestions.indexes[0].sql);
    expect((await engine.suggestIndexes()).indexes).toEqual([]);
    await ds.query(suggestions.indexes[0].dropSql);
    expect((await engine.suggestIndexes()).indexes).toHaveLength(1);
  });

  it('validates its options', async () => {
    const { engine } = await started();
    await expect(engine.suggestIndexes({ migrationName: 'not a class name' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
