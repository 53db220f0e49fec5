import type { AuditPort, AuditRecord } from '../ports/audit.js';
import { GENESIS_HASH, PRUNE_ACTION, hashRecord } from './chain.js';

export type AuditProblemKind = 'edited' | 'deleted' | 'reordered' | 'inserted' | 'truncated' | 'broken-link';

export interface AuditProblem {
  kind: AuditProblemKind;
  /** The entry concerned (for `deleted` and `truncated`: the first missing seq). */
  seq: number;
  /** Last missing seq, for `deleted` and `truncated`. */
  toSeq?: number;
  /** Where a `reordered` entry was first written. */
  originalSeq?: number;
  message: string;
}

export interface AuditVerification {
  ok: boolean;
  tenantId: string;
  /** Records read. */
  checked: number;
  problems: AuditProblem[];
}

const PAGE = 1000;

async function* records(port: AuditPort, tenantId: string, afterSeq = 0, untilSeq = Number.POSITIVE_INFINITY): AsyncGenerator<AuditRecord> {
  let after = afterSeq;
  for (;;) {
    const page = await port.list(tenantId, { afterSeq: after, limit: PAGE });
    for (const record of page) {
      if (record.seq > untilSeq) return;
      yield record;
    }
    if (page.length < PAGE) return;
    after = page[page.length - 1].seq;
  }
}

// Short prefixes keep the lookup maps small on long trails; a collision only weakens a diagnosis, never hides a break.
const short = (hash: string) => hash.slice(0, 20);

/**
 * Walks a tenant's chain and names every entry that was edited, deleted, moved, inserted, or cut off the tail.
 * Reads the trail twice: first to learn where each hash sits (to tell a moved entry from an edited one), then to
 * check each record against the one before it.
 */
