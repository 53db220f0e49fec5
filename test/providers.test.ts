import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Column, type DataSource, DeleteDateColumn, Entity, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataCategoryProvider, DataSubject, PersonalData, PrivacyEngine, Redact, createLocalStorage, type DataCategoryProviderInterface, type ProviderSubject } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { allTextValues } from './support/table-dump.js';
import { describeEachDatabase } from './support/databases.js';

@Entity('pv_member') @DataSubject({ onErase: 'delete' })
class Member {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('pv_post') @PersonalData({ category: 'posts', link: 'author', onErase: 'anonymize' })
class Post {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @ManyToOne(() => Member, { nullable: false }) author!: Member;
}

/** A mail server outside the database: records per member id, with real erasure support. */
class Mailbox implements DataCategoryProviderInterface {
  readonly messages = new Map<string, Array<{ id: string; from: string; subject: string }>>();
  hidden = new Map<string, Array<{ id: string; from: string; subject: string }>>();
  async *export(subject: ProviderSubject) {
    for (const m of this.messages.get(String(subject.id)) ?? []) yield { ...m, receivedAt: new Date(Date.UTC(2025, 0, 1)) };
  }
  async delete(subject: ProviderSubject) {
    const key = String(subject.id);
    this.hidden.set(key, this.messages.get(key) ?? []);
    this.messages.delete(key);
    return { affected: this.hidden.get(key)!.length };
  }
  async restore(subject: ProviderSubject) {
    this.messages.set(String(subject.id), this.hidden.get(String(subject.id)) ?? []);
  }
  async purge(subject: ProviderSubject) {
    this.hidden.delete(String(subject.id));
  }
}

const calendarSeen: string[] = [];
@DataCategoryProvider({ name: 'calendar', category: { name: 'calendar', purpose: 'Scheduling', source: 'Calendar sync' } })
// Registered by its decorator alone; exported so nothing else needs to name it.
export class Calendar implements DataCategoryProviderInterface {
  async *export(subject: ProviderSubject) {
    calendarSeen.push(String(subject.id));
    for (let i = 0; i < 2500; i++) yield { id: `ev-${subject.id}-${i}`, title: `Meeting ${i}` };
  }
}

describeEachDatabase('providers: data outside TypeORM', (db) => {
  let engine: PrivacyEngine;
  let ds: DataSource;
  const mailbox = new Mailbox();
  const admin = { id: 'admin', roles: ['admin'] };

  beforeAll(async () => {
    ds = await db.createDataSource([Member, Post]);
    const m = await ds.getRepository(Member).save({ email: 'pat@provider.example' });
    await ds.getRepository(Post).save({ body: 'Hello from pat', author: m });
    mailbox.messages.set(String(m.id), [
      { id: 'msg-1', from: 'pat@provider.example', subject: 'Hi' },
      { id: 'msg-2', from: 'pat@provider.example', subject: 'Again' },
    ]);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Member,
      secret: 'provider-secret-provider-secret-provider-01',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-prov-')) }),
      policy: { batchSize: 500 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    engine.registerProvider('mailbox', { name: 'mail', purpose: 'Correspondence', legalBasis: 'Legitimate interests' }, mailbox);
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  it('streams provider records into the export like any table', async () => {
    const request = await engine.waitForRequest((await engine.export({ subjectId: 1, actor: admin })).id, { actor: engine.system });
    expect(request.status).toBe('completed');
    const files = await readZip(await streamToBuffer((await engine.download({ requestId: request.id, actor: admin })).stream));
    const summary = JSON.parse(files.get('summary.json')!);
    expect(summary.meta.counts).toEqual({ profile: 1, posts: 1, mail: 2, calendar: 2500 });
    expect(summary.categories.mail.records[0]).toEqual({ _entity: 'mailbox', _id: 'msg-1', from: 'pat@provider.example', subject: 'Hi', receivedAt: '2025-01-01T00:00:00.000Z' });
    expect(summary.categories.mail.purpose).toBe('Correspondence');
    expect(summary.categories.calendar.source).toBe('Calendar sync');
    expect(files.get('README.md')).toContain('calendar');
    expect(calendarSeen).toContain('1');
    expect(engine.dataMap().providers).toEqual([
      { name: 'calendar', category: 'calendar', capabilities: ['export'] },
      { name: 'mailbox', category: 'mail', capabilities: ['export', 'delete', 'restore', 'purge'] },
    ]);
  });

  it('calls providers on erasure, reports those without support as manual action, and keeps the vault encrypted', async () => {
    const deleted = await engine.waitForRequest((await engine.delete({ subjectId: 1, actor: admin })).id, { actor: engine.system });
    expect(deleted.status).toBe('completed');
    const receipt = (deleted.outcome as any).receipt;
    expect(receipt.providers).toEqual([
      { name: 'calendar', category: 'calendar', status: 'manual action required' },
      { name: 'mailbox', category: 'mail', status: 'done', affected: 2 },
    ]);
    expect(deleted.review).toContainEqual({ item: 'provider calendar', reason: 'does not implement delete: manual action required' });
    expect(mailbox.messages.has('1')).toBe(false);

    // Originals are in the vault, but never in plain text: the post body was redacted and only its ciphertext is stored.
    const text = (await allTextValues(ds)).join('\n');
    expect(text).not.toContain('Hello from pat');

    const restored = await engine.waitForRequest((await engine.restore({ requestId: deleted.id, actor: admin })).id, { actor: engine.system });
    expect((restored.outcome as any).providers).toEqual([
      { name: 'calendar', status: 'manual action required' },
      { name: 'mailbox', status: 'done' },
    ]);
    expect(mailbox.messages.get('1')).toHaveLength(2);
  });
});
