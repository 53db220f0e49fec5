import type { RedactStrategyName } from '../../metadata/declarations.js';
import { dateStrategy } from './date.js';
import { emailStrategy } from './email.js';
import { fixedStrategy } from './fixed.js';
import { hashStrategy } from './hash.js';
import { hmacStrategy } from './hmac.js';
import { ipStrategy } from './ip.js';
import { jsonStrategy } from './json.js';
import { nameStrategy } from './name.js';
import { nullStrategy } from './null.js';
import { phoneStrategy } from './phone.js';
import type { RedactionStrategy } from './strategy.js';
import { textStrategy } from './text.js';

export type { RedactionStrategy } from './strategy.js';

/** Built-in strategies by name; the Record type makes the compiler insist on one per RedactStrategyName. */
export const strategies: Readonly<Record<RedactStrategyName, RedactionStrategy>> = {
  null: nullStrategy,
  fixed: fixedStrategy,
  email: emailStrategy,
  phone: phoneStrategy,
  name: nameStrategy,
  text: textStrategy,
  hash: hashStrategy,
  hmac: hmacStrategy,
  date: dateStrategy,
  ip: ipStrategy,
  json: jsonStrategy,
};

export function getStrategy(name: string): RedactionStrategy | undefined {
  return Object.hasOwn(strategies, name) ? strategies[name as RedactStrategyName] : undefined;
}
