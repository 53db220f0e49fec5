import { hmacHex } from './hmac.js';
import { fit, needsLength, producesText, type RedactionStrategy } from './strategy.js';

const UNIQUE_MIN = 32;

/**
 * Keyed, like 'hmac' and with the same engine-derived key (deriveKey('hmac-redaction')), so a value gives the
 * same pseudonym under either name: an unkeyed hash of an email or phone number is reversed by hashing a
 * list of candidates. Unlike 'hmac' it accepts a short non-unique column (the pseudonym is cut to fit).
 * Still pseudonymization: whoever holds the secret can recompute and match.
 */
export const hashStrategy: RedactionStrategy = {
  name: 'hash',
  check: (column) => [
    ...producesText('hash', column),
    ...(column.unique ? needsLength('hash', column, UNIQUE_MIN, ' to stay unique') : []),
  ],
  create: (_options, column, deps) => (value) => fit(hmacHex(deps.hmacKey, String(value)), column),
};
