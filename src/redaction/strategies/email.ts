import { randomString } from '../random.js';
import { needsLength, producesText, type RedactionStrategy } from './strategy.js';

const PREFIX = 'redacted-';
const DOMAIN = '@redacted.invalid'; // .invalid is reserved (RFC 2606): no mail can ever be delivered there
/** 16 characters of [a-z0-9] are ~82 bits: no collision on a unique column in any realistic table. */
const RANDOM = 16;
export const EMAIL_LENGTH = PREFIX.length + RANDOM + DOMAIN.length;

export const emailStrategy: RedactionStrategy = {
  name: 'email',
  check: (column) => [...producesText('email', column), ...needsLength('email', column, EMAIL_LENGTH)],
  create: () => () => PREFIX + randomString(RANDOM) + DOMAIN,
};
