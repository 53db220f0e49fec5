import { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../errors.js';

/**
 * The HTTP inputs: bodies are strict (an unknown field is a 400, not silently dropped) and every query parameter
 * arrives as a string, so query schemas parse text. The engine validates again what it is handed.
 */

export const subjectIdParam = z.string().min(1).max(191);
export const requestIdParam = z.string().min(1).max(64);
export const tokenParam = z.string().min(1).max(4096);

export const regulationBody = z.strictObject({ regulation: z.enum(['gdpr', 'ccpa']).optional() });
export const emptyBody = z.strictObject({});
export const restoreBody = z.strictObject({
  categories: z.array(z.string().min(1).max(191)).min(1).max(1000).optional(),
  records: z
    .array(z.strictObject({ entity: z.string().min(1).max(191), id: z.union([z.string().min(1).max(191), z.number().int()]) }))
    .min(1)
    .max(10_000)
    .optional(),
});
export const purgeBody = z.strictObject({ force: z.boolean().optional() });
export const extendDeadlineBody = z.strictObject({ days: z.number().int().min(1).max(90), reason: z.string().trim().min(1).max(500) });
export const downloadLinkBody = z.strictObject({ expiresInSeconds: z.number().int().min(1).max(366 * 24 * 3600).optional() });

const boolText = z.enum(['true', 'false']).transform((v) => v === 'true');
const intText = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,7}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
/** An ISO 8601 date (2024-05-01) or date-time with an offset (2024-05-01T10:00:00Z). */
const instantText = z.union([z.iso.date(), z.iso.datetime({ offset: true })]).transform((v) => new Date(v));

export const listQuery = z.strictObject({
  status: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']).optional(),
  type: z.enum(['export', 'anonymize', 'delete', 'restore', 'purge']).optional(),
  subjectId: subjectIdParam.optional(),
  overdue: boolText.optional(),
  cursor: z.string().min(1).max(400).optional(),
  limit: intText(1, 1000).optional(),
});
export const pageQuery = z.strictObject({ cursor: z.string().min(1).max(400).optional(), limit: intText(1, 1000).optional() });
export const auditQuery = z.strictObject({ format: z.enum(['json', 'csv']).default('json'), from: instantText.optional(), to: instantText.optional() });
export const noQuery = z.strictObject({});

/**
 * Parses an HTTP input into a ValidationError naming each bad path, never its value. An unknown field is an issue of
 * its own path ("priority: unknown field"), so a client sees which one to drop.
 */
export function parseHttpInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues: ValidationIssue[] = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path, key].map(String).join('.'), message: 'unknown field' }))
      : [{ path: issue.path.map(String).join('.') || '(root)', message: issue.message }],
  );
  throw new ValidationError(`Invalid ${what}: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues);
}
