import { ForbiddenError, type PrivacyEngineError } from '../errors.js';
import { z } from 'zod';

export const actorSchema = z.object({
  id: z.string().min(1).max(191),
  roles: z.array(z.string().min(1)).default([]),
  tenantId: z.string().min(1).max(191).refine((s) => !s.includes('\u0000'), 'must not contain NUL characters').optional(),
  subjectId: z.union([z.string().min(1).max(191), z.number()]).optional(),
});

/** Who is asking: an admin of a tenant, or a data subject using self-service. */
export type Actor = z.input<typeof actorSchema>;

export type Action = 'export' | 'anonymize' | 'delete' | 'restore' | 'retry' | 'purge' | 'cancel' | 'extendDeadline' | 'download' | 'read';

export interface AuthorizationContext {
  action: Action;
  actor: z.output<typeof actorSchema>;
  /** The subject the action concerns; tenantId is null when the engine has no tenant column. */
  subject: { type: string; id: string; tenantId: string | null };
}

export type Authorize = (context: AuthorizationContext) => boolean | Promise<boolean>;

/** Role that may act on every subject of its own tenant. */
export const ADMIN_ROLE = 'admin';

/**
 * The default policy: admins of the subject's own tenant may do everything; a data subject may export
 * their own data and download that export (self-service "Download my data").
 */
export const defaultAuthorize: Authorize = ({ action, actor, subject }) => {
  // Tenants and ids are compared exactly (the engine hands both sides over canonical: ids in decimal, tenants as stored).
  const sameTenant = subject.tenantId === null || actor.tenantId === subject.tenantId;
  if (actor.roles.includes(ADMIN_ROLE) && sameTenant) return true;
  const isSelf = actor.subjectId !== undefined && String(actor.subjectId) === subject.id;
  return isSelf && sameTenant && (action === 'export' || action === 'download' || action === 'read');
};

/**
 * Runs the policy; a refusal is "not found" for another tenant's subject (it does not exist for this actor)
 * and an explicit ForbiddenError inside the actor's own tenant.
 */
export async function assertAllowed(
  authorize: Authorize,
  context: AuthorizationContext,
  notFound: () => PrivacyEngineError,
): Promise<void> {
  // Only `true` grants: a policy returning 'yes', 1 or an object by mistake must not open access.
  if ((await authorize(context)) === true) return;
  const { action, actor, subject } = context;
  if (subject.tenantId !== null && actor.tenantId !== subject.tenantId) throw notFound();
  throw new ForbiddenError(`Actor ${actor.id} may not ${action} this ${subject.type.toLowerCase()}`, { action, actorId: actor.id });
}
