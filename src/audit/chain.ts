import { createHash, createHmac } from 'node:crypto';
import { ValidationError } from '../errors.js';
import type { AuditEntry, AuditHead, AuditRecord } from '../ports/audit.js';

/** The `prevHash` of a tenant's first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** The action of the checkpoint record that prune() appends. */
export const PRUNE_ACTION = 'audit.pruned';

/** JSON with object keys sorted at every level, so the same entry always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
}

/** The hashed view of an entry: every field, `at` as an ISO string, absent optional fields left out. */
function hashedFields(entry: AuditEntry): Record<string, unknown> {
  return {
    seq: entry.seq,
    at: entry.at.toISOString(),
    tenantId: entry.tenantId,
    actorId: entry.actorId,
    action: entry.action,
    requestId: entry.requestId,
    subject: entry.subject ? { type: entry.subject.type, id: entry.subject.id, keyedHash: entry.subject.keyedHash } : undefined,
    details: entry.details,
  };
}

export function hashRecord(prevHash: string, entry: AuditEntry): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(hashedFields(entry))).digest('hex');
}

/** Builds the record that follows `head`. */
export function sealRecord(head: AuditHead | null, entry: Omit<AuditEntry, 'seq'>): AuditRecord {
  const prevHash = head?.hash ?? GENESIS_HASH;
  const full: AuditEntry = { ...entry, seq: (head?.seq ?? 0) + 1 };
  return { ...full, prevHash, hash: hashRecord(prevHash, full) };
}

/**
 * A keyed hash of an identifying value (an email, a customer number) for `AuditSubject.keyedHash`: the same value
 * gives the same hash under one key, so entries can be found later without the trail holding the value.
 * Use a key for this purpose alone (`keys.deriveKey('audit-subject')`).
 */
export function keyedSubjectHash(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value.normalize('NFC')).digest('hex');
}

/** Adapters check what `seal` returned: a record that does not follow the head would fork the chain. */
export function assertFollows(tenantId: string, head: AuditHead | null, record: AuditRecord): void {
  const follows = record.tenantId === tenantId && record.seq === (head?.seq ?? 0) + 1 && record.prevHash === (head?.hash ?? GENESIS_HASH);
  if (!follows) {
    throw new ValidationError('an audit record must follow the head of the chain it is appended to', [{ path: 'seq', message: 'does not follow the head' }]);
  }
}
