import { type ErrorCode, PrivacyEngineError, type ValidationIssue } from '../errors.js';

/** No actor: `getActor` returned nothing for this request. */
export class UnauthenticatedError extends PrivacyEngineError {
  constructor(message = 'Authentication required') {
    super('UNAUTHENTICATED', message);
  }
}

/** A state-changing request without the double-submit token (header `X-CSRF-Token` equal to the `privacy_csrf` cookie). */
export class CsrfError extends PrivacyEngineError {
  constructor(message = 'Missing or invalid CSRF token: send the privacy_csrf cookie value in the X-CSRF-Token header') {
    super('CSRF', message);
  }
}

export class PayloadTooLargeError extends PrivacyEngineError {
  readonly limit: number;
  constructor(limit: number) {
    super('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes`, { details: { limit } });
    this.limit = limit;
  }
}

export class UnsupportedMediaTypeError extends PrivacyEngineError {
  constructor(message = 'The request body must be JSON (Content-Type: application/json; charset=utf-8)') {
    super('UNSUPPORTED_MEDIA_TYPE', message);
  }
}

export class MethodNotAllowedError extends PrivacyEngineError {
  readonly allow: string[];
  constructor(allow: string[]) {
    super('METHOD_NOT_ALLOWED', `Method not allowed here; use ${allow.join(' or ')}`, { details: { allow } });
    this.allow = allow;
  }
}

/** The HTTP status of every error code. Codes not listed (and errors that are not the engine's) are 500. */
export const STATUS_OF_CODE: Readonly<Record<ErrorCode, number>> = {
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CSRF: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  // The state of the request forbids it, as with a conflict: a restore after the window, a cancelled run.
  WINDOW_CLOSED: 409,
  CANCELLED: 409,
  LEASE_LOST: 409,
  LINK_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  METADATA: 500,
  INTEGRITY: 500,
  INTERNAL: 500,
  ADAPTER: 502,
};

/**
 * Messages of server-side failures: an adapter's or driver's own words stay in the server log (onError), since
 * they may carry a value; the client learns the code only.
 */
const SERVER_MESSAGES: Partial<Record<ErrorCode, string>> = {
  METADATA: 'The privacy engine is misconfigured',
  INTEGRITY: 'Stored data failed its integrity check',
  INTERNAL: 'Internal error',
  ADAPTER: 'A storage, queue or audit backend failed',
};

/** The JSON error body every failure answers with: `{ error: { code, message, issues?, request? } }`. */
export interface HttpErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** VALIDATION: each bad field's path and what is wrong with it (never its value). */
    issues?: ValidationIssue[];
    /** CONFLICT on a duplicate request: the request already active (as the actor may read it). */
    request?: unknown;
  };
}

const KNOWN_CODES = new Set(Object.keys(STATUS_OF_CODE));

/**
 * The engine's errors, recognized by their code rather than by class: an application may load the engine and
 * the router from different bundles (ESM and CJS), where `instanceof` would not hold.
 */
export function asEngineError(error: unknown): PrivacyEngineError | undefined {
  if (error instanceof PrivacyEngineError) return error;
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && KNOWN_CODES.has(code) ? (error as PrivacyEngineError) : undefined;
}

/** Status and body for an error; `request` is added by the caller for duplicates. Never a stack, a cause or details. */
export function errorResponse(error: unknown): { status: number; body: HttpErrorBody; headers: Record<string, string> } {
  const known = asEngineError(error);
  const code: ErrorCode = known?.code ?? 'INTERNAL';
  const status = STATUS_OF_CODE[code] ?? 500;
  const message = status >= 500 ? (SERVER_MESSAGES[code] ?? 'Internal error') : known!.message;
  const issues = code === 'VALIDATION' ? (known as { issues?: ValidationIssue[] }).issues : undefined;
  const headers: Record<string, string> = {};
  if (known instanceof MethodNotAllowedError || code === 'METHOD_NOT_ALLOWED') headers.Allow = ((known as MethodNotAllowedError).allow ?? []).join(', ');
  return { status, headers, body: { error: { code, message, ...(issues ? { issues: issues.map((i) => ({ path: i.path, message: i.message })) } : {}) } } };
}
