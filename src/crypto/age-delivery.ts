import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AdapterError, ValidationError } from '../errors.js';

/** Who can open the delivery copy: a passphrase handed over separately, or the subject's own age recipient (`age1…`). */
export type AgeDeliveryTarget = { passphrase: string } | { recipient: string };

/**
 * Encrypts a copy of an export for the data subject with age (https://age-encryption.org), so it can travel
 * by mail or a file share and be opened with any age client. `age-encryption` is an optional peer dependency.
 */
export async function encryptForSubject(source: Readable, target: AgeDeliveryTarget): Promise<Readable> {
  let age: typeof import('age-encryption');
  try {
    age = await import('age-encryption');
  } catch (cause) {
    throw new AdapterError('age', 'Encrypting a delivery copy needs the package age-encryption: npm install age-encryption', cause);
  }
  const encrypter = new age.Encrypter();
  if ('passphrase' in target) {
    if (typeof target.passphrase !== 'string' || target.passphrase.length < 12) {
      throw new ValidationError('passphrase must be at least 12 characters', [{ path: 'passphrase', message: 'too short' }]);
    }
    encrypter.setPassphrase(target.passphrase);
  } else {
    if (typeof target.recipient !== 'string' || !/^age1[0-9a-z]+$/.test(target.recipient)) {
      throw new ValidationError('recipient must be an age recipient (age1…)', [{ path: 'recipient', message: 'not an age recipient' }]);
    }
    try {
      encrypter.addRecipient(target.recipient);
    } catch (cause) {
      throw new ValidationError('recipient is not a valid age recipient', [{ path: 'recipient', message: String((cause as Error)?.message ?? cause) }]);
    }
  }
  const encrypted = await encrypter.encrypt(Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>);
  return Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>);
}
