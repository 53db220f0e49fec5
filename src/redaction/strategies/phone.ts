import { randomString } from '../random.js';
import { needsLength, producesText, type RedactionStrategy } from './strategy.js';

const LENGTH = 12;
const UNIQUE_MIN = 10;

export const phoneStrategy: RedactionStrategy = {
  name: 'phone',
  check: (column) => [
    ...producesText('phone', column),
    ...(column.unique ? needsLength('phone', column, UNIQUE_MIN, ' to stay unique') : []),
  ],
  create(_options, column) {
    const length = Math.min(LENGTH, column.length ?? LENGTH);
    return () => randomString(length);
  },
};
