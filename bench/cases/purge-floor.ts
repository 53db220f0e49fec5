import { purgeStatements, softDeleteStatements } from '../erasure-sql.js';
import { type BenchCase, elapsed, startTimer } from '../harness.js';
import { openDataSource } from '../seed.js';

/** The floor: after a set-based soft delete (not timed), one DELETE of the hidden rows per table. */
export const purgeFloor: BenchCase = {
  name: 'purge-floor',
  operation: 'purge',
  role: 'floor',
  databases: ['postgres', 'mysql'],
  mutates: true,
  async run(ctx) {
    const ds = await openDataSource(ctx.db, ctx.database);
    for (const sql of softDeleteStatements(ds)) await ds.query(sql);
    const t0 = startTimer();
    for (const sql of purgeStatements(ds)) await ds.query(sql);
    const seconds = elapsed(t0);
    await ds.destroy();
    return { rows: ctx.rows, seconds };
  },
};
