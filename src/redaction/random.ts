import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A random string of [a-z0-9] from the CSPRNG; bytes >= 252 are dropped so every character is equally likely. */
export function randomString(length: number): string {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('length must be a non-negative integer');
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length - out.length + 4)) {
      if (byte < 252) out += ALPHABET[byte % 36];
      if (out.length === length) break;
    }
  }
  return out;
}
