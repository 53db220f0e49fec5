import { type BenchCase, ADMIN, completed, elapsed, startEngine, startTimer } from '../harness.js';
import { SUBJECT_ID } from '../schema.js';

/**
 * engine.export of the subject's N rows (`--rows`, 1M in the issue) under a lease renewed 10 times a second
 * (`lease: { durationMs: 1000, heartbeatMs: 100 }`, a hundred times the default rate): set beside `export-engine`
 * (default lease, a heartbeat every 10 s) it bounds what leases and heartbeats cost an export.
 */
export const exportLeaseHeartbeat: BenchCase = {
  name: 'export-lease-heartbeat',
  operation: 'export',
  role: 'engine',
  databases: ['postgres', 'mysql'],
  async run(ctx) {
    const { engine, stop } = await startEngine(ctx, { lease: { durationMs: 1000, heartbeatMs: 100 } });
    const t0 = startTimer();
    const done = await completed(engine, await engine.export({ subjectId: SUBJECT_ID, actor: ADMIN }));
    const seconds = elapsed(t0);
    await stop();
    const exported = Object.values((done.outcome as { counts: Record<string, number> }).counts).reduce((a, b) => a + b, 0);
    if (exported !== ctx.rows + 1) throw new Error(`exported ${exported} records, expected ${ctx.rows + 1}`);
    return { rows: ctx.rows, seconds, extra: { lease_ms: 1000, heartbeat_ms: 100 } };
  },
};
