import type { DataSource, EntityManager } from 'typeorm';
import { dialectOf } from './dialect.js';

const sqliteChains = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Runs `fn` with nothing else of this process that goes through here running beside it on a SQLite DataSource,
 * whose single connection holds one transaction at a time (a second BEGIN fails). Elsewhere it runs at once.
 */
export function exclusive<T>(dataSource: DataSource, fn: () => Promise<T>): Promise<T> {
  if (dialectOf(dataSource) !== 'sqlite') return fn();
  const run = (sqliteChains.get(dataSource) ?? Promise.resolve()).then(fn, fn);
  sqliteChains.set(dataSource, run.catch(() => undefined));
  return run;
}

/** A transaction that waits its turn on SQLite (see `exclusive`): the engine's batches and audit appends share one. */
export function inTransaction<T>(dataSource: DataSource, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  return exclusive(dataSource, () => dataSource.transaction(fn));
}
