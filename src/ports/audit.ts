/**
 * The audit trail's storage. Entries form one hash chain per tenant; the chain logic (hashing, verification,
 * pruning, export) lives in src/audit/ and works over any adapter of this port, so a sink only stores records
 * in order and keeps a head pointer.
 */

/** A subject as the audit trail names it: ids and a keyed hash, never names, emails or phones. */
export interface AuditSubject {
  type: string;
  id: string;
  /** HMAC of an identifying value under an engine key (see `keyedSubjectHash`), to find entries without storing the value. */
  keyedHash: string;
}

export interface AuditEntry {
  /** 1, 2, 3… per tenant, in append order. */
  seq: number;
  at: Date;
  /** The tenant whose chain holds the entry; '' for hosts without tenants. */
  tenantId: string;
  actorId: string;
  /** What happened, dotted: `request.submitted`, `download.refused`, `audit.pruned`… */
  action: string;
  requestId?: string;
  subject?: AuditSubject;
  /** PII-free facts (counts, codes, reasons); JSON values only. */
  details: Record<string, unknown>;
}

/** An entry as stored: its hash covers the previous record's hash and the entry's canonical JSON. */
export interface AuditRecord extends AuditEntry {
  prevHash: string;
  hash: string;
}

/** The last record appended to a tenant's chain, kept apart from the records so a cut tail shows. */
export interface AuditHead {
  seq: number;
  hash: string;
}

export interface AuditPort {
  readonly name: string;
  /**
   * Appends a record to the tenant's chain. `seal` gets the current head (null for an empty chain) and returns
   * the record; the adapter stores it and moves the head to it atomically, and calls `seal` again (it is pure)
   * when another writer got there first, so concurrent appends never fork the chain.
   */
  append(tenantId: string, seal: (head: AuditHead | null) => AuditRecord): Promise<AuditRecord>;
  /** Up to `limit` records with seq greater than `afterSeq` (0 by default), ordered by seq then by storage order. */
  list(tenantId: string, options: { afterSeq?: number; limit: number }): Promise<AuditRecord[]>;
  head(tenantId: string): Promise<AuditHead | null>;
  /** Deletes the tenant's records with seq up to `seq` (retention pruning); returns how many went. */
  removeThrough(tenantId: string, seq: number): Promise<number>;
  close?(): Promise<void>;
}
