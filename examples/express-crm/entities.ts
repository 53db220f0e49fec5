/**
 * The example CRM's schema, annotated for privacy-engine. A Contact is the data subject; everything else reaches
 * it through a relation path (or, for the CRM's own audit log, a polymorphic reference).
 *
 * tsx compiles with esbuild, which emits no decorator metadata: every @Column names its `type`.
 */
import { Column, CreateDateColumn, DeleteDateColumn, Entity, Index, JoinTable, ManyToMany, ManyToOne, OneToMany, PrimaryGeneratedColumn } from 'typeorm';
import { DataSubject, PersonalData, Redact } from '../../src/index.js';

const LEGITIMATE_INTERESTS = 'Legitimate interests (Art. 6(1)(f))';
const CONTRACT = 'Contract (Art. 6(1)(b))';

// A company is a legal entity, not a person: kept on erasure, but its record is part of a contact's export.
@Entity('company')
@PersonalData({
  category: { name: 'company', description: 'The company you work for, as we know it', purpose: 'Account management', legalBasis: LEGITIMATE_INTERESTS, source: 'You or your colleagues' },
  link: 'contacts',
  onErase: 'retain',
  retention: { basis: 'Business record of a legal entity, not personal data of the contact' },
})
export class Company {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string;
  @Column({ type: 'varchar', length: 120 }) name!: string;
  @Column({ type: 'varchar', length: 120 }) domain!: string;
  @Column({ type: 'varchar', length: 60 }) industry!: string;
  @Column({ type: 'varchar', length: 80 }) city!: string;
  @OneToMany(() => Contact, (c) => c.company) contacts!: Contact[];
}

// Delete hides the contact at once (soft delete) and removes it at purge; anonymize redacts it in place.
@Entity('contact')
@Index(['organizationId', 'lastName'])
@DataSubject({
  category: { name: 'profile', description: 'Your contact details', purpose: 'Managing our relationship with you', legalBasis: LEGITIMATE_INTERESTS, source: 'You, or a colleague who introduced you' },
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
  @Column({ type: 'varchar', length: 100, nullable: true }) jobTitle!: string | null;
  @Column({ type: 'varchar', length: 80, nullable: true }) @Redact('null') city!: string | null;
  @Column({ type: 'date', nullable: true }) @Redact('null') birthday!: string | null;
  @ManyToOne(() => Company, (c) => c.contacts, { nullable: true }) company!: Company | null;
  @CreateDateColumn({ type: Date }) createdAt!: Date;
  @DeleteDateColumn({ type: Date }) deletedAt?: Date | null;
}

// Calls, emails, meetings and notes: hidden with the contact on delete, their text redacted on anonymize.
@Entity('activity')
@Index(['contact', 'id'])
@PersonalData({
  category: { name: 'activities', description: 'Calls, emails, meetings and notes', purpose: 'Relationship history', legalBasis: LEGITIMATE_INTERESTS, source: 'Our sales and support staff' },
  link: 'contact',
  onErase: 'delete',
})
export class Activity {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 16 }) kind!: 'call' | 'email' | 'meeting' | 'note';
  @Column({ type: 'varchar', length: 200 }) @Redact('fixed') subject!: string;
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @Column({ type: Date }) occurredAt!: Date;
  @Column({ type: 'varchar', length: 64 }) owner!: string;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn({ type: Date }) deletedAt?: Date | null;
}

// A ticket belongs to its requester and to every contact in CC (a shared link: flagged for review on erasure).
@Entity('ticket')
@Index(['requester', 'id'])
@PersonalData({
  category: { name: 'tickets', description: 'Support tickets you opened or were copied on', purpose: 'Customer support', legalBasis: CONTRACT, recipients: ['Support staff'] },
  link: ['requester', 'ccs'],
})
export class Ticket {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 }) title!: string;
  @Column({ type: 'text' }) @Redact('text') description!: string;
  @Column({ type: 'varchar', length: 16 }) status!: 'open' | 'pending' | 'closed';
  @Column({ type: Date }) openedAt!: Date;
  @ManyToOne(() => Contact, { nullable: true }) requester!: Contact | null;
  @ManyToMany(() => Contact) @JoinTable({ name: 'ticket_cc' }) ccs!: Contact[];
}

