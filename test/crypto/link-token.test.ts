import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signLinkToken, verifyLinkToken, type LinkClaims } from '../../src/crypto/link-token.js';
import { ForbiddenError, LinkExpiredError } from '../../src/errors.js';

const key = Buffer.alloc(32, 1);
const otherKey = Buffer.alloc(32, 2);
const now = new Date('2026-01-01T00:00:00Z');
const claims: LinkClaims = { requestId: 'req-1', tenantId: 'org-1', artifact: 'exports/req-1.zip.enc', expiresAt: new Date('2026-01-08T00:00:00Z') };

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

const claimsArb = fc.record({
  requestId: fc.string({ minLength: 1, maxLength: 40 }),
  tenantId: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: null }),
  artifact: fc.string({ minLength: 1, maxLength: 80 }),
  expiresAt: fc.date({ min: new Date('2026-01-01T00:00:01Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true }),
});

describe('signed download link tokens', () => {
  it('verifies what it signed, for any claims', () => {
    fc.assert(
      fc.property(claimsArb, (input) => {
        expect(verifyLinkToken(signLinkToken(input, key), key, now)).toEqual(input);
      }),
    );
  });

  it('refuses with ForbiddenError any token with one character changed, dropped or added', () => {
    const token = signLinkToken(claims, key);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=';
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.constantFrom(...alphabet), fc.constantFrom('replace', 'delete', 'insert'), (at, char, how) => {
        const changed = how === 'replace' ? token.slice(0, at) + char + token.slice(at + 1) : how === 'delete' ? token.slice(0, at) + token.slice(at + 1) : token.slice(0, at) + char + token.slice(at);
        fc.pre(changed !== token);
        expect(errorOf(() => verifyLinkToken(changed, key, now))).toBeInstanceOf(ForbiddenError);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a token whose claims were re-encoded with another request, tenant, artifact or a later expiry', () => {
    const [version, , signature] = signLinkToken(claims, key).split('.');
    for (const forged of [
      { r: 'req-2', t: 'org-1', a: claims.artifact, e: claims.expiresAt.getTime() },
      { r: 'req-1', t: 'org-2', a: claims.artifact, e: claims.expiresAt.getTime() },
      { r: 'req-1', t: 'org-1', a: 'exports/req-2.zip.enc', e: claims.expiresAt.getTime() },
      { r: 'req-1', t: 'org-1', a: claims.artifact, e: claims.expiresAt.getTime() + 86_400_000 },
    ]) {
      const token = `${version}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`;
      expect(errorOf(() => verifyLinkToken(token, key, now))).toBeInstanceOf(ForbiddenError);
    }
  });

  it('refuses a token signed with another key, and malformed input', () => {
    expect(errorOf(() => verifyLinkToken(signLinkToken(claims, otherKey), key, now))).toBeInstanceOf(ForbiddenError);
    for (const junk of ['', 'v1', 'v1..', 'v2.a.b', 'v1.e30.', 'x'.repeat(5000), undefined as unknown as string]) {
      expect(errorOf(() => verifyLinkToken(junk, key, now))).toBeInstanceOf(ForbiddenError);
    }
  });

  it('fails a genuine token with LinkExpiredError from its expiry on, and not a moment before', () => {
    const token = signLinkToken(claims, key);
    expect(verifyLinkToken(token, key, new Date(claims.expiresAt.getTime() - 1)).requestId).toBe('req-1');
    const expired = errorOf(() => verifyLinkToken(token, key, claims.expiresAt));
    expect(expired).toBeInstanceOf(LinkExpiredError);
    expect((expired as LinkExpiredError).message).toBe('This download link has expired. Please generate a new export');
  });

  it('rejects short keys and invalid claims with VALIDATION errors', () => {
    expect(errorOf(() => signLinkToken(claims, Buffer.alloc(16)))).toMatchObject({ code: 'VALIDATION' });
    expect(errorOf(() => signLinkToken({ ...claims, requestId: '' }, key))).toMatchObject({ code: 'VALIDATION' });
    expect(errorOf(() => signLinkToken({ ...claims, expiresAt: new Date(Number.NaN) }, key))).toMatchObject({ code: 'VALIDATION' });
  });
});
