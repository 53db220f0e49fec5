import type { BenchCase } from '../harness.js';
import { baseline } from './baseline.js';
import { anonymizeEngine } from './anonymize-engine.js';
import { anonymizeFloor } from './anonymize-floor.js';
import { anonymizeNaive } from './anonymize-naive.js';
import { deleteEngine } from './delete-engine.js';
import { deleteFloor } from './delete-floor.js';
import { deleteNaive } from './delete-naive.js';
import { exportEngine, exportEnginePlaintext } from './export-engine.js';
import { exportFloor } from './export-floor.js';
import { exportNaive } from './export-naive.js';
import { purgeEngine } from './purge-engine.js';
import { purgeFloor } from './purge-floor.js';
import { queueInProcess } from './queue-in-process.js';
import { queueDurable } from './queue-durable.js';
import { exportLeaseHeartbeat } from './export-lease.js';

/** Every case, in run order: for each operation the floor first, then the engine, then the naive way. */
export const CASES: BenchCase[] = [
  baseline,
  exportFloor,
  exportEngine,
  exportEnginePlaintext,
  exportLeaseHeartbeat,
  exportNaive,
  anonymizeFloor,
  anonymizeEngine,
  anonymizeNaive,
  deleteFloor,
  deleteEngine,
  deleteNaive,
  purgeFloor,
  purgeEngine,
  queueInProcess(1),
  queueInProcess(2),
  queueDurable('typeorm', 1),
  queueDurable('typeorm', 2),
  queueDurable('bullmq', 1),
  queueDurable('bullmq', 2),
];
