import { refusesUnique, type RedactionStrategy } from './strategy.js';

const REDACTED = '[REDACTED]';

/** A redacted copy: the value of every listed key, at any depth, arrays included, becomes '[REDACTED]'. */
function redactKeys(node: unknown, keys: ReadonlySet<string>): unknown {
  if (Array.isArray(node)) return node.map((item) => redactKeys(item, keys));
  if (node === null || typeof node !== 'object') return node;
  // fromEntries defines own properties, so a '__proto__' key stays a key instead of setting the prototype.
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, keys.has(key) ? REDACTED : redactKeys(value, keys)]));
}

export const jsonStrategy: RedactionStrategy = {
  name: 'json',
  check(column, options) {
    const problems: string[] = [];
    if (!Array.isArray(options.keys) || options.keys.length === 0 || !options.keys.every((k) => typeof k === 'string')) {
      problems.push("strategy 'json' needs options.keys, a non-empty list of key names");
    }
    if (!['json', 'string', 'text'].includes(column.kind)) problems.push(`strategy 'json' needs a json or text column but column is ${column.kind}`);
    // '[REDACTED]' can be longer than the value it replaces, so no length limit can be promised.
    if (column.length !== undefined) problems.push(`strategy 'json' can lengthen documents but column length is ${column.length}`);
    return [...problems, ...refusesUnique('json', column)];
  },
  create(options) {
    const keys = new Set(options.keys);
    return (value) => {
      if (typeof value !== 'string') return redactKeys(value, keys);
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        return REDACTED; // not JSON: its keys cannot be found, so nothing of it is kept
      }
      return JSON.stringify(redactKeys(parsed, keys));
    };
  },
};
