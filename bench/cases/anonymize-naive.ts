import type { BenchCase } from '../harness.js';
import { naiveRowLoop } from '../naive-loop.js';

/** The naive way: load the rows, overwrite the personal fields, repository.save() each row. */
export const anonymizeNaive: BenchCase = {
  name: 'anonymize-naive',
  operation: 'anonymize',
  role: 'naive',
  databases: ['postgres', 'mysql'],
  mutates: true,
  run: (ctx) =>
    naiveRowLoop(ctx, (repository, row, table) => {
      Object.assign(row, table.redact);
      return repository.save(row);
    }),
};
