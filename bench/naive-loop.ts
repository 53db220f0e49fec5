import type { ObjectLiteral, Repository } from 'typeorm';
import { type CaseContext, type CaseOutput } from './harness.js';
import { BENCH_TABLES, type BenchTable, SUBJECT_ID } from './schema.js';
import { openDataSource } from './seed.js';

/**
 * The naive erasure: find() the subject's rows of each table, then one repository call per row. It runs
 * about a thousand rows a second, so each table's loop is time-boxed (ctx.naiveSeconds over all tables)
 * and the time for all N rows is extrapolated from the measured rate; the JSON says how much was measured.
 */
export async function naiveRowLoop(ctx: CaseContext, perRow: (repository: Repository<ObjectLiteral>, row: ObjectLiteral, table: BenchTable) => Promise<unknown>): Promise<CaseOutput> {
  const ds = await openDataSource(ctx.db, ctx.database);
  const budget = (ctx.naiveSeconds * 1000) / BENCH_TABLES.length;
  let estimated = 0;
  let measuredRows = 0;
  let measuredSeconds = 0;
  for (const table of BENCH_TABLES) {
    const repository = ds.getRepository<ObjectLiteral>(table.entity);
    const t0 = performance.now();
    const rows = await repository.find({ where: { contact: { id: SUBJECT_ID } }, order: { id: 'ASC' } });
    const loaded = performance.now();
    let done = 0;
    while (done < rows.length && performance.now() - loaded < budget) await perRow(repository, rows[done++], table);
    const loop = performance.now() - loaded;
    measuredRows += done;
    measuredSeconds += (performance.now() - t0) / 1000;
    estimated += (loaded - t0 + (done === 0 ? 0 : (loop / done) * rows.length)) / 1000;
  }
  await ds.destroy();
  return { rows: ctx.rows, seconds: estimated, extra: { extrapolated: measuredRows < ctx.rows, measured_rows: measuredRows, measured_seconds: +measuredSeconds.toFixed(2) } };
}
