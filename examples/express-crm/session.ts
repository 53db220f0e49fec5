/**
 * A fake login for the example: the session is a signed cookie (HMAC-SHA256), no server-side store and no extra
 * dependency. A real host uses its own authentication; only `actorOf` matters to privacy-engine.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Actor } from '../../src/index.js';

export type SessionData = { kind: 'staff'; userId: string } | { kind: 'contact'; contactId: number; organizationId: string };
export type Session = SessionData & { exp: number };

export interface StaffUser {
  id: string;
  name: string;
  organizationId: string;
  roles: string[];
}

/** The CRM's staff. Nora is not an admin: the privacy dashboard shows her "Admins only". */
export const STAFF: StaffUser[] = [
  { id: 'alice.martin', name: 'Alice Martin', organizationId: 'northwind', roles: ['admin'] },
  { id: 'bob.chen', name: 'Bob Chen', organizationId: 'globex', roles: ['admin'] },
  { id: 'nora.patel', name: 'Nora Patel', organizationId: 'northwind', roles: ['sales'] },
];

const COOKIE = 'crm_session';
const MAX_AGE_S = 8 * 3600;

export function createSessions(secret: string) {
  const sign = (payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');

  function read(req: Request): Session | undefined {
    const cookie = (req.headers.cookie ?? '')
      .split(';')
      .map((part) => part.trim())
      .find((part) => part.startsWith(`${COOKIE}=`));
    if (!cookie) return undefined;
    const [payload, signature] = cookie.slice(COOKIE.length + 1).split('.');
    if (!payload || !signature) return undefined;
    const expected = Buffer.from(sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
      return session.exp > Date.now() / 1000 ? session : undefined;
    } catch {
      return undefined;
    }
  }

  function write(res: Response, session: SessionData, secure: boolean): void {
    const payload = Buffer.from(JSON.stringify({ ...session, exp: Math.floor(Date.now() / 1000) + MAX_AGE_S })).toString('base64url');
    res.setHeader('Set-Cookie', `${COOKIE}=${payload}.${sign(payload)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${MAX_AGE_S}${secure ? '; Secure' : ''}`);
  }

  function clear(res: Response): void {
    res.setHeader('Set-Cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  }

  return { read, write, clear };
}

/** The privacy-engine actor of a session: an admin of their organization, or a contact using self-service. */
export function actorOf(session: Session | undefined): Actor | undefined {
  if (!session) return undefined;
  if (session.kind === 'contact') return { id: `contact-${session.contactId}`, roles: ['contact'], tenantId: session.organizationId, subjectId: session.contactId };
  const user = STAFF.find((u) => u.id === session.userId);
  return user ? { id: user.id, roles: user.roles, tenantId: user.organizationId } : undefined;
}
