/**
 * privacy-engine quick start: a small CRM on SQLite (in memory). Exports one contact to a ZIP,
 * anonymizes them, then restores them from the vault.
 *
 *   npm run demo        (= npx tsx examples/quick-start.ts)
 *
 * tsx compiles with esbuild, which emits no decorator metadata: every @Column names its `type`.
 */
import 'reflect-metadata';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Column, DataSource, DeleteDateColumn, Entity, Index, JoinTable, ManyToMany, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { DataSubject, PersonalData, PrivacyEngine, Redact, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';

// ---- The data map: your own entities, annotated ----------------------------------------------------

@Entity('contact')
@DataSubject({
  category: { name: 'profile', purpose: 'Managing our relationship with you', legalBasis: 'Legitimate interests (Art. 6(1)(f))' },
  displayName: (c: Contact) => `${c.firstName} ${c.lastName}`,
})
class Contact {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string; // the tenant column
  @Column({ type: 'varchar', length: 100 }) @Redact('name') firstName!: string;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') lastName!: string;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
  @Column({ type: 'varchar', length: 40, nullable: true }) @Redact('phone') phone!: string | null;
  @DeleteDateColumn() deletedAt?: Date | null;
}

// Calls and notes: kept on anonymize, their text redacted. The (contact, id) index keeps paging fast.
@Entity('activity')
@Index(['contact', 'id'])
@PersonalData({ category: { name: 'activities', purpose: 'Relationship history', legalBasis: 'Legitimate interests (Art. 6(1)(f))' }, link: 'contact' })
class Activity {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 16 }) kind!: string;
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @Column({ type: Date }) occurredAt!: Date;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
}

// A ticket belongs to its requester and to every contact in CC (many-to-many): two links, unioned.
@Entity('ticket')
@Index(['requester', 'id'])
@PersonalData({ category: { name: 'tickets', purpose: 'Customer support', legalBasis: 'Contract (Art. 6(1)(b))' }, link: ['requester', 'ccs'] })
class Ticket {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 }) title!: string;
  @Column({ type: 'text' }) @Redact('text') description!: string;
  @ManyToOne(() => Contact, { nullable: true }) requester!: Contact | null;
  @ManyToMany(() => Contact) @JoinTable({ name: 'ticket_cc' }) ccs!: Contact[];
}

// Invoices are kept after an erasure request, under a legal basis the receipt reports.
@Entity('invoice')
@Index(['contact', 'id'])
@PersonalData({
  category: { name: 'invoices', purpose: 'Billing', legalBasis: 'Legal obligation (Art. 6(1)(c))', retention: '10 years (tax law)' },
  link: 'contact',
  onErase: 'retain',
  retention: { basis: 'Tax law: 10 years', until: (i: Invoice) => new Date(Date.UTC(new Date(i.issuedAt).getUTCFullYear() + 10, 0, 1)) },
})
class Invoice {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 32 }) number!: string;
  @Column({ type: 'date' }) issuedAt!: string;
  @Column({ type: 'decimal', precision: 12, scale: 2 }) amount!: string;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
}

// ---- The demo -------------------------------------------------------------------------------------

function expectCompleted(request: PrivacyRequest): PrivacyRequest {
  if (request.status !== 'completed') throw new Error(`${request.type} ended ${request.status}: ${request.error?.message}`);
  return request;
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'privacy-engine-demo-'));
  const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: [Contact, Activity, Ticket, Invoice], synchronize: true });
  await dataSource.initialize();

  // Seed two contacts of the same organization; Grace is CC on Ada's ticket and the other way round.
  const contacts = dataSource.getRepository(Contact);
  const ada = await contacts.save({ organizationId: 'acme', firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0000' });
  const grace = await contacts.save({ organizationId: 'acme', firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com', phone: null });
  await dataSource.getRepository(Activity).save([
    { kind: 'call', body: 'Called Ada about the analytical engine', occurredAt: new Date('2025-01-10T09:30:00Z'), contact: ada },
    { kind: 'note', body: 'Ada prefers email', occurredAt: new Date('2025-01-12T14:00:00Z'), contact: ada },
    { kind: 'call', body: 'Grace asked for a demo', occurredAt: new Date('2025-01-11T10:00:00Z'), contact: grace },
  ]);
  await dataSource.getRepository(Ticket).save([
    { title: 'Login problem', description: 'Ada cannot sign in', requester: ada, ccs: [grace] },
    { title: 'Compiler question', description: 'Grace asks about COBOL', requester: grace, ccs: [ada] },
  ]);
  await dataSource.getRepository(Invoice).save({ number: 'INV-2025-001', issuedAt: '2025-02-01', amount: '1200.00', contact: ada });

  // The engine: a secret of 32+ characters (keys for the vault and the 'hmac' strategy), local storage for archives.
  // Local storage keeps every export archive encrypted until it expires or its subject is erased; without
  // `storage` it would be ./.privacy-engine/storage, here it is a temporary folder.
  const engine = new PrivacyEngine({
    dataSource,
    subject: Contact,
    tenantColumn: 'organizationId',
    secret: 'demo-only-secret-use-a-real-random-one-in-production',
    storage: createLocalStorage({ directory: path.join(tmp, 'storage') }),
  });
  await engine.start(); // validates the data map, creates the privacy_* tables, starts the in-process queue
  const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'acme' };

  // 1. Export: the request is queued at once and runs in the background.
  const queued = await engine.export({ subjectId: ada.id, actor: admin });
  console.log(`export ${queued.id}: ${queued.status}, due ${queued.dueAt}`);
  const exported = expectCompleted(await engine.waitForRequest(queued.id, { actor: admin }));
  const download = await engine.download({ requestId: exported.id, actor: admin });
  const zipPath = path.join(tmp, download.fileName);
  await pipeline(download.stream, createWriteStream(zipPath));
  console.log(`archive (${download.size} bytes): ${zipPath}`);
  const stored = (exported.outcome as { artifact: { key: string } }).artifact.key;
  console.log(`the engine's own copy (encrypted; the anonymize below deletes it): ${path.join(tmp, 'storage', stored)}`);
  console.log('records per category:', (exported.outcome as { counts: Record<string, number> }).counts);

  // 2. Anonymize: personal fields redacted in place, originals sealed in the vault, invoices retained.
  const erased = expectCompleted(await engine.waitForRequest((await engine.anonymize({ subjectId: ada.id, actor: admin })).id, { actor: admin }));
  const { receipt } = erased.outcome as { receipt: any };
  console.log('verification:', receipt.verification);
  console.log('retained:', receipt.retained);
  console.log('email after anonymize:', (await contacts.findOneByOrFail({ id: ada.id })).email);

  // 3. Restore, inside the recovery window (30 days by default): the originals come back.
  expectCompleted(await engine.waitForRequest((await engine.restore({ requestId: erased.id, actor: admin })).id, { actor: admin }));
  console.log('email after restore:', (await contacts.findOneByOrFail({ id: ada.id })).email);

  await engine.stop();
  await dataSource.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
