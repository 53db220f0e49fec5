import { z } from 'zod';
import { actorSchema } from './policy.js';

/** Input schemas of the public calls; every call parses its input here before anything else runs. */
/** Ids and tenants end up in the engine's key columns: at most 191 characters, and no NUL (PostgreSQL refuses it in text). */
export const keyStringSchema = z.string().min(1).max(191).refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');
export const subjectIdSchema = z.union([keyStringSchema, z.number().int()]);
export const regulationSchema = z.enum(['gdpr', 'ccpa']).default('gdpr');

export const subjectRequestSchema = z.object({
  subjectId: subjectIdSchema,
  actor: actorSchema,
  tenantId: keyStringSchema.optional(),
  regulation: regulationSchema,
});
export const requestIdSchema = z.string().min(1).max(64);
export const requestRefSchema = z.object({ requestId: requestIdSchema, actor: actorSchema });
export const restoreInputSchema = requestRefSchema.extend({
  categories: z.array(z.string().min(1)).min(1).optional(),
  records: z.array(z.object({ entity: z.string().min(1), id: z.union([z.string().min(1), z.number()]).transform(String) })).min(1).optional(),
});
export const retryInputSchema = requestRefSchema;
export const cancelInputSchema = requestRefSchema;
export const extendDeadlineInputSchema = requestRefSchema.extend({
  days: z.number().int().min(1).max(90),
  reason: z.string().trim().min(1).max(500),
});
export const purgeInputSchema = requestRefSchema.extend({ force: z.boolean().default(false) });
export const downloadLinkInputSchema = requestRefSchema.extend({ expiresInSeconds: z.number().int().min(1).max(366 * 24 * 3600).optional() });
export const openDownloadInputSchema = z.object({ token: z.string().min(1).max(4096), actor: actorSchema });
export const waitSchema = z
  .object({ timeoutMs: z.number().int().positive().default(60_000), actor: z.union([actorSchema, z.object({ system: z.literal(true) }).strict()]) });
export const requestFilterSchema = z.object({
  subjectId: subjectIdSchema.optional(),
  tenantId: keyStringSchema.optional(),
  type: z.enum(['export', 'anonymize', 'delete', 'restore', 'purge']).optional(),
  status: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']).optional(),
  limit: z.number().int().min(1).max(1000).optional(),
  /** Only open requests past their deadline. */
  overdue: z.boolean().optional(),
  /** The `nextCursor` of the previous page. */
  cursor: z.string().min(1).max(400).optional(),
  /** Who is asking: only requests this actor may read are listed; `engine.system` for host-level code. */
  actor: z.union([actorSchema, z.object({ system: z.literal(true) }).strict()]),
});

export type ExportInput = z.input<typeof subjectRequestSchema>;
export type ErasureInput = z.input<typeof subjectRequestSchema>;
export type RestoreInput = z.input<typeof restoreInputSchema>;
export type RetryInput = z.input<typeof retryInputSchema>;
export type CancelInput = z.input<typeof cancelInputSchema>;
export type ExtendDeadlineInput = z.input<typeof extendDeadlineInputSchema>;
export type PurgeInput = z.input<typeof purgeInputSchema>;
export type RequestFilter = z.input<typeof requestFilterSchema>;
export type DownloadLinkInput = z.input<typeof downloadLinkInputSchema>;
export type OpenDownloadInput = z.input<typeof openDownloadInputSchema>;
