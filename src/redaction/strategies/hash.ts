import { createHash } from 'node:crypto';
import { fit, needsLength, producesText, type RedactionStrategy } from './strategy.js';

const UNIQUE_MIN = 32;

/**
 * Unkeyed SHA-256 (hex) of the value. This is pseudonymization, not anonymization: anyone can hash a list of
 * candidate emails or phone numbers and find the match, so the output stays personal data under GDPR.
 * Prefer 'hmac' (keyed) unless the host needs hashes it can recompute without the engine's key.
 */
export const hashStrategy: RedactionStrategy = {
  name: 'hash',
  check: (column) => [
    ...producesText('hash', column),
    ...(column.unique ? needsLength('hash', column, UNIQUE_MIN, ' to stay unique') : []),
  ],
  create: (_options, column) => (value) => fit(createHash('sha256').update(String(value)).digest('hex'), column),
};
