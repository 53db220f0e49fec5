import { assertFollows } from '../audit/chain.js';
import type { AuditHead, AuditPort, AuditRecord } from '../ports/audit.js';

export interface MemoryAudit extends AuditPort {
  /** Copies of the stored records in storage order, and a way to overwrite them: for tamper tests only. */
  readonly raw: {
    read(tenantId: string): AuditRecord[];
    write(tenantId: string, records: AuditRecord[]): void;
  };
}

const copy = (record: AuditRecord): AuditRecord => structuredClone(record);

/** Keeps audit chains in memory: for tests. Appends are synchronous, so one tenant's chain never forks. */
export function createMemoryAudit(): MemoryAudit {
  const chains = new Map<string, { records: AuditRecord[]; head: AuditHead | null }>();
  const chainOf = (tenantId: string) => {
    let chain = chains.get(tenantId);
    if (!chain) chains.set(tenantId, (chain = { records: [], head: null }));
    return chain;
  };

  return {
    name: 'memory',
    async append(tenantId, seal) {
      const chain = chainOf(tenantId);
      const record = copy(seal(chain.head));
      assertFollows(tenantId, chain.head, record);
      chain.records.push(record);
      chain.head = { seq: record.seq, hash: record.hash };
      return copy(record);
    },
    async list(tenantId, { afterSeq = 0, limit }) {
      // Ordered by seq, ties in storage order (Array#sort is stable), as a database with ORDER BY seq, id would.
      return chainOf(tenantId)
        .records.filter((record) => record.seq > afterSeq)
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit)
        .map(copy);
    },
    async head(tenantId) {
      const head = chainOf(tenantId).head;
      return head ? { ...head } : null;
    },
    async removeThrough(tenantId, seq) {
      const chain = chainOf(tenantId);
      const before = chain.records.length;
      chain.records = chain.records.filter((record) => record.seq > seq);
      return before - chain.records.length;
    },
    async close() {
      chains.clear();
    },
    raw: {
      read: (tenantId) => chainOf(tenantId).records.map(copy),
      write: (tenantId, records) => {
        chainOf(tenantId).records = records.map(copy);
      },
    },
  };
}
