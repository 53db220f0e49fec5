/**
 * Entities whose primary key is a pair of columns (`@PrimaryColumn` twice) through export, anonymize, delete,
 * restore (whole and by record) and purge. A composite record id is written as the key parts joined with ':'
 * in key column order, the way exports show it in `_id` and restore's `records[].id` reads it.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Column, DeleteDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn, type DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { DataSubject, PersonalData, PrivacyEngine, Redact, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { type RawTextRow, rawKey, rawTextRows, resetTables, vaultRowsOf } from './support/raw-dump.js';
import { allTextValues } from './support/table-dump.js';

const facts = { purpose: 'Composite key test', legalBasis: 'Contract (Art. 6(1)(b))' };

@Entity('ck_member')
@DataSubject({ category: { name: 'ck-profile', ...facts }, onErase: 'delete' })
class Member {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') name!: string;
  @DeleteDateColumn() deletedAt?: Date | null;
}

/** Keyed by (member, key): one part is the link to the subject. Redacted by both erasures. */
@Entity('ck_preference')
@PersonalData({ category: { name: 'ck-preferences', ...facts }, link: 'member', onErase: 'anonymize' })
class Preference {
  @PrimaryColumn({ type: 'int' }) memberId!: number;
  @PrimaryColumn({ type: 'varchar', length: 32 }) key!: string;
  @ManyToOne(() => Member, { nullable: false }) @JoinColumn({ name: 'memberId' }) member!: Member;
  @Column({ type: 'text' }) @Redact('text') value!: string;
}

/** Keyed by (region, seq), independent of the subject; soft-deleted by delete. */
@Entity('ck_address')
@Index(['member', 'region', 'seq'])
@PersonalData({ category: { name: 'ck-addresses', ...facts }, link: 'member', onErase: 'delete' })
class Address {
  @PrimaryColumn({ type: 'varchar', length: 16 }) region!: string;
  @PrimaryColumn({ type: 'int' }) seq!: number;
  @Column({ type: 'text' }) @Redact('text') line!: string;
  @ManyToOne(() => Member, { nullable: false }) member!: Member;
  @DeleteDateColumn() deletedAt?: Date | null;
}

/** Keyed by two strings, no delete-date column: snapshotted and removed by delete. */
@Entity('ck_device')
@Index(['member', 'vendor', 'serial'])
@PersonalData({ category: { name: 'ck-devices', ...facts }, link: 'member', onErase: 'delete' })
class Device {
  @PrimaryColumn({ type: 'varchar', length: 32 }) vendor!: string;
  @PrimaryColumn({ type: 'varchar', length: 64 }) serial!: string;
  @Column({ type: 'varchar', length: 100 }) @Redact('text') label!: string;
  @ManyToOne(() => Member, { nullable: false }) member!: Member;
}

const entities = [Member, Preference, Address, Device];
const TENANT = 'org-ck';
const admin: Actor = { id: 'dpo-ck', roles: ['admin'], tenantId: TENANT };
type Dump = Record<string, Map<string, RawTextRow>>;

