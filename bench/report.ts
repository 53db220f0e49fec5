import type { Operation, Role } from './harness.js';
import { DB_LABELS, type DbKind } from './seed.js';

/** One case at one N on one database: the JSON object written to --out. */
export interface BenchResult {
  name: string;
  rows: number;
  seconds: number | null;
  rows_per_s: number | null;
  peak_rss_mb: number | null;
  ratio_to_floor: number | null;
  ratio_to_naive: number | null;
  db: DbKind;
  operation: Operation;
  role: Role;
  /** The subject's rows in the database the case ran on (rows counts requests for the queue cases). */
  dataset_rows: number;
  unit: 'rows' | 'requests';
  status: 'ok' | 'crashed' | 'failed' | 'pending' | 'unavailable';
  note?: string;
  target?: string;
  target_met?: boolean | null;
  [extra: string]: unknown;
}

// Issue #13's targets (docs/benchmarks.md): share of the floor's rows/s per operation, export against the naive way.
const EXPORT_FLOOR_SHARE = 0.8;
const EXPORT_NAIVE_RATIO = 1.5;
const FLOOR_SHARE: Record<string, number> = { anonymize: 0.5, delete: 0.6, purge: 0.5 };
const EXPORT_RSS_LIMIT_MB = 150;
const EXPORT_RSS_GROWTH = 0.2;
/** Below this, times are mostly fixed costs (DESIGN.md): targets are judged from here up. */
const JUDGED_FROM_ROWS = 100_000;

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** Fills ratio_to_floor / ratio_to_naive from the floor and naive cases of the same operation, database and N. */
export function addRatios(results: BenchResult[]): void {
  const find = (r: BenchResult, role: Role) =>
    results.find((o) => o.status === 'ok' && o.role === role && o.operation === r.operation && o.db === r.db && o.dataset_rows === r.dataset_rows);
  for (const r of results) {
    if (r.status !== 'ok' || r.rows_per_s === null || r.operation === 'queue' || r.operation === 'baseline') continue;
    const floor = find(r, 'floor');
    const naive = find(r, 'naive');
    r.ratio_to_floor = floor?.rows_per_s ? round(r.rows_per_s / floor.rows_per_s, 3) : null;
    r.ratio_to_naive = naive?.rows_per_s ? round(r.rows_per_s / naive.rows_per_s, 2) : null;
  }
}

/** The issue's targets, judged on the engine's rows; a missed target says so in target_met and the table. */
export function addTargets(results: BenchResult[], batchSize: number): void {
  for (const r of results) {
    if (r.status !== 'ok') continue;
    if (r.operation === 'export') {
      const small = results.find((o) => o.status === 'ok' && o.name === r.name && o.db === r.db && o.dataset_rows === 10_000);
      if (small?.peak_rss_mb && r.peak_rss_mb && r !== small) r.rss_growth_vs_10k = round(r.peak_rss_mb / small.peak_rss_mb - 1, 3);
    }
    if (r.role !== 'engine' || !['export', 'anonymize', 'delete', 'purge'].includes(r.operation)) continue;
    if (r.dataset_rows < JUDGED_FROM_ROWS && r.operation === 'export') {
      // The naive way must never win, from 10k rows up; the rest is judged from 100k.
      const met = r.ratio_to_naive === null ? null : r.ratio_to_naive >= EXPORT_NAIVE_RATIO;
      r.target = `≥${EXPORT_NAIVE_RATIO}× naive: ${met === null ? 'not measured' : met ? 'met' : 'MISSED'}`;
      r.target_met = met;
      continue;
    }
    if (r.dataset_rows < JUDGED_FROM_ROWS) {
      r.target = `judged from ${JUDGED_FROM_ROWS / 1000}k rows`;
      r.target_met = null;
      continue;
    }
    const checks: Array<[string, boolean | null]> = [];
    if (r.operation === 'export') {
      checks.push([`≥${EXPORT_FLOOR_SHARE * 100}% of floor`, r.ratio_to_floor === null ? null : r.ratio_to_floor >= EXPORT_FLOOR_SHARE]);
      checks.push([`≥${EXPORT_NAIVE_RATIO}× naive`, r.ratio_to_naive === null ? null : r.ratio_to_naive >= EXPORT_NAIVE_RATIO]);
      if (r.dataset_rows >= 1_000_000) {
        checks.push([`RSS <${EXPORT_RSS_LIMIT_MB} MB`, r.peak_rss_mb === null ? null : r.peak_rss_mb < EXPORT_RSS_LIMIT_MB]);
        const growth = r.rss_growth_vs_10k as number | undefined;
        checks.push([`RSS growth from 10k <${EXPORT_RSS_GROWTH * 100}%`, growth === undefined ? null : growth < EXPORT_RSS_GROWTH]);
      }
    } else {
      const share = FLOOR_SHARE[r.operation];
      checks.push([`≥${share * 100}% of floor`, r.ratio_to_floor === null ? null : r.ratio_to_floor >= share]);
      const maxTxn = r.max_rows_per_txn as number | undefined;
      if (r.operation !== 'purge') checks.push([`≤${batchSize} rows/txn`, maxTxn === undefined ? null : maxTxn <= batchSize]);
    }
    r.target = checks.map(([text, met]) => `${text}: ${met === null ? 'not measured' : met ? 'met' : 'MISSED'}`).join('; ');
    r.target_met = checks.some(([, met]) => met === false) ? false : checks.every(([, met]) => met === true) ? true : null;
  }
}

const int = (x: number) => Math.round(x).toLocaleString('en-US');

/** A Markdown table (also readable in a terminal): what docs/benchmarks.md holds. */
export function formatTable(results: BenchResult[]): string {
  const header = ['case', 'db', 'rows', 'seconds', 'rows/s', 'peak RSS MB', '× floor', '× naive', 'target'];
  const lines = results.map((r) => {
    const unit = r.unit === 'requests' ? ' req' : '';
    const approx = r.extrapolated ? '~' : '';
    const ok = r.status === 'ok';
    const txn = r.max_rows_per_txn === undefined ? '' : ` (max ${int(r.max_rows_per_txn as number)} rows/txn)`;
    const target = ok ? (r.target ?? r.note ?? '') : `${r.status.toUpperCase()}${r.note ? `: ${r.note}` : ''}`;
    return [
      r.name,
      DB_LABELS[r.db],
      `${int(r.rows)}${unit}`,
      ok && r.seconds !== null ? `${approx}${r.seconds.toFixed(2)}` : '—',
      ok && r.rows_per_s !== null && r.rows > 0 ? `${approx}${int(r.rows_per_s)}${r.unit === 'requests' ? ' req/s' : ''}` : '—',
      r.peak_rss_mb === null ? '—' : int(r.peak_rss_mb),
      r.ratio_to_floor === null ? '—' : r.ratio_to_floor.toFixed(2),
      r.ratio_to_naive === null ? '—' : r.ratio_to_naive.toFixed(1),
      (target + txn).replace(/\|/g, '/'),
    ];
  });
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [row(header), row(header.map(() => '---')), ...lines.map(row)].join('\n');
}
