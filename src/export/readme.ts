import type { ArchiveCategory, ArchiveMeta } from './types.js';
import { EXPORT_FORMAT_VERSION } from './types.js';
import { categoryCsvPath, categoryFileBases, categoryJsonPath, README_MD, SUMMARY_CSV, SUMMARY_JSON } from './paths.js';

/** What the README needs of a category (an ArchiveCategory fits). */
export type ReadmeCategory = Pick<ArchiveCategory, 'name' | 'facts' | 'entities' | 'count'>;

export interface ReadmeOptions {
  /** Records actually written per category; shown instead of the planned `count` (and the difference noted). */
  writtenCounts?: Record<string, number>;
}

const NOT_STATED = 'Not stated';

/** One line of host-declared text: whitespace (newlines included) collapsed. */
function line(text: string | undefined | null): string {
  if (text == null) return NOT_STATED;
  const collapsed = String(text).replace(/\s+/g, ' ').trim();
  return collapsed === '' ? NOT_STATED : collapsed;
}

/** Inline code for names and ids, safe against backticks inside them. */
function code(text: string): string {
  const collapsed = String(text).replace(/\s+/g, ' ');
  const fence = collapsed.includes('`') ? '``' : '`';
  const pad = collapsed.startsWith('`') || collapsed.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${collapsed}${pad}${fence}`;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The archive's README.md: what each file holds, each category's Art. 15(1) facts, record counts and
 * sources, and the subject's rights. Holds the subject's type and id only: never the display name,
 * never a record value.
 */
export function buildExportReadme(meta: ArchiveMeta, categories: readonly ReadmeCategory[], options: ReadmeOptions = {}): string {
  const bases = categoryFileBases(categories.map((c) => c.name));
  const counted = (c: ReadmeCategory) => options.writtenCounts?.[c.name] ?? c.count;
  const total = categories.reduce((n, c) => n + counted(c), 0);
  const out: string[] = [];

  out.push(
    '# Your personal data',
    '',
    `This archive holds the personal data kept about the data subject ${code(meta.subject.type)} ${code(meta.subject.id)}, ` +
      `exported on ${line(meta.exportedAt)} (request ${code(meta.requestId)}): ` +
      `${plural(total, 'record', 'records')} in ${plural(categories.length, 'category', 'categories')}.`,
    '',
    'It answers a request under the GDPR, Art. 15 (right of access) and Art. 20 (right to data portability), ' +
      'and under the CCPA, §1798.100 and §1798.110 (right to know what personal information is collected, used and disclosed). ' +
      'The data is given in structured, commonly used, machine-readable formats (JSON and CSV).',
    '',
  );
  if (meta.warnings.length > 0) {
    out.push(
      `Note: the export finished with ${plural(meta.warnings.length, 'warning', 'warnings')}; ` +
        `they are listed under \`meta.warnings\` in \`${SUMMARY_JSON}\`.`,
      '',
    );
  }

  out.push(
    '## Files in this archive',
    '',
    `- \`${SUMMARY_JSON}\` – everything in one JSON document (format version ${EXPORT_FORMAT_VERSION}): ` +
      '`meta` (export date, request id, subject type and id, record counts per category, warnings) and `categories`, ' +
      'each with its purpose, legal basis, retention, recipients, source and `records`. ' +
      'Every record names the kind of data it comes from (`_entity`) and its identifier there (`_id`).',
    `- \`${SUMMARY_CSV}\` – the same records as a table with one row per value: \`category\`, \`entity\`, \`record_id\`, \`field\`, \`value\`.`,
    '- `categories/<category>.json` – one category: its facts and its records, as in `summary.json`.',
    '- `categories/<category>.csv` – one category as a table: one row per record, one column per field ' +
      '(`_entity`, `_id`, then every field that occurs in the category; a field a record does not have is left empty).',
    `- \`${README_MD}\` – this file.`,
    '',
    'About the CSV files: UTF-8, comma-separated, one row per line (LF); a value holding a comma, quote or line break is ' +
      'enclosed in double quotes, with quotes doubled. Empty cells are empty or absent values. Nested values ' +
      '(lists, objects) are written as JSON text. A text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return ' +
      "gets an apostrophe (') in front of it, so that spreadsheet programs do not run it as a formula; the JSON files hold " +
      'the original values.',
    '',
    '## Categories of data',
    '',
  );

  if (categories.length === 0) out.push('No personal data was found.', '');
  categories.forEach((category, i) => {
    const facts = category.facts ?? {};
    const written = counted(category);
    const recipients = facts.recipients?.length ? facts.recipients.map(line).join('; ') : NOT_STATED;
    const entities = category.entities.length ? category.entities.map(code).join(', ') : NOT_STATED;
    let records = plural(written, 'record', 'records');
    if (written !== category.count) records += ` (${category.count} counted when the export started)`;
    out.push(`### ${line(category.name)}`, '');
    if (facts.description != null && line(facts.description) !== NOT_STATED) out.push(line(facts.description), '');
    out.push(
      `- Purpose of processing: ${line(facts.purpose)}`,
      `- Legal basis: ${line(facts.legalBasis)}`,
      `- Retention: ${line(facts.retention)}`,
      `- Recipients: ${recipients}`,
      `- Source: ${line(facts.source)}`,
      `- Records: ${records}`,
      `- Held in: ${entities}`,
      `- Files: \`${categoryJsonPath(bases[i])}\`, \`${categoryCsvPath(bases[i])}\``,
      '',
    );
  });

  out.push(
    '## Your rights',
    '',
    'Under the GDPR you have the right to:',
    '',
    '- access your personal data and information about its processing (Art. 15);',
    '- rectification of inaccurate or incomplete data (Art. 16);',
    '- erasure ("right to be forgotten", Art. 17);',
    '- restriction of processing (Art. 18);',
    '- data portability: receive your data in a machine-readable format and have it transmitted to another controller (Art. 20);',
    '- object to processing, including for direct marketing (Art. 21);',
    '- withdraw a consent at any time, without affecting processing before the withdrawal (Art. 7(3));',
    '- lodge a complaint with a supervisory authority, in particular in the member state of your residence, place of work or of the alleged infringement (Art. 77).',
    '',
    'Under the CCPA (California residents) you have the right to know what personal information is collected, ' +
      'used, shared or sold (§1798.100, §1798.110, §1798.115), to delete it (§1798.105), to correct it (§1798.106), ' +
      'to opt out of its sale or sharing (§1798.120), to limit the use of sensitive personal information (§1798.121), ' +
      'and not to be discriminated against for exercising these rights (§1798.125).',
    '',
    'To exercise any of these rights, contact the organization that provided this export.',
    '',
  );
  return out.join('\n');
}
