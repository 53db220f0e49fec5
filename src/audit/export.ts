import { format } from '@fast-csv/format';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import type { AuditRecord } from '../ports/audit.js';
import { canonicalJson } from './chain.js';

export const AUDIT_CSV_COLUMNS = [
  'seq',
  'at',
  'tenant_id',
  'actor_id',
  'action',
  'request_id',
  'subject_type',
  'subject_id',
  'subject_keyed_hash',
  'details',
  'prev_hash',
  'hash',
] as const;

/**
 * A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return) as a formula; a leading
 * apostrophe makes it text (OWASP's "CSV injection" advice).
 */
export function escapeFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

function csvRow(record: AuditRecord): string[] {
  return [
    String(record.seq),
    record.at.toISOString(),
    record.tenantId,
    record.actorId,
    record.action,
    record.requestId ?? '',
    record.subject?.type ?? '',
    record.subject?.id ?? '',
    record.subject?.keyedHash ?? '',
    canonicalJson(record.details),
    record.prevHash,
    record.hash,
  ].map(escapeFormula);
}

function jsonRecord(record: AuditRecord): string {
  return JSON.stringify({ ...record, at: record.at.toISOString() });
}

/** Streams records as a JSON array (one record a line) or as CSV with a header row. */
export function formatAuditRecords(source: AsyncIterable<AuditRecord>, kind: 'json' | 'csv'): Readable {
  if (kind === 'json') {
    return Readable.from(
      (async function* () {
        let first = true;
        yield '[';
        for await (const record of source) {
          yield `${first ? '\n' : ',\n'}${jsonRecord(record)}`;
          first = false;
        }
        yield first ? ']\n' : '\n]\n';
      })(),
      { objectMode: false },
    );
  }
  const csv = format<string[], string[]>({ headers: [...AUDIT_CSV_COLUMNS], alwaysWriteHeaders: true });
  const rows = Readable.from(
    (async function* () {
      for await (const record of source) yield csvRow(record);
    })(),
    { objectMode: true },
  );
  // pipeline forwards a failing source as an error on the CSV stream the caller reads.
  pipeline(rows, csv, () => {});
  return csv;
}
