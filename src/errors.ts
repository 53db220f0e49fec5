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
  | 'INTEGRITY';

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
  constructor(message: string, issues: ValidationIssue[] = []) {
    super('VALIDATION', message, { details: { issues } });
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
  constructor(message: string, where: { entity?: string; field?: string } = {}) {
    super('METADATA', message, { details: { ...where } });
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

/** Stored data failed authentication: tampered, truncated, reordered, or not made with this key. */
export class IntegrityError extends PrivacyEngineError {
  constructor(message: string, details?: Record<string, unknown>, cause?: unknown) {
    super('INTEGRITY', message, { details, cause });
  }
}
