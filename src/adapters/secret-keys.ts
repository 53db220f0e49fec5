import { hkdfSync } from 'node:crypto';
import { AdapterError, ValidationError } from '../errors.js';
import type { KeysPort } from '../ports/keys.js';
import { open, seal } from '../vault/aes-gcm.js';

export interface SecretKeysOptions {
  /** At least 32 characters of high-entropy secret; every key is derived from it with HKDF-SHA256. */
  secret: string;
}

const MIN_LENGTH = 32;
const MIN_DISTINCT = 8;

/**
 * Why a secret is too weak to derive keys from, or undefined. A cheap guard against placeholders (32 spaces,
 * 'aaaa…'), not an entropy measure: at least 32 characters once trimmed, at least 8 distinct characters, and no
 * character making up more than half of it. Never echoes the secret.
 */
export function weakSecretReason(secret: string): string | undefined {
  const trimmed = secret.trim();
  if (trimmed.length < MIN_LENGTH) return `must be at least ${MIN_LENGTH} characters, not counting surrounding whitespace`;
  const counts = new Map<string, number>();
  for (const char of trimmed) counts.set(char, (counts.get(char) ?? 0) + 1);
  if (counts.size < MIN_DISTINCT) return `must contain at least ${MIN_DISTINCT} distinct characters (use a random value)`;
  if (Math.max(...counts.values()) * 2 > [...trimmed].length) return 'must not be mostly one repeated character (use a random value)';
  return undefined;
}

/**
 * The default keys adapter: one configured secret, separate derived keys per purpose.
 * Rotating the secret makes existing vault entries and download links unreadable, by design.
 */
export function createSecretKeys(options: SecretKeysOptions): KeysPort {
  if (typeof options?.secret !== 'string') {
    throw new ValidationError('secret must be a string of at least 32 characters', [{ path: 'secret', message: 'must be a string' }]);
  }
  const weak = weakSecretReason(options.secret);
  if (weak) throw new ValidationError(`secret ${weak}`, [{ path: 'secret', message: weak }]);
  const root = Buffer.from(options.secret, 'utf8');
  const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), `privacy-engine:${purpose}`, 32));
  const wrappingKey = derive('vault-key-wrapping');

  return {
    name: 'secret',
    async wrapKey(dataKey, context) {
      return seal(wrappingKey, dataKey, context);
    },
    async unwrapKey(wrapped, context) {
      try {
        return open(wrappingKey, wrapped, context);
      } catch (cause) {
        throw new AdapterError('secret', 'A wrapped key could not be opened (wrong secret or context)', cause);
      }
    },
    async deriveKey(purpose) {
      return derive(purpose);
    },
  };
}
