import { randomBytes, randomUUID } from 'node:crypto';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { ColumnFacts } from '../redaction/index.js';
import type { RedactFunction } from './declarations.js';

/**
 * Columns that are obviously login secrets, by name: they are kept out of exports unless the data map names
 * them in `include`, and erasure resets them when no @Redact says otherwise, so an erased person cannot sign in.
 * Listed in docs/data-map.md; keep the two in step.
 */
const WORDS = new Set(['password', 'passwords', 'passwd', 'passphrase', 'pwd', 'secret', 'secrets', 'token', 'tokens', 'salt', 'otp', 'totp', 'hotp']);
const PAIRS: Array<[string, string]> = [
  ['api', 'key'],
  ['private', 'key'],
  ['access', 'key'],
  ['recovery', 'code'],
  ['recovery', 'codes'],
];
const JOINED = new Set(['apikey', 'privatekey', 'accesskey', 'recoverycode', 'recoverycodes']);

/** Splits `passwordHash`, `password_hash`, `API-KEY` into lower-case words. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

export function looksLikeCredentialName(name: string): boolean {
  const w = words(name);
  if (w.some((x) => WORDS.has(x) || JOINED.has(x))) return true;
  return PAIRS.some(([a, b]) => w.some((x, i) => x === a && w[i + 1] === b));
}

/**
 * Whether a column holds a login secret: named like one (its property or its database name) and of a kind that
 * can hold one (text, binary, or a uuid-like type). A `passwordChangedAt` date or a `tokenCount` integer is not one.
 */
export function isCredentialColumn(column: ColumnMetadata, facts: ColumnFacts): boolean {
  if (column.isPrimary || column.relationMetadata || column.isDiscriminator || column.isVersion || column.isCreateDate || column.isUpdateDate || column.isDeleteDate) return false;
  if (!['string', 'text', 'binary', 'other'].includes(facts.kind) || facts.enumValues || facts.array) return false;
  return looksLikeCredentialName(column.propertyName) || looksLikeCredentialName(column.databaseName);
}

/**
 * What erasure writes to a credential without a @Redact rule: NULL where the column allows it, else a fresh random
 * value nobody knows (a hash that matches no password, a token nobody holds). Undefined when neither fits.
 */
export function credentialReset(facts: ColumnFacts, type: string): { strategy: 'null' } | { strategy: RedactFunction } | undefined {
  if (facts.nullable) return { strategy: 'null' };
  if (facts.kind === 'string' || facts.kind === 'text') {
    const length = Math.min(facts.length ?? 64, 64);
    return { strategy: (_value, ctx) => ctx.random(length) };
  }
  if (facts.kind === 'binary') return { strategy: () => randomBytes(Math.min(facts.length ?? 32, 32)) };
  if (type === 'uuid') return { strategy: () => randomUUID() };
  return undefined;
}
