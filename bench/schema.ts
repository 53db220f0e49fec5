import 'reflect-metadata';
import { Column, DeleteDateColumn, Entity, Index, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { DataSubject, PersonalData, Redact } from '../src/index.js';

/**
 * The benchmark CRM: a contact and eight tables of their history, each linked to the contact directly and
 * indexed on (contactId, id) as the engine recommends. Every table is `onErase: 'delete'` with a
 * @DeleteDateColumn, so engine.delete soft-deletes all eight (the set-based floor is one UPDATE per table)
 * and engine.anonymize redacts all eight. Column types are explicit: tsx (esbuild) emits no decorator metadata.
 */

const facts = (name: string, purpose: string) => ({ name, purpose, legalBasis: 'Legitimate interests (Art. 6(1)(f))', retention: '3 years', recipients: ['Sales and support staff'] });

@Entity('bench_contact')
@DataSubject({ displayName: (c: Contact) => `${c.firstName} ${c.lastName}`, onErase: 'delete' })
export class Contact {
  @PrimaryGeneratedColumn() id!: number;
  @Index() @Column({ type: 'varchar', length: 64 }) organizationId!: string;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') firstName!: string;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') lastName!: string;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
  @Column({ type: 'varchar', length: 40, nullable: true }) @Redact('phone') phone!: string | null;
  @Column({ type: Date }) createdAt!: Date;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('bench_email')
@Index(['contact', 'id'])
@PersonalData({ category: facts('emails', 'Relationship history'), link: 'contact', onErase: 'delete' })
export class SyncedEmail {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 191 }) @Redact('email') fromAddress!: string;
  @Column({ type: 'varchar', length: 300 }) @Redact('fixed') subject!: string;
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @Column({ type: Date }) sentAt!: Date;
  @Column({ type: 'int' }) sizeBytes!: number;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('bench_activity')
@Index(['contact', 'id'])
@PersonalData({ category: facts('activities', 'Relationship history'), link: 'contact', onErase: 'delete' })
export class Activity {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 16 }) kind!: string;
  @Column({ type: 'varchar', length: 200 }) @Redact('fixed') subject!: string;
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @Column({ type: Date }) occurredAt!: Date;
  @Column({ type: 'int' }) durationMin!: number;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('bench_web_visit')
@Index(['contact', 'id'])
@PersonalData({ category: facts('web-visits', 'Website analytics'), link: 'contact', onErase: 'delete' })
export class WebVisit {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 300 }) url!: string;
  @Column({ type: 'varchar', length: 300, nullable: true }) @Redact('null') referrer!: string | null;
  @Column({ type: 'varchar', length: 45 }) @Redact('ip') ipAddress!: string;
  @Column({ type: Date }) visitedAt!: Date;
  @Column({ type: 'int' }) durationMs!: number;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('bench_note')
@Index(['contact', 'id'])
@PersonalData({ category: facts('notes', 'Relationship history'), link: 'contact', onErase: 'delete' })
export class Note {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 }) @Redact('fixed') title!: string;
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @Column({ type: Date }) writtenAt!: Date;
  @Column({ type: 'int' }) wordCount!: number;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('bench_call')
@Index(['contact', 'id'])
@PersonalData({ category: facts('calls', 'Relationship history'), link: 'contact', onErase: 'delete' })
export class Call {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 40 }) @Redact('phone') phoneNumber!: string;
  @Column({ type: 'text' }) @Redact('text') summary!: string;
  @Column({ type: Date }) calledAt!: Date;
  @Column({ type: 'int' }) seconds!: number;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('bench_meeting')
@Index(['contact', 'id'])
@PersonalData({ category: facts('meetings', 'Relationship history'), link: 'contact', onErase: 'delete' })
export class Meeting {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 }) title!: string;
  @Column({ type: 'varchar', length: 200 }) @Redact('fixed') location!: string;
  @Column({ type: 'text' }) @Redact('text') notes!: string;
  @Column({ type: Date }) startsAt!: Date;
  @Column({ type: 'int' }) attendees!: number;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('bench_ticket')
@Index(['contact', 'id'])
@PersonalData({ category: facts('tickets', 'Customer support'), link: 'contact', onErase: 'delete' })
export class Ticket {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 200 }) title!: string;
  @Column({ type: 'text' }) @Redact('text') description!: string;
  @Column({ type: Date }) openedAt!: Date;
  @Column({ type: 'int' }) priority!: number;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn() deletedAt?: Date | null;
}

@Entity('bench_form_submission')
@Index(['contact', 'id'])
@PersonalData({ category: facts('form-submissions', 'Marketing'), link: 'contact', onErase: 'delete' })
export class FormSubmission {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) formName!: string;
  @Column({ type: 'text' }) @Redact('text') payload!: string;
  @Column({ type: Date }) submittedAt!: Date;
  @Column({ type: 'int' }) score!: number;
  @ManyToOne(() => Contact, { nullable: false }) contact!: Contact;
  @DeleteDateColumn() deletedAt?: Date | null;
}

/** Dialect-neutral SQL pieces for generated values; `g` is the row number (1..n). */
export interface SqlGen {
  hex(salt: number): string;
  pick(words: string[], salt: number): string;
  concat(...parts: string[]): string;
  time(secondsPerRow: number): string;
  int(mod: number, salt: number): string;
}