// Deals where the contact is the primary contact: kept, their free-text notes redacted.
@Entity('deal')
@Index(['primaryContact', 'id'])
@PersonalData({
  category: { name: 'deals', description: 'Opportunities where you are our main contact', purpose: 'Sales', legalBasis: LEGITIMATE_INTERESTS },
  link: 'primaryContact',
})
export class Deal {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 }) title!: string;
  @Column({ type: 'varchar', length: 20 }) stage!: 'lead' | 'proposal' | 'negotiation' | 'won' | 'lost';
  @Column({ type: 'decimal', precision: 12, scale: 2 }) amount!: string;
  @Column({ type: 'text', nullable: true }) @Redact('text') notes!: string | null;
  @ManyToOne(() => Contact, { nullable: false }) primaryContact!: Contact;
}

// Invoices on the contact's deals: kept after any erasure, under tax law, and reported on the receipt.
@Entity('invoice')
@Index(['deal', 'id'])
@PersonalData({
  category: { name: 'invoices', description: 'Invoices issued on your deals', purpose: 'Billing', legalBasis: 'Legal obligation (Art. 6(1)(c))', retention: '10 years (tax law)', recipients: ['Accounting', 'Tax authorities'] },
  link: 'deal.primaryContact',
  onErase: 'retain',
  retention: { basis: 'Tax law: 10 years', until: (i: Invoice) => new Date(Date.UTC(new Date(i.issuedAt).getUTCFullYear() + 10, 0, 1)) },
})
export class Invoice {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 32 }) number!: string;
  @Column({ type: 'date' }) issuedAt!: string;
  @Column({ type: 'decimal', precision: 12, scale: 2 }) amount!: string;
  @Column({ type: 'varchar', length: 200 }) billingName!: string;
  @Column({ type: 'varchar', length: 300 }) billingAddress!: string;
  @ManyToOne(() => Deal, { nullable: false }) deal!: Deal;
}

// Consent records are the proof of consent (GDPR Art. 7(1)): kept after erasure.
@Entity('consent')
@Index(['contact', 'id'])
@PersonalData({
  category: { name: 'consents', description: 'What you agreed to, when and how', purpose: 'Proof of consent', legalBasis: 'Legal obligation (Art. 7(1))', retention: '3 years after withdrawal' },
  link: 'contact',
  onErase: 'retain',
  retention: { basis: 'Proof of consent (GDPR Art. 7(1)): 3 years', until: (c: Consent) => new Date(new Date(c.givenAt).getTime() + 3 * 365 * 86_400_000) },
})
export class Consent {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 40 }) purpose!: 'newsletter' | 'product-updates' | 'events' | 'phone-calls';
  @Column({ type: 'boolean' }) granted!: boolean;
  @Column({ type: Date }) givenAt!: Date;
  @Column({ type: 'varchar', length: 40 }) source!: string;
  @Column({ type: 'varchar', length: 45, nullable: true }) ipAddress!: string | null;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
}

// The CRM's own audit log points at records of any kind through (entityType, entityId).
@Entity('crm_audit_log')
@Index(['entityType', 'entityId'])
@PersonalData({
  category: { name: 'audit-log', description: 'Changes made to your record in the CRM', purpose: 'Security and accountability', legalBasis: LEGITIMATE_INTERESTS, retention: '1 year' },
  link: { type: 'Contact', typeColumn: 'entityType', idColumn: 'entityId' },
  onErase: 'retain',
  retention: { basis: 'Security audit trail: 1 year', until: (e: AuditLogEntry) => new Date(new Date(e.at).getTime() + 365 * 86_400_000) },
})
export class AuditLogEntry {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 64 }) organizationId!: string;
  @Column({ type: 'varchar', length: 32 }) entityType!: string;
  @Column({ type: 'varchar', length: 64 }) entityId!: string;
  @Column({ type: 'varchar', length: 32 }) action!: string;
  @Column({ type: 'varchar', length: 64 }) actor!: string;
  @Column({ type: Date }) at!: Date;
}

export const CRM_ENTITIES = [Company, Contact, Activity, Ticket, Deal, Invoice, Consent, AuditLogEntry];
