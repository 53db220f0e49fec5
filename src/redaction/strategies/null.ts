import type { RedactionStrategy } from './strategy.js';

export const nullStrategy: RedactionStrategy = {
  name: 'null',
  check: (column) => (column.nullable ? [] : ["strategy 'null' cannot be used: column is NOT NULL; choose another strategy"]),
  create: () => () => null,
};
