import { OperationError } from '../errors.js';

/**
 * Driver codes of failures that pass if tried again: lost connections, serialization failures, deadlocks, lock and
 * statement timeouts (PostgreSQL SQLSTATEs, MySQL/MariaDB codes, SQLite busy/locked, Node socket errors).
 */
const TRANSIENT_CODES = new Set([
  '40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '53300',
  'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR', '1213', '1205',
  'SQLITE_BUSY', 'SQLITE_LOCKED',
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN',
]);

/** True when the failure (or what it wraps) is one a retry from the last checkpoint can get past. */
export function isTransient(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { code?: unknown; errno?: unknown; name?: unknown; driverError?: unknown; cause?: unknown };
    if (e.code !== undefined && TRANSIENT_CODES.has(String(e.code))) return true;
    if (e.errno !== undefined && TRANSIENT_CODES.has(String(e.errno))) return true;
    // PostgreSQL's connection-exception class; a storage adapter's timeout.
    if (typeof e.code === 'string' && /^08[0-9A-Z]{3}$/.test(e.code)) return true;
    if (e.name === 'TimeoutError') return true;
    current = current instanceof OperationError ? current.cause : (e.driverError ?? e.cause);
  }
  return false;
}
