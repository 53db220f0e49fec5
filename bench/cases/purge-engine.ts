import { type BenchCase, ADMIN, completed, elapsed, erasureUnavailable, startEngine, startTimer } from '../harness.js';
import { SUBJECT_ID } from '../schema.js';

const DAY = 24 * 60 * 60 * 1000;

/** engine.purge after the recovery window: a delete (not timed), the clock moved 31 days on, then the purge. */
export const purgeEngine: BenchCase = {
  name: 'purge-engine',
  operation: 'purge',
  role: 'engine',
  databases: ['postgres', 'mysql'],
  mutates: true,
  unavailable: erasureUnavailable,
  async run(ctx) {
    let offset = 0;
    const { engine, stop } = await startEngine(ctx, { clock: { now: () => new Date(Date.now() + offset) } });
    const deleted = await completed(engine, await engine.delete({ subjectId: SUBJECT_ID, actor: ADMIN }));
    offset = 31 * DAY;
    const t0 = startTimer();
    const done = await completed(engine, await engine.purge({ requestId: deleted.id, actor: ADMIN }));
    const seconds = elapsed(t0);
    await stop();
    const { removed } = done.outcome as { removed: Record<string, number> };
    const total = Object.values(removed).reduce((a, b) => a + b, 0);
    if (total !== ctx.rows + 1) throw new Error(`purged ${total} rows, expected ${ctx.rows + 1}`);
    return { rows: ctx.rows, seconds };
  },
};
