import { createReadStream } from 'node:fs';
import { parse } from '@fast-csv/parse';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { keyStringSchema, regulationSchema } from '../engine/schemas.js';

/** One request of a bulk import, as validated; `row` is its 1-based data row (the header is row 0). */
export interface ImportRow {
  row: number;
  subject: string;
  operation: 'export' | 'anonymize' | 'delete';
  tenant?: string;
  regulation: 'gdpr' | 'ccpa';
}

export interface RejectedRow {
  row: number;
  reason: string;
}

const HEADER_ALIASES: Record<string, 'subject' | 'operation' | 'tenant' | 'regulation'> = {
  subject: 'subject',
  subjectid: 'subject',
  id: 'subject',
  operation: 'operation',
  type: 'operation',
  request: 'operation',
  tenant: 'tenant',
  tenantid: 'tenant',
  regulation: 'regulation',
};

const rowSchema = z.object({
  subject: keyStringSchema,
  operation: z.enum(['export', 'anonymize', 'delete']),
  tenant: keyStringSchema.optional(),
  regulation: regulationSchema,
});

/** The most rows one file may hold: a bulk request larger than this is split by the operator, on purpose. */
export const MAX_IMPORT_ROWS = 10_000;

/**
 * Reads a CSV of requests (header row: subject, operation, and optionally tenant, regulation) and validates every
 * row; rejected rows carry the reason, never the row's values. Nothing is submitted here.
 */
export async function readImportFile(file: string): Promise<{ rows: ImportRow[]; rejected: RejectedRow[] }> {
  const rows: ImportRow[] = [];
  const rejected: RejectedRow[] = [];
  let headerError: string | undefined;
  let n = 0;
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('error', (error) => reject(new ValidationError(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, [{ path: 'file', message: 'unreadable' }])))
      .pipe(
        parse({
          headers: (names) => {
            const mapped = names.map((h) => (h ? (HEADER_ALIASES[h.toLowerCase().replace(/[^a-z]/g, '')] ?? h) : h));
            if (!mapped.includes('subject') || !mapped.includes('operation')) headerError = 'the header row must name a subject column and an operation column';
            return mapped;
          },
          trim: true,
          ignoreEmpty: true,
          strictColumnHandling: true,
        }),
      )
      .on('error', (error: Error) => reject(new ValidationError(`${file} is not valid CSV: ${error.message}`, [{ path: 'file', message: 'invalid CSV' }])))
      .on('data-invalid', () => {
        n++;
        rejected.push({ row: n, reason: 'wrong number of columns' });
      })
      .on('data', (record: Record<string, string>) => {
        n++;
        if (n > MAX_IMPORT_ROWS) return;
        const parsed = rowSchema.safeParse({
          subject: record.subject,
          operation: record.operation?.toLowerCase(),
          tenant: record.tenant || undefined,
          regulation: record.regulation ? record.regulation.toLowerCase() : undefined,
        });
        if (parsed.success) rows.push({ row: n, ...parsed.data });
        else rejected.push({ row: n, reason: parsed.error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; ') });
      })
      .on('end', () => resolve());
  });
  if (headerError) throw new ValidationError(`${file}: ${headerError}`, [{ path: 'file', message: headerError }]);
  if (n > MAX_IMPORT_ROWS) throw new ValidationError(`${file} holds ${n} rows; at most ${MAX_IMPORT_ROWS} per import`, [{ path: 'file', message: 'too many rows' }]);
  if (n === 0) throw new ValidationError(`${file} holds no requests`, [{ path: 'file', message: 'empty' }]);
  // One active request per subject and family: a second row for the same subject would be refused half way.
  const seen = new Map<string, number>();
  for (const r of rows) {
    const key = `${r.tenant ?? ''}\u0000${r.subject}\u0000${r.operation === 'export' ? 'export' : 'erasure'}`;
    const first = seen.get(key);
    if (first !== undefined) rejected.push({ row: r.row, reason: `same subject and kind of request as row ${first}` });
    else seen.set(key, r.row);
  }
  const bad = new Set(rejected.map((r) => r.row));
  rejected.sort((a, b) => a.row - b.row);
  return { rows: rows.filter((r) => !bad.has(r.row)), rejected };
}
