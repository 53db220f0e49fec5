import { hkdfSync } from 'node:crypto';
import { AdapterError, ValidationError } from '../errors.js';
import type { KeysPort } from '../ports/keys.js';
import { open, seal } from '../vault/aes-gcm.js';

export interface SecretKeysOptions {
  /** At least 32 characters of high-entropy secret; every key is derived from it with HKDF-SHA256. */
  secret: string;
}

/**
 * The default keys adapter: one configured secret, separate derived keys per purpose.
 * Rotating the secret makes existing vault entries and download links unreadable, by design.
 */
export function createSecretKeys(options: SecretKeysOptions): KeysPort {
  if (typeof options?.secret !== 'string' || options.secret.length < 32) {
    throw new ValidationError('secret must be a string of at least 32 characters', [{ path: 'secret', message: 'too short' }]);
  }
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
