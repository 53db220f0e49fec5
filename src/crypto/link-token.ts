import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ForbiddenError, LinkExpiredError, ValidationError } from '../errors.js';

/** What a download link grants: one artifact of one request, in one tenant, until `expiresAt`. */
export interface LinkClaims {
  requestId: string;
  tenantId: string | null;
  /** The artifact's storage key (or another engine-chosen name for it). */
  artifact: string;
  expiresAt: Date;
}

const TOKEN_VERSION = 'v1';
// Tokens travel in URLs and logs: keep the claims small and free of personal data.
const claimsSchema = z.object({
  requestId: z.string().min(1).max(128),
  tenantId: z.string().min(1).max(191).nullable(),
  artifact: z.string().min(1).max(512),
  expiresAt: z.date().refine((date) => !Number.isNaN(date.getTime()), 'invalid date'),
});
const payloadSchema = z.object({ r: z.string().min(1), t: z.string().min(1).nullable(), a: z.string().min(1), e: z.number().int() }).strict();

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length < 32) {
    throw new ValidationError('link signing key must be a Buffer of at least 32 bytes', [{ path: 'key', message: 'too short' }]);
  }
}

function mac(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(`${TOKEN_VERSION}.${payload}`).digest('base64url');
}

/**
 * Signs link claims into `v1.<payload>.<signature>` (base64url, HMAC-SHA256). Use a key for this purpose alone
 * (`keys.deriveKey('link-signing')`).
 */
export function signLinkToken(claims: LinkClaims, key: Buffer): string {
  checkKey(key);
  const parsed = claimsSchema.safeParse(claims);
  if (!parsed.success) {
    throw new ValidationError('Invalid download link claims', parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
  }
  const { requestId, tenantId, artifact, expiresAt } = parsed.data;
  const payload = Buffer.from(JSON.stringify({ r: requestId, t: tenantId, a: artifact, e: expiresAt.getTime() })).toString('base64url');
  return `${TOKEN_VERSION}.${payload}.${mac(key, payload)}`;
}

/**
 * Checks a token's signature (in constant time) and then its expiry. A malformed or tampered token is a
 * ForbiddenError; only a genuine token past its expiry is a LinkExpiredError.
 */
export function verifyLinkToken(token: string, key: Buffer, now: Date): LinkClaims {
  checkKey(key);
  const refused = () => new ForbiddenError('This download link is not valid');
  if (typeof token !== 'string' || token.length > 4096) throw refused();
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_VERSION) throw refused();
  const [, payload, signature] = parts;
  const expected = Buffer.from(mac(key, payload));
  const presented = Buffer.from(signature);
  // Compared as the canonical base64url text: a differently encoded signature with the same bytes is refused too.
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw refused();
  let claims: z.infer<typeof payloadSchema>;
  try {
    claims = payloadSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
  } catch {
    throw refused();
  }
  if (now.getTime() >= claims.e) throw new LinkExpiredError(undefined, { requestId: claims.r });
  return { requestId: claims.r, tenantId: claims.t, artifact: claims.a, expiresAt: new Date(claims.e) };
}
