import { type AuditTrail, createAuditTrail } from '../audit/audit-trail.js';
import { keyedSubjectHash } from '../audit/chain.js';
import type { AuditVerification } from '../audit/verify.js';
import type { StoredRequest } from '../db/request-store.js';
import type { AuditPort, AuditSubject } from '../ports/audit.js';
import type { ClockPort } from '../ports/clock.js';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { Logger } from './logger.js';
import { parseInput } from './options.js';

/** The engine's own entries of the audit trail; every one names the subject by id and keyed hash only. */
export type EngineAuditAction =
  | 'request.submitted'
  | 'request.started'
  | 'request.completed'
  | 'request.failed'
  | 'request.cancelled'
  | 'request.retried'
  | 'request.cancel-asked'
  | 'deadline.extended'
  | 'download.link-created'
  | 'download.served'
  | 'download.refused'
  | 'artifact.expired'
  | 'artifact.deleted';

/** The public `engine.audit`: the trail of the engine's tenants ('' for hosts without tenants). */
export interface EngineAudit {
  verify(input?: { tenantId?: string | null }): Promise<AuditVerification>;
  prune(input: { olderThan: Date; tenantId?: string | null; actorId?: string }): Promise<{ pruned: number }>;
  export(input: { from?: Date; to?: Date; format: 'json' | 'csv'; tenantId?: string | null }): Readable;
}

const tenantSchema = z.string().max(191).nullable().optional();
const verifySchema = z.object({ tenantId: tenantSchema }).strict().prefault({});
const pruneSchema = z.object({ olderThan: z.date(), tenantId: tenantSchema, actorId: z.string().min(1).max(191).optional() }).strict();
const exportSchema = z.object({ from: z.date().optional(), to: z.date().optional(), format: z.enum(['json', 'csv']), tenantId: tenantSchema }).strict();

/** Writes the engine's entries to the trail; the subject key hashes subject ids so entries can be found without names. */
export class AuditLog implements EngineAudit {
  readonly trail: AuditTrail;

  constructor(
    port: AuditPort,
    clock: ClockPort,
    private readonly subjectKey: Buffer,
    private readonly logger: Logger,
    private readonly systemActorId: string,
  ) {
    this.trail = createAuditTrail({ port, clock });
  }

  subjectOf(request: Pick<StoredRequest, 'subjectType' | 'subjectId' | 'tenantId'>): AuditSubject {
    return {
      type: request.subjectType,
      id: request.subjectId,
      keyedHash: keyedSubjectHash(this.subjectKey, `${request.subjectType}\u0000${request.tenantId ?? ''}\u0000${request.subjectId}`),
    };
  }

  /** Records an entry about a request; throws when the trail cannot be written (callers that must not fail use `tryRecord`). */
  async record(action: EngineAuditAction | 'restore.completed' | 'purge.completed', request: StoredRequest, actorId: string, details: Record<string, unknown> = {}): Promise<void> {
    await this.trail.record({ tenantId: request.tenantId ?? '', actorId, action, requestId: request.id, subject: this.subjectOf(request), details: { type: request.type, ...details } });
  }

  /** Like record, but a trail that cannot be written is logged (code only) instead of failing the work it describes. */
  async tryRecord(...args: Parameters<AuditLog['record']>): Promise<void> {
    try {
      await this.record(...args);
    } catch (error) {
      this.logger.error('Could not write the audit trail', { action: args[0], requestId: args[1].id, code: (error as { code?: unknown })?.code });
    }
  }

  verify(input?: { tenantId?: string | null }): Promise<AuditVerification> {
    const { tenantId } = parseInput(verifySchema, input, 'audit verification');
    return this.trail.verify({ tenantId: tenantId ?? '' });
  }

  async prune(input: { olderThan: Date; tenantId?: string | null; actorId?: string }): Promise<{ pruned: number }> {
    const { olderThan, tenantId, actorId } = parseInput(pruneSchema, input, 'audit prune');
    const { pruned } = await this.trail.prune({ tenantId: tenantId ?? '', olderThan, actorId: actorId ?? this.systemActorId });
    return { pruned };
  }

  export(input: { from?: Date; to?: Date; format: 'json' | 'csv'; tenantId?: string | null }): Readable {
    const { tenantId, ...rest } = parseInput(exportSchema, input, 'audit export');
    return this.trail.export({ tenantId: tenantId ?? '', ...rest });
  }
}
