import { fit, needsLength, producesText, tagged, type RedactionStrategy } from './strategy.js';

const PSEUDONYM = 'Redacted';
const UNIQUE_MIN = 8;

export const nameStrategy: RedactionStrategy = {
  name: 'name',
  check: (column) => [
    ...producesText('name', column),
    ...(column.unique ? needsLength('name', column, UNIQUE_MIN, ' to stay unique') : []),
  ],
  create(_options, column) {
    if (column.unique) return () => tagged(`${PSEUDONYM} `, column, UNIQUE_MIN);
    const value = fit(PSEUDONYM, column);
    return () => value;
  },
};
