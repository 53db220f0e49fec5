import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Column, type DataSource, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataSubject, type ErasureReceipt, PersonalData, PrivacyEngine, Redact, createLocalStorage, type Actor } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';

const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };
/** The redacted code every note gets but the one whose original is 'clash', which gets another note's code. */
const TAKEN = 'taken-code';

@Entity('ri_person')
@DataSubject({ onErase: 'anonymize' })
class Person {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string;
  @Column({ type: 'varchar', length: 191 }) @Redact('email') email!: string;
}

@Entity('ri_note')
@Index(['person', 'id'])
@PersonalData({ category: 'notes', link: 'person', onErase: 'anonymize' })
class Note {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 }) @Redact('text') body!: string;
  // A unique code the host's redaction rewrites; for one row it writes a value another row holds.
  @Column({ type: 'varchar', length: 64, unique: true })
  @Redact((value) => (value === 'clash' ? TAKEN : `redacted-${String(value)}`))
  code!: string;
  @ManyToOne(() => Person, { nullable: false }) person!: Person;
}

describeEachDatabase('one item that cannot be processed goes to the review list; the rest of the request completes', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;
  const calls: string[] = [];

  beforeAll(async () => {
    ds = await db.createDataSource([Person, Note]);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Person,
      tenantColumn: 'organizationId',
      secret: 'review-secret-review-secret-review-secret-1',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-review-')) }),
      policy: { batchSize: 3, retries: 0 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    engine.registerProvider('crm-mailbox', { name: 'mail', purpose: 'Correspondence', legalBasis: 'Legitimate interests' }, {
      export: async function* () {},
      // A permanent failure of one outside system (with a code, and a message naming the person).
      anonymize: async () => {
        calls.push('crm-mailbox');
        throw Object.assign(new Error('mailbox of ada@mail.example is locked'), { code: 'MAILBOX_LOCKED' });
      },
      restore: async () => {
        throw Object.assign(new Error('mailbox of ada@mail.example is locked'), { code: 'MAILBOX_LOCKED' });
      },
    });
    engine.registerProvider('crm-calendar', { name: 'calendar', purpose: 'Meetings', legalBasis: 'Contract' }, {
      export: async function* () {},
      anonymize: async () => {
        calls.push('crm-calendar');
        return { affected: 2 };
      },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  it('a row the database refuses and a provider that fails are flagged (entity and id, provider and code, no values); every other row and provider is erased, and restored', async () => {
    const other = await ds.getRepository(Person).save({ organizationId: 'org-a', email: 'other@mail.example' });
    await ds.getRepository(Note).save({ body: 'not the subject', code: TAKEN, person: other });
    const ada = await ds.getRepository(Person).save({ organizationId: 'org-a', email: 'ada@mail.example' });
    const notes = await ds.getRepository(Note).save(
      Array.from({ length: 8 }, (_, i) => ({ body: `note ${i} about ada@mail.example`, code: i === 4 ? 'clash' : `code-${i}`, person: ada })),
    );
    const clash = notes[4];

    const done = await engine.waitForRequest((await engine.anonymize({ subjectId: ada.id, actor: admin })).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    expect(done.review).toEqual(
      expect.arrayContaining([
        { item: `Note ${clash.id}`, reason: expect.stringMatching(/^could not be anonymized: the database refused the redacted value \((23505|ER_DUP_ENTRY|SQLITE_CONSTRAINT\w*)\)$/) },
        { item: 'provider crm-mailbox', reason: 'anonymize failed (MAILBOX_LOCKED): manual action required' },
      ]),
    );
    expect(JSON.stringify(done.review)).not.toMatch(/ada@mail|clash|note 4/);

    const receipt = (done.outcome as { receipt: ErasureReceipt }).receipt;
    expect(receipt.needsReview).toBe(true);
    expect(receipt.entities.Note.rows).toBe(7);
    expect(receipt.providers).toEqual([
      { name: 'crm-mailbox', category: 'mail', status: 'failed', error: 'MAILBOX_LOCKED' },
      { name: 'crm-calendar', category: 'calendar', status: 'done', affected: 2 },
    ]);
    expect(calls).toEqual(['crm-mailbox', 'crm-calendar']);

    const after = await ds.getRepository(Note).find({ where: { person: { id: ada.id } }, order: { id: 'ASC' } });
    for (const note of after) {
      if (note.id === clash.id) expect(note).toMatchObject({ code: 'clash', body: 'note 4 about ada@mail.example' });
      else expect(note.code).toBe(`redacted-${notes.find((n) => n.id === note.id)!.code}`);
    }
    expect((await ds.getRepository(Person).findOneByOrFail({ id: ada.id })).email).not.toBe('ada@mail.example');
    // The other subject's row, whose value the redaction collided with, is untouched.
    expect((await ds.getRepository(Note).findOneByOrFail({ code: TAKEN })).body).toBe('not the subject');

    // What was erased can be restored, the flagged row included as it was.
    const restored = await engine.waitForRequest((await engine.restore({ requestId: done.id, actor: admin })).id, { actor: engine.system });
    expect(restored.status).toBe('completed');
    expect(restored.review).toContainEqual({ item: 'provider crm-mailbox', reason: 'restore failed (MAILBOX_LOCKED): manual action required' });
    expect((restored.outcome as { providers: unknown[] }).providers).toContainEqual({ name: 'crm-mailbox', status: 'failed', error: 'MAILBOX_LOCKED' });
    const back = await ds.getRepository(Note).find({ where: { person: { id: ada.id } }, order: { id: 'ASC' } });
    expect(back.map((n) => [n.code, n.body])).toEqual(notes.map((n) => [n.code, n.body]));
  });
});
