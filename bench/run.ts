/**
 * The benchmark suite: export, anonymize, delete, purge and queue throughput of the engine against the
 * physical floor and the naive way, on PostgreSQL and MariaDB, side by side in one run.
 *
 *   npm run bench -- --rows 10000,100000 --db postgres,mysql --out bench-results.json
 *
 * Flags: --rows (comma list; default 10000,100000; 1000000 is opt-in) · --db (postgres,mysql) · --cases (comma
 * list of case names or prefixes: export, anonymize-engine...) · --out (JSON file) · --batch-size (engine policy,
 * default 5000, the engine's default) · --repeat (runs per case, the median is reported; default 1) · --naive-seconds (time box of the
 * row-by-row loops, default 20) · --queue-requests (default 100) · --timeout-minutes (per case, default 60) ·
 * --profile (CPU profile of each case's timed work into .tmp/bench-profiles; read it with bench/profile-summary.ts).
 * Every case runs in its own child process (bench/child.ts, bundled by esbuild), so its peak RSS is its own;
 * see docs/benchmarks.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASES } from './cases/index.js';
import { type BenchCase, type CaseContext, type CaseOutput, RESULT_PREFIX } from './harness.js';
import { type BenchResult, addRatios, addTargets, formatTable } from './report.js';
import { DB_LABELS, type DbKind, createScratch, dropScratch, ensureSeeded, settle } from './seed.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000,100000' },
    db: { type: 'string', default: 'postgres,mysql' },
    cases: { type: 'string' },
    out: { type: 'string' },
    'batch-size': { type: 'string', default: '5000' },
    'naive-seconds': { type: 'string', default: '20' },
    'queue-requests': { type: 'string', default: '100' },
    'timeout-minutes': { type: 'string', default: '60' },
    repeat: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
  },
});

const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
const rowsList = list(flags.rows!).map(Number);
const dbs = list(flags.db!).map((d) => ({ pg: 'postgres', postgresql: 'postgres', mariadb: 'mysql' })[d] ?? d) as DbKind[];
const batchSize = Number(flags['batch-size']);
const repeat = Math.max(1, Number(flags.repeat));
const filters = flags.cases ? list(flags.cases) : null;
const selected = CASES.filter((c) => !filters || filters.some((f) => c.name === f || c.name.startsWith(`${f}-`)));
if (rowsList.some((n) => !Number.isSafeInteger(n) || n < 1000)) throw new Error('--rows: integers of at least 1000');
if (dbs.some((d) => !(d in DB_LABELS))) throw new Error('--db: postgres and/or mysql');
if (selected.length === 0) throw new Error(`--cases matched nothing; cases: ${CASES.map((c) => c.name).join(', ')}`);

const profileDir = path.join(root, '.tmp', 'bench-profiles');

/**
 * Children run the suite bundled to plain JavaScript (esbuild, which tsx and tsup bring), as a host runs its
 * compiled app: under `--import tsx` the loader thread and on-the-fly transpiling add ~45 MB to every RSS.
 * Without esbuild, children fall back to tsx and the table says so.
 */
async function childCommand(): Promise<{ args: string[]; note?: string }> {
  try {
    const { build } = await import('esbuild');
    const outfile = path.join(root, '.tmp', 'bench-child', 'child.mjs');
    await build({
      entryPoints: [path.join(here, 'child.ts')], outfile, bundle: true, platform: 'node', format: 'esm', sourcemap: 'linked', logLevel: 'error',
      // Packages stay external, as they are for a host's compiled app.
      packages: 'external',
      absWorkingDir: root,
    });
    return { args: [outfile] };
  } catch (error) {
    return { args: ['--import', 'tsx', path.join(here, 'child.ts')], note: `children under tsx (RSS includes its loader, ~45 MB): ${(error as Error).message}` };
  }
}
/** The library code measured: other work lands in src/ all the time, so every result names the commit. */
function sourceVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--', 'src') ? '+uncommitted src changes' : '');
  } catch {
    return 'unknown';
  }
}
const commit = sourceVersion();
console.error(`[bench] measuring src at ${commit}`);
const childCmd = await childCommand();
if (flags.profile) await mkdir(profileDir, { recursive: true });
if (childCmd.note) console.error(`[bench] ${childCmd.note}`);

