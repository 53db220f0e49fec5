/**
 * Every error the engine throws is a PrivacyEngineError with a stable string `code`.
 * Messages never contain personal data: they name entities, fields, ids and request ids only.
 */
export type ErrorCode =
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'LINK_EXPIRED'
  | 'METADATA'
  | 'ADAPTER'
  | 'WINDOW_CLOSED'
  | 'CANCELLED'
  | 'LEASE_LOST'
  | 'INTERNAL'
  | 'INTEGRITY'
  // Raised by the HTTP layer (privacy-engine/http, /express), never by the engine itself.
  | 'UNAUTHENTICATED'
  | 'CSRF'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'METHOD_NOT_ALLOWED';

export class PrivacyEngineError extends Error {
  readonly code: ErrorCode;
  /** Structured, PII-free details (field paths, ids) for programs; the message is for people. */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.details) this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

export class ValidationError extends PrivacyEngineError {
  readonly issues: ValidationIssue[];
  constructor(message: string, issues: ValidationIssue[] = [], cause?: unknown) {
    super('VALIDATION', message, { cause, details: { issues } });
    this.issues = issues;
  }
}

export class NotFoundError extends PrivacyEngineError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('NOT_FOUND', message, { details });
  }
}

export class ForbiddenError extends PrivacyEngineError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('FORBIDDEN', message, { details });
  }
}

export class ConflictError extends PrivacyEngineError {
  /** The request that is already active, when the conflict is a duplicate request. */
  readonly existingRequestId?: string;
  constructor(message: string, details?: Record<string, unknown> & { existingRequestId?: string }) {
    super('CONFLICT', message, { details });
    if (details?.existingRequestId) this.existingRequestId = details.existingRequestId;
  }
}

export class LinkExpiredError extends PrivacyEngineError {
  constructor(message = 'This download link has expired. Please generate a new export', details?: Record<string, unknown>) {
    super('LINK_EXPIRED', message, { details });
  }
}

export class MetadataError extends PrivacyEngineError {
  readonly entity?: string;
  readonly field?: string;
  /** `cause` is the error that revealed the mistake (a provider constructor that threw, say); kept, never in details. */
  constructor(message: string, where: { entity?: string; field?: string; cause?: unknown } = {}) {
    const { cause, ...place } = where;
    super('METADATA', message, { cause, details: { ...place } });
    this.entity = where.entity;
    this.field = where.field;
  }
}

export class AdapterError extends PrivacyEngineError {
  readonly adapter: string;
  constructor(adapter: string, message: string, cause?: unknown) {
    super('ADAPTER', message, { cause, details: { adapter } });
    this.adapter = adapter;
  }
}

export class WindowClosedError extends PrivacyEngineError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('WINDOW_CLOSED', message, { details });
  }
}

export class CancelledError extends PrivacyEngineError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CANCELLED', message, { details });
  }
}

/**
 * This worker no longer owns the request: its lease expired and another worker took the request over. The batch
 * in progress is rolled back and nothing more is written; the new owner resumes from the last committed checkpoint.
 */
export class LeaseLostError extends PrivacyEngineError {
  constructor(requestId: string) {
    super('LEASE_LOST', `Request ${requestId} is now run by another worker (this worker's lease expired)`, { details: { requestId } });
  }
}

/** Where an operation failed: the step (read, redact, hide, remove, restore, vault...) and the entity and column it worked on. */
export interface OperationStep {
  step: string;
  entity?: string;
  column?: string;
}

/**
 * An unexpected failure inside a request's work (a database or strategy error), tagged with the step, entity and column
 * it happened in. The message names those and the cause's kind and code, never its message: drivers echo values there.
 */
export class OperationError extends PrivacyEngineError {
  readonly step: string;
  readonly entity?: string;
  readonly column?: string;
  /** The cause's kind and driver code (e.g. QueryFailedError, 42804), safe to log. */
  readonly causeKind: string;
  readonly causeCode?: string;

  constructor(where: OperationStep, cause: unknown) {
    const causeKind = cause instanceof Error ? cause.name : typeof cause;
    const rawCode = (cause as { code?: unknown } | null)?.code;
    const causeCode = typeof rawCode === 'string' || typeof rawCode === 'number' ? String(rawCode).slice(0, 64) : undefined;
    // PostgreSQL names the column of some failures itself (not-null, check violations): a name, never a value.
    const driverColumn = (cause as { column?: unknown } | null)?.column;
    const column = where.column ?? (typeof driverColumn === 'string' && driverColumn.length <= 128 ? driverColumn : undefined);
    const target = where.entity ? ` on ${where.entity}${column ? `.${column}` : ''}` : column ? ` on column ${column}` : '';
    super('INTERNAL', `Step '${where.step}' failed${target} (${causeKind}${causeCode ? ` ${causeCode}` : ''})`, {
      cause,
      details: { step: where.step, ...(where.entity ? { entity: where.entity } : {}), ...(column ? { column } : {}), causeKind, ...(causeCode ? { causeCode } : {}) },
    });
    this.step = where.step;
    if (where.entity) this.entity = where.entity;
    if (column) this.column = column;
    this.causeKind = causeKind;
    if (causeCode) this.causeCode = causeCode;
  }
}

/** Stored data failed authentication: tampered, truncated, reordered, or not made with this key. */
export class IntegrityError extends PrivacyEngineError {
  constructor(message: string, details?: Record<string, unknown>, cause?: unknown) {
    super('INTEGRITY', message, { details, cause });
  }
}