export interface BenchTable {
  entity: Function;
  table: string;
  /** Share of the subject's N rows held in this table. */
  share: number;
  /** Column -> generated value; ~230 bytes of JSON per exported record. */
  values(s: SqlGen): Record<string, string>;
  /** Column -> constant written by the set-based floor and the naive loop when anonymizing. */
  redact: Record<string, string | null>;
}

const WORDS = ['renewal', 'pricing', 'onboarding', 'contract', 'support', 'invoice', 'demo', 'follow-up', 'integration', 'training'];
const text = (s: SqlGen, salt: number) =>
  s.concat(`'Discussed '`, s.pick(WORDS, salt), `' and '`, s.pick(WORDS, salt + 3), `'; next step: '`, s.pick(WORDS, salt + 7), `', ref '`, s.hex(salt), `'.'`);

export const SUBJECT_TABLE = 'bench_contact';

export const BENCH_TABLES: BenchTable[] = [
  {
    entity: SyncedEmail,
    table: 'bench_email',
    share: 0.3,
    values: (s) => ({ fromAddress: s.concat(`'sender'`, s.int(997, 1), `'@example.com'`), subject: s.concat(`'Re: '`, s.pick(WORDS, 1), `' #'`, s.int(100000, 3)), body: text(s, 11), sentAt: s.time(37), sizeBytes: s.int(90000, 7) }),
    redact: { fromAddress: 'redacted@redacted.invalid', subject: '[REDACTED]', body: '[REDACTED]' },
  },
  {
    entity: Activity,
    table: 'bench_activity',
    share: 0.25,
    values: (s) => ({ kind: s.pick(['call', 'email', 'meeting', 'note'], 2), subject: s.concat(s.pick(WORDS, 5), `' with the team'`), body: text(s, 13), occurredAt: s.time(53), durationMin: s.int(240, 5) }),
    redact: { subject: '[REDACTED]', body: '[REDACTED]' },
  },
  {
    entity: WebVisit,
    table: 'bench_web_visit',
    share: 0.15,
    values: (s) => ({ url: s.concat(`'https://www.example.com/'`, s.pick(WORDS, 4), `'/'`, s.hex(17)), referrer: s.concat(`'https://search.example.org/?q='`, s.pick(WORDS, 9)), ipAddress: s.concat(`'203.0.113.'`, s.int(250, 11)), visitedAt: s.time(11), durationMs: s.int(600000, 13) }),
    redact: { referrer: null, ipAddress: '203.0.113.0' },
  },
  {
    entity: Note,
    table: 'bench_note',
    share: 0.08,
    values: (s) => ({ title: s.concat(`'Note on '`, s.pick(WORDS, 6)), body: text(s, 19), writtenAt: s.time(401), wordCount: s.int(500, 17) }),
    redact: { title: '[REDACTED]', body: '[REDACTED]' },
  },
  {
    entity: Call,
    table: 'bench_call',
    share: 0.08,
    values: (s) => ({ phoneNumber: s.concat(`'+1 555 01'`, s.int(100, 19), `' '`, s.int(10000, 23)), summary: text(s, 23), calledAt: s.time(307), seconds: s.int(3600, 29) }),
    redact: { phoneNumber: 'REDACTED01', summary: '[REDACTED]' },
  },
  {
    entity: Meeting,
    table: 'bench_meeting',
    share: 0.06,
    values: (s) => ({ title: s.concat(s.pick(WORDS, 8), `' review'`), location: s.concat(`'Room '`, s.int(40, 31)), notes: text(s, 29), startsAt: s.time(911), attendees: s.int(12, 37) }),
    redact: { location: '[REDACTED]', notes: '[REDACTED]' },
  },
  {
    entity: Ticket,
    table: 'bench_ticket',
    share: 0.04,
    values: (s) => ({ title: s.concat(`'Problem with '`, s.pick(WORDS, 10)), description: text(s, 31), openedAt: s.time(1201), priority: s.int(5, 41) }),
    redact: { description: '[REDACTED]' },
  },
  {
    entity: FormSubmission,
    table: 'bench_form_submission',
    share: 0.04,
    values: (s) => ({ formName: s.concat(`'newsletter-'`, s.pick(WORDS, 12)), payload: s.concat(`'{"company":"Acme '`, s.int(1000, 43), `'","interest":"'`, s.pick(WORDS, 14), `'","ref":"'`, s.hex(37), `'"}'`), submittedAt: s.time(1601), score: s.int(100, 47) }),
    redact: { payload: '[REDACTED]' },
  },
];

export const benchEntities = [Contact, ...BENCH_TABLES.map((t) => t.entity)];

/** The subject every case exports or erases; other contacts own a few thousand rows so the scoping is real. */
export const SUBJECT_ID = 1;
export const TENANT_ID = 'org-bench';
export const OTHER_CONTACTS = 200;
/** Rows of other contacts per table, interleaved with the subject's. */
export const OTHER_ROWS_PER_TABLE = 1000;

/** How many of the subject's n rows each table holds (the last table takes the remainder). */
export function rowsPerTable(n: number): number[] {
  const counts = BENCH_TABLES.map((t) => Math.floor(n * t.share));
  counts[counts.length - 1] += n - counts.reduce((a, b) => a + b, 0);
  return counts;
}
