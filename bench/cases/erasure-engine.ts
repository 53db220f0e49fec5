import { type BenchCase, ADMIN, completed, elapsed, erasureUnavailable, measureTransactions, startEngine, startTimer } from '../harness.js';
import { SUBJECT_ID } from '../schema.js';

/** engine.anonymize or engine.delete end to end, checked against the receipt: every one of the subject's rows changed once. */
export function erasureEngineCase(operation: 'anonymize' | 'delete'): BenchCase {
  return {
    name: `${operation}-engine`,
    operation,
    role: 'engine',
    databases: ['postgres', 'mysql'],
    mutates: true,
    unavailable: erasureUnavailable,
    async run(ctx) {
      const { engine, dataSource, stop } = await startEngine(ctx);
      const { result, maxRowsPerTxn } = await measureTransactions(ctx, dataSource, async () => {
        const t0 = startTimer();
        const done = await completed(engine, await engine[operation]({ subjectId: SUBJECT_ID, actor: ADMIN }));
        return { done, seconds: elapsed(t0) };
      });
      await stop();
      const { receipt } = result.done.outcome as { receipt: { entities: Record<string, { rows: number }> } };
      const changed = Object.values(receipt.entities).reduce((n, e) => n + e.rows, 0);
      if (changed !== ctx.rows + 1) throw new Error(`${operation} changed ${changed} rows, expected ${ctx.rows + 1}`);
      return { rows: ctx.rows, seconds: result.seconds, extra: { max_rows_per_txn: maxRowsPerTxn } };
    },
  };
}