describeEachDatabase('composite primary keys', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  let ann: Member;
  let bob: Member;

  beforeAll(async () => {
    ds = await db.createDataSource(entities);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Member,
      tenantColumn: 'organizationId',
      secret: 'composite-secret-composite-secret-composite',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-composite-')) }),
      policy: { batchSize: 2 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  // Ann has three rows in each composite table (more than a batch), Bob one, sharing key parts with hers.
  beforeEach(async () => {
    await resetTables(ds, ['ck_device', 'ck_address', 'ck_preference', 'ck_member']);
    ann = await ds.getRepository(Member).save({ organizationId: TENANT, email: 'ann@mail.example', name: 'Ann Original' });
    bob = await ds.getRepository(Member).save({ organizationId: TENANT, email: 'bob@mail.example', name: 'Bob Bystander' });
    for (const [member, tag] of [[ann, 'ann'], [ann, 'ann'], [ann, 'ann'], [bob, 'bob']] as const) {
      const n = await ds.getRepository(Preference).countBy({ memberId: member.id });
      await ds.getRepository(Preference).insert({ memberId: member.id, key: ['theme', 'lang', 'tz'][n], member, value: `${tag}-pref-${n}` });
    }
    await ds.getRepository(Address).insert([
      { region: 'eu', seq: 1, line: 'ann-street-1', member: ann },
      { region: 'eu', seq: 2, line: 'ann-street-2', member: ann },
      { region: 'us', seq: 1, line: 'ann-street-3', member: ann },
      { region: 'us', seq: 2, line: 'bob-street-1', member: bob },
    ]);
    await ds.getRepository(Device).insert([
      { vendor: 'acme', serial: 'SN-1', label: 'ann-phone', member: ann },
      { vendor: 'acme', serial: 'SN-2', label: 'ann-tablet', member: ann },
      { vendor: 'zeta', serial: 'SN-1', label: 'ann-watch', member: ann },
      { vendor: 'zeta', serial: 'SN-2', label: 'bob-phone', member: bob },
    ]);
  });

  async function dump(): Promise<Dump> {
    const out: Dump = {};
    for (const entity of entities) out[ds.getMetadata(entity).tableName] = await rawTextRows(ds, ds.getMetadata(entity));
    return out;
  }

  async function run(request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  const annValues = ['ann@mail.example', 'Ann Original', 'ann-pref-0', 'ann-pref-1', 'ann-pref-2', 'ann-street-1', 'ann-street-2', 'ann-street-3', 'ann-phone', 'ann-tablet', 'ann-watch'];
  const bobRows = (d: Dump) => ({
    member: d.ck_member.get(String(bob.id)),
    preference: d.ck_preference.get(rawKey([bob.id, 'theme'])),
    address: d.ck_address.get(rawKey(['us', 2])),
    device: d.ck_device.get(rawKey(['zeta', 'SN-2'])),
  });

  it('exports every composite-key row with both key parts in its record id', async () => {
    const done = await run(engine.export({ subjectId: ann.id, actor: admin }));
    const files = await readZip(await streamToBuffer((await engine.download({ requestId: done.id, actor: admin })).stream));
    const summary = JSON.parse(files.get('summary.json')!);
    const ids = (category: string) => summary.categories[category].records.map((r: { _id: string }) => r._id).sort();
    expect(ids('ck-preferences')).toEqual([`${ann.id}:lang`, `${ann.id}:theme`, `${ann.id}:tz`]);
    expect(ids('ck-addresses')).toEqual(['eu:1', 'eu:2', 'us:1']);
    expect(ids('ck-devices')).toEqual(['acme:SN-1', 'acme:SN-2', 'zeta:SN-1']);
    const device = summary.categories['ck-devices'].records.find((r: { _id: string }) => r._id === 'zeta:SN-1');
    expect(device).toMatchObject({ _entity: 'Device', vendor: 'zeta', serial: 'SN-1', label: 'ann-watch' });
    const text = [...files.values()].join('\n');
    for (const value of annValues) expect(text).toContain(value);
    expect(text).not.toContain('bob-');
  });

  it('anonymize redacts each composite-key row, and a whole restore gives back identical rows', async () => {
    const before = await dump();
    const done = await run(engine.anonymize({ subjectId: ann.id, actor: admin }));
    const { receipt } = done.outcome as any;
    expect(receipt.entities).toMatchObject({ Preference: { rows: 3 }, Address: { rows: 3 }, Device: { rows: 3 }, Member: { rows: 1 } });
    const after = await dump();
    expect(after.ck_preference.get(rawKey([ann.id, 'lang']))!.value).toBe('[REDACTED]');
    expect(after.ck_address.get(rawKey(['us', 1]))!.line).toBe('[REDACTED]');
    expect(after.ck_device.get(rawKey(['zeta', 'SN-1']))!.label).toBe('[REDACTED]');
    expect(bobRows(after)).toEqual(bobRows(before));

    await run(engine.restore({ requestId: done.id, actor: admin }));
    expect(await dump()).toEqual(before);
  });

  it('delete hides and removes composite-key rows; restore by record brings back exactly the rows named "<part>:<part>"', async () => {
    const before = await dump();
    const done = await run(engine.delete({ subjectId: ann.id, actor: admin }));
    const deleted = await dump();
    expect([...deleted.ck_device.keys()]).toEqual([rawKey(['zeta', 'SN-2'])]);
    for (const key of [['eu', 1], ['eu', 2], ['us', 1]]) expect(deleted.ck_address.get(rawKey(key))!.deletedAt).not.toBeNull();
    expect(bobRows(deleted)).toEqual(bobRows(before));

    const partial = await run(
      engine.restore({
        requestId: done.id,
        actor: admin,
        records: [
          { entity: 'Device', id: 'zeta:SN-1' },
          { entity: 'Address', id: 'eu:2' },
          { entity: 'Preference', id: `${ann.id}:tz` },
        ],
      }),
    );
    expect((partial.outcome as any).restored).toEqual({ Device: 1, Address: 1, Preference: 1 });
    const some = await dump();
    // Only the named rows, byte for byte; the rows sharing one key part with them stay erased.
    expect(some.ck_device.get(rawKey(['zeta', 'SN-1']))).toEqual(before.ck_device.get(rawKey(['zeta', 'SN-1'])));
    expect(some.ck_device.has(rawKey(['acme', 'SN-1']))).toBe(false);
    expect(some.ck_address.get(rawKey(['eu', 2]))).toEqual(before.ck_address.get(rawKey(['eu', 2])));
    expect(some.ck_address.get(rawKey(['eu', 1]))!.deletedAt).not.toBeNull();
    expect(some.ck_preference.get(rawKey([ann.id, 'tz']))).toEqual(before.ck_preference.get(rawKey([ann.id, 'tz'])));
    expect(some.ck_preference.get(rawKey([ann.id, 'theme']))!.value).toBe('[REDACTED]');

    await run(engine.restore({ requestId: done.id, actor: admin }));
    expect(await dump()).toEqual(before);
  });

  it('purge removes the hidden composite-key rows and leaves no original anywhere', async () => {
    const before = await dump();
    const done = await run(engine.delete({ subjectId: ann.id, actor: admin }));
    const purge = await run(engine.purge({ requestId: done.id, actor: admin, force: true }));
    expect(purge.outcome).toMatchObject({ keyDestroyed: true, removed: { Address: 3 } });
    const after = await dump();
    expect([...after.ck_address.keys()]).toEqual([rawKey(['us', 2])]);
    expect([...after.ck_device.keys()]).toEqual([rawKey(['zeta', 'SN-2'])]);
    // Her preferences stay (redacted) and still reference her row: it is emptied and stays hidden.
    expect(after.ck_member.get(String(ann.id))!.deletedAt).not.toBeNull();
    const text = (await allTextValues(ds)).join('\n');
    for (const value of annValues) expect(text).not.toContain(value);
    expect(await vaultRowsOf(ds, done.id)).toBe(0);
    expect(bobRows(after)).toEqual(bobRows(before));
    await expect(engine.restore({ requestId: done.id, actor: admin, records: [{ entity: 'Device', id: 'acme:SN-1' }] })).rejects.toMatchObject({ code: 'WINDOW_CLOSED' });
  });
});
