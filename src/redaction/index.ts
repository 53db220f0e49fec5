export type { ColumnFacts, ColumnKind } from './column-facts.js';
export { checkRedactRule, createRedactor, isIdentifying, type Redactor, type RedactorDeps } from './redactor.js';
