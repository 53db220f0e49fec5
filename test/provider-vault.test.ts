import { Column, type DataSource, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { DataSubject, PrivacyEngine, Redact, type Actor, type DataCategoryProviderInterface, type PrivacyRequest, type ProviderContext, type ProviderSubject } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { allTextValues } from './support/table-dump.js';

/**
 * A provider erasing data the data map does not hold (a login account kept by an auth service, here a table the
 * engine does not map) keeps its originals in the engine's vault: sealed under the erasure's key, opened on
 * restore, shredded at purge.
 */
const admin: Actor = { id: 'dpo', roles: ['admin'] };

@Entity('pv_customer')
@DataSubject()
class Customer {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
}

/** Held by "the auth service": not in the data map. */
@Entity('pv_login')
class Login {
  @PrimaryColumn({ type: 'int' }) customerId!: number;
  @Column({ type: 'varchar', length: 191 }) identifier!: string;
  @Column({ type: 'varchar', length: 100, nullable: true }) passwordHash!: string | null;
}

class LoginProvider implements DataCategoryProviderInterface {
  ds!: DataSource;
  /** What purge() could still open from the vault (nothing: it is shredded first). */
  openedAtPurge: unknown[] | null = null;
  sealOnRestore = false;

  private repo() {
    return this.ds.getRepository(Login);
  }

  async *export(subject: ProviderSubject) {
    const login = await this.repo().findOneBy({ customerId: Number(subject.id) });
    if (login) yield { id: login.customerId, identifier: login.identifier };
  }

  async anonymize(subject: ProviderSubject, context: ProviderContext) {
    const login = await this.repo().findOneBy({ customerId: Number(subject.id) });
    if (!login) return { affected: 0 };
    await context.vault.seal('login', { identifier: login.identifier, passwordHash: login.passwordHash });
    await this.repo().update({ customerId: login.customerId }, { identifier: `erased-${login.customerId}`, passwordHash: null });
    return { affected: 1 };
  }

  async restore(subject: ProviderSubject, context: ProviderContext) {
    if (this.sealOnRestore) await context.vault.seal('login', {});
    for await (const { kind, data } of context.vault.open('login')) {
      expect(kind).toBe('login');
      const original = data as { identifier: string; passwordHash: string | null };
      await this.repo().update({ customerId: Number(subject.id) }, original);
      return; // the first sealed is the original
    }
  }

  async purge(subject: ProviderSubject, context: ProviderContext) {
    this.openedAtPurge = [];
    for await (const entry of context.vault.open()) this.openedAtPurge.push(entry);
    await this.repo().delete({ customerId: Number(subject.id) });
  }
}

describeEachDatabase('providers seal their originals in the engine vault', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  const provider = new LoginProvider();

  beforeAll(async () => {
    ds = await db.createDataSource([Customer, Login]);
    provider.ds = ds;
    engine = new PrivacyEngine({ dataSource: ds, subject: Customer, secret: 'provider-vault-secret-provider-vault-0001', logger: { info() {}, warn() {}, error() {} } });
    engine.registerProvider('auth', 'login', provider);
    await engine.start();
  });
  afterAll(async () => engine?.stop());
  beforeEach(() => {
    provider.sealOnRestore = false;
    provider.openedAtPurge = null;
  });

  async function seed(token: string) {
    const customer = await ds.getRepository(Customer).save({ email: `${token}@mail.example` });
    await ds.getRepository(Login).save({ customerId: customer.id, identifier: `${token}@mail.example`, passwordHash: `hash-${token}` });
    return customer;
  }

  async function finish(request: Promise<PrivacyRequest>, status: PrivacyRequest['status'] = 'completed') {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.status).toBe(status);
    return done;
  }

  async function providerEntries(requestId: string): Promise<number> {
    const p = (i: number) => (db.kind === 'postgres' ? `$${i}` : '?');
    const q = (name: string) => ds.driver.escape(name);
    const rows = await ds.query(`SELECT COUNT(*) AS n FROM ${q('privacy_vault')} WHERE ${q('request_id')} = ${p(1)} AND ${q('kind')} = ${p(2)}`, [requestId, 'provider']);
    return Number(rows[0].n);
  }

  it('seals the originals encrypted, and restore gives the login back from them', async () => {
    const customer = await seed('pvtokA');
    const erased = await finish(engine.anonymize({ subjectId: customer.id, actor: admin }));
    expect((erased.outcome as any).receipt.providers).toEqual([{ name: 'auth', category: 'login', status: 'done', affected: 1 }]);
    expect(await ds.getRepository(Login).findOneByOrFail({ customerId: customer.id })).toMatchObject({ identifier: `erased-${customer.id}`, passwordHash: null });
    expect(await providerEntries(erased.id)).toBe(1);
    // Encrypted: no table of the database holds the originals in clear.
    expect((await allTextValues(ds)).filter((v) => v.includes('pvtokA'))).toEqual([]);

    await finish(engine.restore({ requestId: erased.id, actor: admin }));
    expect(await ds.getRepository(Login).findOneByOrFail({ customerId: customer.id })).toMatchObject({ identifier: 'pvtokA@mail.example', passwordHash: 'hash-pvtokA' });
    expect(await providerEntries(erased.id)).toBe(0);
  });

  it('purge shreds what the provider sealed before calling it: nothing is left to open', async () => {
    const customer = await seed('pvtokB');
    const erased = await finish(engine.anonymize({ subjectId: customer.id, actor: admin }));
    expect(await providerEntries(erased.id)).toBe(1);
    await finish(engine.purge({ requestId: erased.id, actor: admin, force: true }));
    expect(provider.openedAtPurge).toEqual([]);
    expect(await providerEntries(erased.id)).toBe(0);
    expect(await ds.getRepository(Login).countBy({ customerId: customer.id })).toBe(0);
    await expect(engine.restore({ requestId: erased.id, actor: admin })).rejects.toMatchObject({ code: 'WINDOW_CLOSED' });
  });

  it('sealing is for erasures: a restore that tries is refused with CONFLICT, flagged for review; the rows are still restored', async () => {
    const customer = await seed('pvtokC');
    const erased = await finish(engine.anonymize({ subjectId: customer.id, actor: admin }));
    provider.sealOnRestore = true;
    const restored = await finish(engine.restore({ requestId: erased.id, actor: admin }));
    expect(restored.review).toContainEqual({ item: 'provider auth', reason: 'restore failed (CONFLICT): manual action required' });
    expect(await ds.getRepository(Customer).findOneByOrFail({ id: customer.id })).toMatchObject({ email: 'pvtokC@mail.example' });
    // The provider stopped at the refused seal: its login is still the erased one, which is what review is for.
    expect(await ds.getRepository(Login).findOneByOrFail({ customerId: customer.id })).toMatchObject({ identifier: `erased-${customer.id}` });
  });
});