export async function verifyChain(port: AuditPort, tenantId: string): Promise<AuditVerification> {
  const seqOfHash = new Map<string, number>();
  const seqPointingAt = new Map<string, number>();
  let maxSeq = 0;
  let firstSeq: number | undefined;
  let checkpoint: { throughSeq: number; lastPrunedHash: string } | undefined;
  let previousSeq: number | undefined;
  const duplicateSeqs = new Set<number>();
  for await (const record of records(port, tenantId)) {
    firstSeq ??= record.seq;
    if (record.seq === previousSeq) duplicateSeqs.add(record.seq);
    previousSeq = record.seq;
    seqOfHash.set(short(record.hash), record.seq);
    seqPointingAt.set(short(record.prevHash), record.seq);
    maxSeq = Math.max(maxSeq, record.seq);
    const details = record.details as { throughSeq?: unknown; lastPrunedHash?: unknown };
    if (record.action === PRUNE_ACTION && typeof details.throughSeq === 'number' && typeof details.lastPrunedHash === 'string') {
      if (!checkpoint || details.throughSeq > checkpoint.throughSeq) checkpoint = { throughSeq: details.throughSeq, lastPrunedHash: details.lastPrunedHash };
    }
  }

  const problems: AuditProblem[] = [];
  const flagged = new Set<string>();
  let checked = 0;
  let expectedSeq = 1;
  let expectedPrev: string | undefined = GENESIS_HASH;
  if (firstSeq !== undefined && firstSeq > 1) {
    if (checkpoint && firstSeq <= checkpoint.throughSeq + 1) {
      // Pruned: the chain now starts right after the checkpointed entry (or inside the pruned range, if a prune
      // stopped between writing its checkpoint and deleting).
      expectedSeq = firstSeq;
      expectedPrev = firstSeq === checkpoint.throughSeq + 1 ? checkpoint.lastPrunedHash : undefined;
    } else {
      expectedSeq = checkpoint ? checkpoint.throughSeq + 1 : 1;
    }
  }

  // Set when the record walked last was found edited or moved: the link after it is already explained.
  let previousFlagged = false;
  const walk = (record: AuditRecord, lastSeq: number) => {
    checked++;
    let explained = false;
    const afterFlagged = previousFlagged;
    previousFlagged = false;
    if (hashRecord(record.prevHash, record) !== record.hash) {
      const candidates = [(seqOfHash.get(short(record.prevHash)) ?? Number.NaN) + 1, (seqPointingAt.get(short(record.hash)) ?? Number.NaN) - 1];
      const originalSeq = candidates.find((seq) => Number.isInteger(seq) && seq > 0 && seq !== record.seq && hashRecord(record.prevHash, { ...record, seq }) === record.hash);
      problems.push(
        originalSeq === undefined
          ? { kind: 'edited', seq: record.seq, message: `Audit entry ${record.seq} was changed after it was written` }
          : { kind: 'reordered', seq: record.seq, originalSeq, message: `Audit entry ${record.seq} was written as entry ${originalSeq} and moved` },
      );
      flagged.add(record.hash);
      previousFlagged = true;
      explained = true;
    }
    if (record.seq < expectedSeq) {
      if (!explained) problems.push({ kind: 'inserted', seq: record.seq, message: `Audit entry ${record.seq} appears a second time, or out of order: an inserted entry` });
      flagged.add(record.hash);
      return;
    }
    if (record.seq > expectedSeq) {
      problems.push({ kind: 'deleted', seq: expectedSeq, toSeq: record.seq - 1, message: `Audit entries ${expectedSeq}–${record.seq - 1} are missing` });
      explained = true;
    } else if (!explained && expectedPrev !== undefined && record.prevHash !== expectedPrev) {
      if (!afterFlagged && !flagged.has(record.prevHash)) {
        if (!seqPointingAt.has(short(expectedPrev)) && !seqOfHash.has(short(record.prevHash))) {
          // The entry before is well formed but nothing links to it, and what this entry links to is gone: the
          // entry before was rewritten, its hash recomputed.
          problems.push({ kind: 'edited', seq: record.seq - 1, message: `Audit entry ${record.seq - 1} was rewritten after it was written` });
        } else {
          problems.push({ kind: 'broken-link', seq: record.seq, message: `Audit entry ${record.seq} does not follow the entry before it` });
        }
      }
    } else if (!explained && duplicateSeqs.has(record.seq) && record.seq < lastSeq && !seqPointingAt.has(short(record.hash))) {
      // Two entries share this seq; this one is well formed and linked, but no later entry follows it: it was
      // written in beside the genuine one.
      problems.push({ kind: 'inserted', seq: record.seq, message: `Audit entry ${record.seq} is not part of the chain: an inserted entry` });
      flagged.add(record.hash);
      return;
    }
    expectedSeq = record.seq + 1;
    expectedPrev = record.hash;
  };

  for await (const record of records(port, tenantId, 0, maxSeq)) walk(record, maxSeq);

  // The head is read after the records: entries appended meanwhile are checked as a continuation.
  const head = await port.head(tenantId);
  if (head && head.seq > maxSeq) {
    for await (const record of records(port, tenantId, maxSeq, head.seq)) walk(record, head.seq);
  }
  const lastSeq = expectedSeq - 1;
  if (head) {
    if (lastSeq < head.seq) {
      problems.push({ kind: 'truncated', seq: lastSeq + 1, toSeq: head.seq, message: `Audit entries ${lastSeq + 1}–${head.seq} were cut off the end of the trail` });
    } else if (lastSeq > head.seq) {
      problems.push({ kind: 'inserted', seq: head.seq + 1, message: `Audit entries after ${head.seq} were added outside the trail` });
    } else if (expectedPrev !== undefined && expectedPrev !== head.hash) {
      problems.push({ kind: 'edited', seq: lastSeq, message: `Audit entry ${lastSeq} is not the entry the trail last wrote` });
    }
  }
  return { ok: problems.length === 0, tenantId, checked, problems };
}
