import { type BenchCase, elapsed, startEngine, startTimer } from '../harness.js';

/** A started engine doing nothing: the process's RSS before any work, to read the other RSS figures against. */
export const baseline: BenchCase = {
  name: 'baseline',
  operation: 'baseline',
  role: 'engine',
  databases: ['postgres', 'mysql'],
  oncePerDatabase: true,
  async run(ctx) {
    const t0 = startTimer();
    const { stop } = await startEngine(ctx);
    const seconds = elapsed(t0);
    await stop();
    return { rows: 0, seconds, extra: { note: 'connect + engine.start() only' } };
  },
};
