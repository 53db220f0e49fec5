import { anonymizeStatements } from '../erasure-sql.js';
import { type BenchCase, elapsed, measureTransactions, startTimer } from '../harness.js';
import { openDataSource } from '../seed.js';

/** The floor: one set-based UPDATE per table, no vault, each statement its own transaction. */
export const anonymizeFloor: BenchCase = {
  name: 'anonymize-floor',
  operation: 'anonymize',
  role: 'floor',
  databases: ['postgres', 'mysql'],
  mutates: true,
  async run(ctx) {
    const ds = await openDataSource(ctx.db, ctx.database);
    const { result: seconds, maxRowsPerTxn } = await measureTransactions(ctx, ds, async () => {
      const t0 = startTimer();
      for (const sql of anonymizeStatements(ds)) await ds.query(sql);
      return elapsed(t0);
    });
    await ds.destroy();
    return { rows: ctx.rows, seconds, extra: { max_rows_per_txn: maxRowsPerTxn } };
  },
};
