import type { CoverageReport } from './coverage.js';

/** Lays rows out in aligned columns (plain text, no colours: safe in CI logs). */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The coverage report for people: data stores, then what is undeclared and why. */
export function formatCoverage(report: CoverageReport): string {
  const out: string[] = [`Coverage of data subject ${report.subject}: ${report.summary}`, ''];
  const stores = report.entities
    .filter((e) => e.status !== 'no-personal-data')
    .map((e) => [e.entity, e.table, e.status, e.category ?? '', e.onErase ?? '']);
  for (const p of report.external) stores.push([p.provider, '(external)', 'provider', p.category, p.capabilities.join(',')]);
  out.push(textTable(['STORE', 'TABLE', 'STATUS', 'CATEGORY', 'ON ERASE'], stores));
  if (report.findings.length) {
    out.push('', 'Undeclared personal data:');
    out.push(textTable(['ENTITY', 'COLUMN', 'FINDING', 'WHY'], report.findings.map((f) => [f.entity, f.column, f.kind, f.reason])));
  } else {
    out.push('', 'No undeclared personal data found.');
  }
  return out.join('\n');
}
