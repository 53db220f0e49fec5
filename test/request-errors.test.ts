import 'reflect-metadata';
import { Column, Entity, PrimaryGeneratedColumn, type DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataSubject, PrivacyEngine, Redact, type Actor } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';

const SECRET = 'errors-secret-errors-secret-errors-secret-0123';
const admin: Actor = { id: 'dpo', roles: ['admin'], tenantId: 'org-a' };

@Entity('pe_err_customer')
@DataSubject()
class Customer {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 32 }) org!: string;
  @Column({ type: 'varchar', length: 191 })
  @Redact((value) => {
    // A strategy that fails (on some values) and, like many database errors, echoes the value in its message.
    if (String(value).startsWith('secret')) throw new Error(`cannot redact ${String(value)}`);
    return 'redacted@redacted.invalid';
  })
  email!: string;
  // Too short for what its custom strategy writes: PostgreSQL and MariaDB (strict mode) refuse the UPDATE.
  @Column({ type: 'varchar', length: 8, nullable: true }) @Redact(() => 'x'.repeat(40)) code!: string | null;
}

describeEachDatabase('request errors name the step, entity and column, never a value', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  const logged: Array<{ message: string; meta: unknown }> = [];

  beforeAll(async () => {
    ds = await db.createDataSource([Customer]);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Customer,
      tenantColumn: 'org',
      secret: SECRET,
      logger: { info: () => undefined, warn: () => undefined, error: (message: string, meta?: unknown) => logged.push({ message, meta }) },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  it('a strategy that throws fails the request with INTERNAL naming redact, Customer.email; the log says where, not what', async () => {
    const customer = await ds.getRepository(Customer).save({ org: 'org-a', email: 'secret-value@mail.example', code: null });
    const done = await engine.waitForRequest((await engine.anonymize({ subjectId: customer.id, actor: admin })).id, { actor: engine.system });
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('INTERNAL');
    expect(done.error?.message).toMatch(/redact/);
    expect(done.error?.message).toMatch(/Customer\.email/);
    expect(done.error?.message).not.toMatch(/server logs/);
    expect(JSON.stringify(done)).not.toContain('secret-value');
    const entry = logged.find((l) => (l.meta as { requestId?: string }).requestId === done.id);
    expect(entry?.meta).toMatchObject({ step: 'redact', entity: 'Customer', column: 'email' });
    expect(JSON.stringify(logged)).not.toContain('secret-value');
  });

  // SQLite does not enforce column lengths, so the failing write exists on PostgreSQL and MariaDB only.
  if (db.kind !== 'sqlite') it('a row the database refuses is flagged for review by entity, id and SQL code, never a value; the receipt says so', async () => {
    await ds.getRepository(Customer).clear();
    const customer = await ds.getRepository(Customer).save({ org: 'org-a', email: 'other@mail.example', code: 'abc' });
    const done = await engine.waitForRequest((await engine.anonymize({ subjectId: customer.id, actor: admin })).id, { actor: engine.system });
    expect(done.status).toBe('completed');
    expect(done.review).toHaveLength(1);
    expect(done.review[0].item).toBe(`Customer ${customer.id}`);
    expect(done.review[0].reason).toMatch(/^could not be anonymized: the database refused the redacted value \(\w+\)$/);
    expect((done.outcome as { receipt: { needsReview?: boolean } }).receipt.needsReview).toBe(true);
    expect(JSON.stringify(done)).not.toContain('other@mail.example');
    // The refused row keeps its values until someone acts on the review item.
    expect(await ds.getRepository(Customer).findOneByOrFail({ id: customer.id })).toMatchObject({ email: 'other@mail.example', code: 'abc' });
  });
});
