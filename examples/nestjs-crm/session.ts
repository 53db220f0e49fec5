/**
 * A fake login for the example: the session is a signed cookie (HMAC-SHA256) naming a staff user. A real host
 * uses its own authentication (Passport, say); all privacy-engine needs is `request.user` shaped as an actor.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Actor } from '../../src/index.js';
import { STAFF } from './crm.js';

const COOKIE = 'crm_session';
const MAX_AGE_S = 8 * 3600;

export class Sessions {
  constructor(private readonly secret: string) {}

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }

  /** The signed-in staff user's id, or undefined. */
  read(req: IncomingMessage): string | undefined {
    const cookie = (req.headers.cookie ?? '')
      .split(';')
      .map((part) => part.trim())
      .find((part) => part.startsWith(`${COOKIE}=`));
    const [payload, signature] = cookie?.slice(COOKIE.length + 1).split('.') ?? [];
    if (!payload || !signature) return undefined;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const { userId, exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { userId: string; exp: number };
    return exp > Date.now() / 1000 ? userId : undefined;
  }

  write(res: ServerResponse, userId: string): void {
    const payload = Buffer.from(JSON.stringify({ userId, exp: Math.floor(Date.now() / 1000) + MAX_AGE_S })).toString('base64url');
    res.setHeader('Set-Cookie', `${COOKIE}=${payload}.${this.sign(payload)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${MAX_AGE_S}`);
  }

  clear(res: ServerResponse): void {
    res.setHeader('Set-Cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  }
}

/** The actor privacy-engine sees for a staff user: their id, roles and organization (the tenant). */
export function actorOf(userId: string | undefined): Actor | undefined {
  const user = STAFF.find((u) => u.id === userId);
  return user ? { id: user.id, roles: [...user.roles], tenantId: user.organizationId } : undefined;
}
