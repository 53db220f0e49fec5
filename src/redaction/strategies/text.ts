import { fit, needsLength, producesText, tagged, type RedactionStrategy } from './strategy.js';

const MARKER = '[REDACTED]';
const UNIQUE_MIN = 10;

export const textStrategy: RedactionStrategy = {
  name: 'text',
  check: (column) => [
    ...producesText('text', column),
    ...(column.unique ? needsLength('text', column, UNIQUE_MIN, ' to stay unique') : []),
  ],
  create(_options, column) {
    if (column.unique) return () => tagged(`${MARKER} `, column, UNIQUE_MIN);
    const value = fit(MARKER, column);
    return () => value;
  },
};
