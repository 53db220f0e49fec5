import type { RedactFunction, RedactOptions, RedactStrategyName } from '../../src/metadata/declarations.js';
import { createRedactor, type ColumnFacts, type Redactor } from '../../src/redaction/index.js';

export const KEY = Buffer.alloc(32, 7);

export function column(facts: Partial<ColumnFacts> = {}): ColumnFacts {
  return { kind: 'string', unique: false, nullable: true, ...facts };
}

export function redactor(
  strategy: RedactStrategyName | RedactFunction,
  options: RedactOptions = {},
  facts: Partial<ColumnFacts> = {},
  hmacKey: Buffer = KEY,
): Redactor {
  return createRedactor(strategy, options, column(facts), { hmacKey }, { entity: 'Contact', property: 'field' });
}
