import type { BenchCase } from '../harness.js';
import { naiveRowLoop } from '../naive-loop.js';

/** The naive way: load the rows, repository.softRemove() each row (save() of its deletedAt). */
export const deleteNaive: BenchCase = {
  name: 'delete-naive',
  operation: 'delete',
  role: 'naive',
  databases: ['postgres', 'mysql'],
  mutates: true,
  run: (ctx) => naiveRowLoop(ctx, (repository, row) => repository.softRemove(row)),
};
