import { createHmac } from 'node:crypto';
import { fit, needsLength, producesText, type RedactionStrategy } from './strategy.js';

const MIN = 16;
const UNIQUE_MIN = 32;

/** HMAC-SHA256 (hex, 64 characters): the same value and key give the same pseudonym in every table and run. */
export function hmacHex(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('hex');
}

export const hmacStrategy: RedactionStrategy = {
  name: 'hmac',
  check: (column) => [
    ...producesText('hmac', column),
    ...(column.unique ? needsLength('hmac', column, UNIQUE_MIN, ' to stay unique') : needsLength('hmac', column, MIN)),
  ],
  create: (_options, column, deps) => (value) => fit(hmacHex(deps.hmacKey, String(value)), column),
};
