/**
 * The CRM's data, annotated for privacy-engine, and its sample rows: a small self-contained set (the Express
 * example, examples/express-crm/, has the full schema). Every @Column names its `type`, so the entities load the
 * same whether or not the compiler emits decorator metadata.
 */
import type { DataSource } from 'typeorm';
import { Column, DeleteDateColumn, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { DataSubject, PersonalData, Redact } from '../../src/index.js';

const LEGITIMATE_INTERESTS = 'Legitimate interests (Art. 6(1)(f))';

@Entity('contact')
@Index(['organizationId', 'lastName'])
@DataSubject({
  category: { name: 'profile', description: 'Your contact details', purpose: 'Managing our relationship with you', legalBasis: LEGITIMATE_INTERESTS },
  displayName: (c: Contact) => `${c.firstName} ${c.lastName}`,
  onErase: 'delete',
})
export class Contact {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string; // the tenant column
  @Column({ type: 'varchar', length: 100 }) @Redact('name') firstName!: string;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') lastName!: string;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
  @Column({ type: 'varchar', length: 40, nullable: true }) @Redact('phone') phone!: string | null;
  @DeleteDateColumn({ type: Date }) deletedAt?: Date | null;
}

// Calls, emails and notes: hidden with the contact on delete, their text redacted on anonymize.
@Entity('activity')
@Index(['contact', 'id'])
@PersonalData({
  category: { name: 'activities', description: 'Calls, emails and notes', purpose: 'Relationship history', legalBasis: LEGITIMATE_INTERESTS },
  link: 'contact',
  onErase: 'delete',
})
export class Activity {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 16 }) kind!: 'call' | 'email' | 'note';
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @Column({ type: Date }) occurredAt!: Date;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn({ type: Date }) deletedAt?: Date | null;
}

// Invoices are kept after any erasure, under tax law, and reported on the erasure receipt.
@Entity('invoice')
@Index(['contact', 'id'])
@PersonalData({
  category: { name: 'invoices', description: 'Invoices issued to you', purpose: 'Billing', legalBasis: 'Legal obligation (Art. 6(1)(c))', retention: '10 years (tax law)' },
  link: 'contact',
  onErase: 'retain',
  retention: { basis: 'Tax law: 10 years', until: (i: Invoice) => new Date(Date.UTC(new Date(i.issuedAt).getUTCFullYear() + 10, 0, 1)) },
})
export class Invoice {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 32 }) number!: string;
  @Column({ type: 'date' }) issuedAt!: string;
  @Column({ type: 'decimal', precision: 12, scale: 2 }) amount!: string;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
}

export const CRM_ENTITIES = [Contact, Activity, Invoice];

/** The CRM's staff: an admin per organization (tenant), and a non-admin the dashboard turns away. */
export const STAFF: ReadonlyArray<{ id: string; name: string; organizationId: string; roles: string[] }> = [
  { id: 'alice.martin', name: 'Alice Martin', organizationId: 'northwind', roles: ['admin'] },
  { id: 'bob.chen', name: 'Bob Chen', organizationId: 'globex', roles: ['admin'] },
  { id: 'nora.patel', name: 'Nora Patel', organizationId: 'northwind', roles: ['sales'] },
];

const CONTACTS: Array<[string, string, string, string | null]> = [
  ['northwind', 'Astrid', 'Lindqvist', '+46 31 555 01 23'],
  ['northwind', 'Camille', 'Dubois', '+33 4 72 55 01 90'],
  ['northwind', 'Maya', 'Okafor', null],
  ['globex', 'Ethan', 'Tremblay', '+1 416 555 0190'],
  ['globex', 'Haruto', 'Sato', '+81 6 5555 0101'],
];

/** Fills an empty database; one that already has contacts is left alone. */
export async function seed(dataSource: DataSource): Promise<{ seeded: boolean }> {
  if ((await dataSource.getRepository(Contact).count({ withDeleted: true })) > 0) return { seeded: false };
  await dataSource.transaction(async (m) => {
    for (const [i, [organizationId, firstName, lastName, phone]] of CONTACTS.entries()) {
      const contact = await m.getRepository(Contact).save(
        m.getRepository(Contact).create({ organizationId, firstName, lastName, phone, email: `${firstName}.${lastName}@${organizationId}.example`.toLowerCase() }),
      );
      await m.getRepository(Activity).save(
        (['call', 'email', 'note'] as const).map((kind, k) =>
          m.getRepository(Activity).create({ kind, body: `${kind} with ${firstName}: follow up on the renewal`, occurredAt: new Date(Date.UTC(2025, 0, 6 + i * 3 + k, 9, 30)), contact }),
        ),
      );
      await m.getRepository(Invoice).save(m.getRepository(Invoice).create({ number: `INV-2025-${String(100 + i).padStart(4, '0')}`, issuedAt: '2025-02-01', amount: '1200.00', contact }));
    }
  });
  return { seeded: true };
}
