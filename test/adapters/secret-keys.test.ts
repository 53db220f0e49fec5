import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrivacyEngine, ValidationError, createSecretKeys } from '../../src/index.js';

/** Passes the options schema's DataSource check; the engine never touches it before start(). */
const dataSource = { query: async () => [], driver: {} } as never;
class Contact {}

function engineWith(secret: string): unknown {
  return new PrivacyEngine({ dataSource, subject: Contact, secret });
}

function rejection(build: () => unknown): unknown {
  try {
    build();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Low-entropy secrets of at least 32 characters: padding, one repeated character, a few characters cycling. */
const weakSecrets = fc.oneof(
  fc.constantFrom(' '.repeat(32), ' '.repeat(64), '\t'.repeat(40), 'a'.repeat(32), '0'.repeat(48)),
  fc.tuple(fc.string({ minLength: 1, maxLength: 31 }), fc.integer({ min: 0, max: 40 })).map(([short, pad]) => ' '.repeat(pad) + short + ' '.repeat(40 - pad)),
  fc.tuple(fc.stringMatching(/^[a-z0-9]$/), fc.integer({ min: 32, max: 80 }), fc.stringMatching(/^[A-Z]{0,7}$/)).map(([c, n, rest]) => c.repeat(n) + rest),
  fc.tuple(fc.array(fc.stringMatching(/^[a-z]$/), { minLength: 1, maxLength: 7 }), fc.integer({ min: 32, max: 80 })).map(([chars, n]) =>
    Array.from({ length: n }, (_, i) => chars[i % chars.length]).join(''),
  ),
);

describe('secrets are checked for a minimum of entropy', () => {
  it('createSecretKeys and the engine options both refuse low-entropy secrets with a ValidationError that does not echo them', () => {
    fc.assert(
      fc.property(weakSecrets, (secret) => {
        for (const build of [() => createSecretKeys({ secret }), () => engineWith(secret)]) {
          const error = rejection(build);
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).issues[0].path).toBe('secret');
          if (secret.trim().length >= 4) expect((error as ValidationError).message).not.toContain(secret.trim());
        }
      }),
    );
  });

  it('accepts random secrets (hex and base64 of 24 to 64 bytes) and passphrase-like ones', () => {
    fc.assert(
      fc.property(fc.integer({ min: 24, max: 64 }), fc.constantFrom<BufferEncoding>('hex', 'base64', 'base64url'), (bytes, encoding) => {
        const secret = randomBytes(bytes).toString(encoding);
        expect(rejection(() => createSecretKeys({ secret }))).toBeUndefined();
        expect(rejection(() => engineWith(secret))).toBeUndefined();
      }),
    );
    expect(rejection(() => engineWith('demo-only-secret-use-a-real-random-one-in-production'))).toBeUndefined();
  });
});

describe('the keys option', () => {
  const keys = createSecretKeys({ secret: 'keys-option-secret-keys-option-secret-01' });

  it('accepts an adapter with or without destroyKey, and refuses a destroyKey that is not a function', () => {
    expect(rejection(() => new PrivacyEngine({ dataSource, subject: Contact, keys }))).toBeUndefined();
    expect(rejection(() => new PrivacyEngine({ dataSource, subject: Contact, keys: { ...keys, destroyKey: async () => undefined } }))).toBeUndefined();
    const error = rejection(() => new PrivacyEngine({ dataSource, subject: Contact, keys: { ...keys, destroyKey: 'yes' as never } }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: 'keys', message: 'destroyKey must be a function when given' }]);
  });
});