/** Runs one case in a child process; a crash (out of memory, V8's string limit) is a result, not an error. */
async function runChild(benchCase: BenchCase, ctx: Omit<CaseContext, 'workDir'>): Promise<{ output?: CaseOutput & { peak_rss_mb: number }; status: BenchResult['status']; note?: string }> {
  const profile = flags.profile ? { BENCH_CPU_PROFILE: path.join(profileDir, `${benchCase.name}-${ctx.db}-${ctx.rows}.cpuprofile`) } : {};
  const child = spawn(process.execPath, [...childCmd.args, JSON.stringify({ case: benchCase.name, ...ctx })], {
    cwd: root,
    env: { ...process.env, PE_DEBUG: '1', ...profile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), Number(flags['timeout-minutes']) * 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (code === 0 && line) return { status: 'ok', output: JSON.parse(line.slice(RESULT_PREFIX.length)) };
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const fatal = lines.find((l) => /heap out of memory|Invalid string length|ERR_STRING_TOO_LONG|Cannot create a string longer/i.test(l));
  const crashed = signal !== null || fatal !== undefined || code === 134;
  const reason = fatal ?? lines.find((l) => /Error/.test(l)) ?? lines.at(-1) ?? `exit code ${code}`;
  if (!crashed) process.stderr.write(stderr.slice(-4000));
  return { status: crashed ? 'crashed' : 'failed', note: `${signal ? `killed by ${signal}; ` : ''}${reason.slice(0, 160)}` };
}

function resultOf(benchCase: BenchCase, db: DbKind, n: number, run: Awaited<ReturnType<typeof runChild>>): BenchResult {
  const o = run.output;
  const { rows = n, seconds = null, unit = benchCase.operation === 'queue' ? 'requests' : 'rows', extra = {} } = o ?? {};
  return {
    name: benchCase.name,
    rows: o ? rows : benchCase.operation === 'queue' ? Number(flags['queue-requests']) : n,
    seconds: seconds === null ? null : Number(seconds.toFixed(3)),
    rows_per_s: seconds && rows ? Math.round(rows / seconds) : null,
    peak_rss_mb: o?.peak_rss_mb ?? null,
    ratio_to_floor: null,
    ratio_to_naive: null,
    db,
    operation: benchCase.operation,
    role: benchCase.role,
    dataset_rows: n,
    unit,
    status: run.status,
    commit,
    ...(run.note ? { note: run.note } : {}),
    ...extra,
  };
}

/** The run with the median time (a failed run wins: it is reported). */
function median<T extends { status: string; output?: { seconds: number } }>(runs: T[]): T {
  const failed = runs.find((r) => r.status !== 'ok');
  if (failed) return failed;
  return [...runs].sort((a, b) => a.output!.seconds - b.output!.seconds)[Math.floor((runs.length - 1) / 2)];
}

const results: BenchResult[] = [];
const started = Date.now();
for (const db of dbs) {
  for (const [i, n] of rowsList.entries()) {
    const cases = selected.filter((c) => c.databases.includes(db) && (!c.oncePerDatabase || i === 0));
    if (cases.length === 0) continue;
    const runnable = cases.filter((c) => !c.unavailable?.());
    const { database, seededSeconds } = runnable.length ? await ensureSeeded(db, n) : { database: '', seededSeconds: 0 };
    console.error(`[bench] ${DB_LABELS[db]}, ${n.toLocaleString('en-US')} rows: ${seededSeconds ? `seeded in ${seededSeconds.toFixed(1)} s` : 'reusing the seeded database'}`);
    for (const benchCase of cases) {
      const reason = benchCase.unavailable?.();
      if (reason) {
        results.push(resultOf(benchCase, db, n, { status: reason.startsWith('pending') ? 'pending' : 'unavailable', note: reason }));
        continue;
      }
      const runs: Awaited<ReturnType<typeof runChild>>[] = [];
      for (let attempt = 0; attempt < repeat; attempt++) {
        const target = benchCase.mutates ? await createScratch(db, n) : database;
        await settle(db);
        const ctx = { db, database: target, rows: n, batchSize, naiveSeconds: Number(flags['naive-seconds']), queueRequests: Number(flags['queue-requests']) };
        const run = await runChild(benchCase, ctx);
        runs.push(run);
        if (run.status !== 'ok') break;
      }
      const result = resultOf(benchCase, db, n, median(runs));
      if (runs.length > 1) result.repeats = runs.map((r) => r.output?.seconds ?? null);
      results.push(result);
      console.error(`[bench]   ${benchCase.name}: ${result.status === 'ok' ? `${result.seconds} s, ${result.rows_per_s?.toLocaleString("en-US") ?? "—"} ${result.unit}/s, ${result.peak_rss_mb} MB, CPU ${result.process_cpu_s ?? '—'} s (machine ${result.machine_cpu_s ?? '—'} s)` : `${result.status} ${result.note ?? ''}`}`);
    }
    if (cases.some((c) => c.mutates)) await dropScratch(db, n);
  }
}

addRatios(results);
addTargets(results, batchSize);
console.log(formatTable(results));
console.error(`[bench] ${results.length} results in ${((Date.now() - started) / 60_000).toFixed(1)} min, batch size ${batchSize}`);
if (flags.out) {
  await mkdir(path.dirname(path.resolve(flags.out)), { recursive: true });
  await writeFile(flags.out, JSON.stringify(results, null, 2) + '\n');
  console.error(`[bench] wrote ${flags.out}`);
}
if (results.some((r) => r.status === 'failed')) process.exitCode = 1;
