import { randomBytes, timingSafeEqual } from 'node:crypto';

/** The double-submit cookie: readable by the dashboard's script, sent back by it in the `X-CSRF-Token` header. */
export const CSRF_COOKIE = 'privacy_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** 32 random bytes, base64url (43 characters). */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A token of the shape this module issues, or undefined (a cookie someone else set to garbage is replaced). */
export function wellFormedToken(value: string | undefined): string | undefined {
  return value !== undefined && TOKEN_SHAPE.test(value) ? value : undefined;
}

/**
 * `Set-Cookie` for the token, scoped to the mount path and sent only to same-site requests. Not HttpOnly on
 * purpose: the double-submit pattern needs the page to read it (the token grants nothing without the session).
 */
export function csrfCookie(token: string, path: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${token}; Path=${path || '/'}; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** Parses a Cookie header (RFC 6265 pairs); the first of duplicate names wins, malformed pairs are skipped. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null);
  if (!header) return cookies;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !(name in cookies)) cookies[name] = value;
  }
  return cookies;
}

/** Constant-time comparison of the header and the cookie; both must be well-formed tokens. */
export function csrfMatches(header: string | undefined, cookie: string | undefined): boolean {
  const a = wellFormedToken(header);
  const b = wellFormedToken(cookie);
  if (!a || !b) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
