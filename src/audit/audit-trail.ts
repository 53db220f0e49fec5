import type { Readable } from 'node:stream';
import { z } from 'zod';
import { IntegrityError, ValidationError } from '../errors.js';
import type { AuditPort, AuditRecord, AuditSubject } from '../ports/audit.js';
import { type ClockPort, systemClock } from '../ports/clock.js';
import { PRUNE_ACTION, sealRecord } from './chain.js';
import { formatAuditRecords } from './export.js';
import { type AuditVerification, verifyChain } from './verify.js';

export interface AuditInput {
  tenantId: string;
  actorId: string;
  action: string;
  requestId?: string;
  subject?: AuditSubject;
  details?: Record<string, unknown>;
}

export interface PruneOutcome {
  pruned: number;
  /** The checkpoint entry recording the prune; absent when nothing was old enough. */
  checkpoint?: AuditRecord;
}

export interface AuditTrail {
  /** Appends an entry to its tenant's chain. Actions starting with `audit.` are the trail's own. */
  record(input: AuditInput): Promise<AuditRecord>;
  verify(input: { tenantId: string }): Promise<AuditVerification>;
  /**
   * Deletes entries older than `olderThan` (per the host's retention policy) after checking the chain, and
   * appends a checkpoint entry carrying the hash of the last one deleted, so verification still passes.
   */
  prune(input: { tenantId: string; olderThan: Date; actorId: string }): Promise<PruneOutcome>;
  /** Streams the entries with `from <= at < to` for regulatory review. */
  export(input: { tenantId: string; from?: Date; to?: Date; format: 'json' | 'csv' }): Readable;
}

export interface AuditTrailOptions {
  port: AuditPort;
  clock?: ClockPort;
}

const id = (max: number) => z.string().min(1).max(max);
const tenantId = z.string().max(191);
const validDate = z.date().refine((date) => !Number.isNaN(date.getTime()), 'invalid date');

const recordSchema = z
  .object({
    tenantId,
    actorId: id(191),
    action: z.string().max(64).regex(/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/, 'lower-case dotted name'),
    requestId: id(64).optional(),
    subject: z.object({ type: id(128), id: id(191), keyedHash: z.string().regex(/^[0-9a-f]{16,128}$/, 'hex keyed hash') }).strict().optional(),
    details: z.record(z.string(), z.json()).optional(),
  })
  .strict();
const pruneSchema = z.object({ tenantId, olderThan: validDate, actorId: id(191) }).strict();
const exportSchema = z.object({ tenantId, from: validDate.optional(), to: validDate.optional(), format: z.enum(['json', 'csv']) }).strict();

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ValidationError(`Invalid ${what}`, result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
  }
  return result.data;
}

const PAGE = 1000;

async function* allRecords(port: AuditPort, tenant: string): AsyncGenerator<AuditRecord> {
  let afterSeq = 0;
  for (;;) {
    const page = await port.list(tenant, { afterSeq, limit: PAGE });
    yield* page;
    if (page.length < PAGE) return;
    afterSeq = page[page.length - 1].seq;
  }
}

/** The hash-chained audit trail over any AuditPort: what `engine.audit` will be once the engine is wired to it. */
export function createAuditTrail(options: AuditTrailOptions): AuditTrail {
  const { port } = options;
  const clock = options.clock ?? systemClock;

  const append = (entry: Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>) => port.append(entry.tenantId, (head) => sealRecord(head, entry));

  return {
    async record(input) {
      const entry = parse(recordSchema, input, 'audit entry');
      if (entry.action.startsWith('audit.')) {
        throw new ValidationError('actions starting with audit. are reserved for the trail itself', [{ path: 'action', message: 'reserved' }]);
      }
      return append({ ...entry, details: (entry.details ?? {}) as Record<string, unknown>, at: clock.now() });
    },

    verify(input) {
      const { tenantId: tenant } = parse(z.object({ tenantId }).strict(), input, 'audit verification');
      return verifyChain(port, tenant);
    },

    async prune(input) {
      const { tenantId: tenant, olderThan, actorId } = parse(pruneSchema, input, 'audit prune');
      const verification = await verifyChain(port, tenant);
      if (!verification.ok) {
        throw new IntegrityError('The audit trail failed verification; it is not pruned, so the evidence stays', { tenantId: tenant, problems: verification.problems.length });
      }
      let last: AuditRecord | undefined;
      let count = 0;
      for await (const record of allRecords(port, tenant)) {
        if (record.at.getTime() >= olderThan.getTime()) break;
        last = record;
        count++;
      }
      if (!last) return { pruned: 0 };
      // The checkpoint goes in first: a prune interrupted before the delete leaves a trail that still verifies.
      const checkpoint = await append({
        tenantId: tenant,
        actorId,
        action: PRUNE_ACTION,
        at: clock.now(),
        details: { throughSeq: last.seq, lastPrunedHash: last.hash, pruned: count, olderThan: olderThan.toISOString() },
      });
      await port.removeThrough(tenant, last.seq);
      return { pruned: count, checkpoint };
    },

    export(input) {
      const { tenantId: tenant, from, to, format } = parse(exportSchema, input, 'audit export');
      const inRange = async function* () {
        for await (const record of allRecords(port, tenant)) {
          const at = record.at.getTime();
          if (from && at < from.getTime()) continue;
          if (to && at >= to.getTime()) continue;
          yield record;
        }
      };
      return formatAuditRecords(inRange(), format);
    },
  };
}
