import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetadataError, ValidationError } from '../../src/errors.js';
import type { RedactContext } from '../../src/metadata/declarations.js';
import { createRedactor, isIdentifying } from '../../src/redaction/index.js';
import { column, KEY, redactor } from './helpers.js';

const row = { id: 1 };

describe('null strategy', () => {
  it('sets null', () => {
    expect(redactor('null')('jane@example.com', row)).toBeNull();
    expect(redactor('null')(null, row)).toBeNull();
  });
});

describe('fixed strategy', () => {
  it("writes '[REDACTED]' by default and the configured value otherwise", () => {
    expect(redactor('fixed')('Jane', row)).toBe('[REDACTED]');
    expect(redactor('fixed', { value: 'n/a' })('Jane', row)).toBe('n/a');
    expect(redactor('fixed', { value: 0 }, { kind: 'integer' })(1985, row)).toBe(0);
    expect(redactor('fixed', { value: false }, { kind: 'boolean' })(true, row)).toBe(false);
  });
  it('keeps null', () => {
    expect(redactor('fixed')(null, row)).toBeNull();
  });
});

describe('email strategy', () => {
  it('writes redacted-<random>@redacted.invalid', () => {
    expect(redactor('email')('jane@example.com', row)).toMatch(/^redacted-[a-z0-9]{16}@redacted\.invalid$/);
    expect(redactor('email')(undefined, row)).toBeNull();
  });

  it('gives 100,000 distinct values within the column length', () => {
    const redact = redactor('email', {}, { unique: true, nullable: false, length: 42 });
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const value = redact(`person${i}@example.com`, row) as string;
      if (!/^redacted-[a-z0-9]+@redacted\.invalid$/.test(value) || value.length > 42) throw new Error(`bad value ${value}`);
      seen.add(value);
    }
    expect(seen.size).toBe(100_000);
  });
});

describe('phone strategy', () => {
  it('writes 12 random lowercase alphanumerics, fewer on a short column', () => {
    expect(redactor('phone')('+33 6 12 34 56 78', row)).toMatch(/^[a-z0-9]{12}$/);
    expect(redactor('phone', {}, { length: 5 })('0612345678', row)).toMatch(/^[a-z0-9]{5}$/);
    expect(redactor('phone')(null, row)).toBeNull();
  });
});

describe('name strategy', () => {
  it("writes 'Redacted', cut to the column length", () => {
    expect(redactor('name')('Jane Doe', row)).toBe('Redacted');
    expect(redactor('name', {}, { length: 4 })('Jane', row)).toBe('Reda');
    expect(redactor('name')(null, row)).toBeNull();
  });
  it('adds randomness on a unique column, cutting the pseudonym rather than the randomness', () => {
    expect(redactor('name', {}, { unique: true })('Jane Doe', row)).toMatch(/^Redacted [a-z0-9]{16}$/);
    expect(redactor('name', {}, { unique: true, length: 12 })('Jane Doe', row)).toMatch(/^Reda[a-z0-9]{8}$/);
  });
});

describe('text strategy', () => {
  it("writes '[REDACTED]', with randomness on a unique column", () => {
    expect(redactor('text', {}, { kind: 'text' })('Called Jane about her divorce', row)).toBe('[REDACTED]');
    expect(redactor('text', {}, { length: 6 })('Called Jane', row)).toBe('[REDAC');
    expect(redactor('text', {}, { unique: true })('note', row)).toMatch(/^\[REDACTED\] [a-z0-9]{16}$/);
    expect(redactor('text', {}, { kind: 'text' })(null, row)).toBeNull();
  });
});

describe('hash strategy', () => {
  it('is keyed: the same input and key give the same output, another key another output, and no unkeyed SHA-256', () => {
    const value = 'jane@example.com';
    const unkeyed = createHash('sha256').update(value).digest('hex');
    const a = redactor('hash')(value, row) as string;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(redactor('hash')(value, row)).toBe(a);
    expect(a).not.toBe(unkeyed);
    expect(redactor('hash', {}, {}, Buffer.alloc(32, 9))(value, row)).not.toBe(a);
    expect(redactor('hash', {}, { length: 10 })(value, row)).toBe(a.slice(0, 10));
    expect(redactor('hash')(null, row)).toBeNull();
  });

  it('gives the same pseudonym as hmac for the same value and key', () => {
    fc.assert(fc.property(fc.string(), fc.uint8Array({ minLength: 32, maxLength: 32 }), (value, key) => {
      const k = Buffer.from(key);
      expect(redactor('hash', {}, {}, k)(value, row)).toBe(redactor('hmac', {}, {}, k)(value, row));
    }));
  });
});

describe('hmac strategy', () => {
  it('is deterministic for one key across redactors and differs under another key', () => {
    const a = redactor('hmac')('jane@example.com', row);
    const b = redactor('hmac', {}, { kind: 'text', length: 255 })('jane@example.com', { other: 'row' });
    const other = redactor('hmac', {}, {}, Buffer.alloc(32, 8))('jane@example.com', row);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(other).not.toBe(a);
    expect(redactor('hmac')('john@example.com', row)).not.toBe(a);
  });
  it('truncates to the column and keeps null', () => {
    expect(redactor('hmac', {}, { length: 20 })('jane', row)).toBe((redactor('hmac')('jane', row) as string).slice(0, 20));
    expect(redactor('hmac')(null, row)).toBeNull();
  });
});

describe('date strategy', () => {
  it('generalizes to January 1st of the year, in the form it was given', () => {
    expect(redactor('date', {}, { kind: 'date' })(new Date('1985-07-14T12:30:00Z'), row)).toEqual(new Date('1985-01-01T00:00:00.000Z'));
    expect(redactor('date', {}, { kind: 'date' })('1985-07-14', row)).toBe('1985-01-01');
    expect(redactor('date')('1985-07-14T12:30:00.000Z', row)).toBe('1985-01-01T00:00:00.000Z');
    expect(redactor('date')('0042-03-01T00:00:00Z', row)).toBe('0042-01-01T00:00:00.000Z'); // no 1900s shift
    expect(redactor('date')('2020-12-31T23:30:00-05:00', row)).toBe('2020-01-01T00:00:00.000Z');
    expect(redactor('date', {}, { length: 20 })('1985-07-14T12:30:00Z', row)).toBe('1985-01-01');
    expect(redactor('date', {}, { kind: 'date' })(null, row)).toBeNull();
  });
  it('drops what it cannot parse', () => {
    expect(redactor('date')('born in summer', row)).toBeNull();
    expect(redactor('date', {}, { nullable: false })('born in summer', row)).toBe('1970-01-01');
    expect(redactor('date', {}, { kind: 'date', nullable: false })(new Date(Number.NaN), row)).toEqual(new Date(0));
  });
});

describe('ip strategy', () => {
  it('zeroes the IPv4 host octet and keeps the IPv6 /48', () => {
    expect(redactor('ip')('192.168.1.77', row)).toBe('192.168.1.0');
    expect(redactor('ip')('2001:0db8:85a3:0000:0000:8a2e:0370:7334', row)).toBe('2001:db8:85a3::');
    expect(redactor('ip')('2001:db8::1', row)).toBe('2001:db8::');
    expect(redactor('ip')('fe80::1%eth0', row)).toBe('fe80::');
    expect(redactor('ip')('::ffff:192.168.1.77', row)).toBe('::ffff:192.168.1.0');
    expect(redactor('ip')('::ffff:c0a8:14d', row)).toBe('::ffff:c0a8:100'); // the same address in hex notation
    expect(redactor('ip')('2001:db8:0:1::1', row)).toBe('2001:db8::');
    expect(redactor('ip')(null, row)).toBeNull();
  });
  it('replaces what is not an address', () => {
    expect(redactor('ip')('not an ip', row)).toBeNull();
    expect(redactor('ip', {}, { nullable: false })('300.1.1.1', row)).toBe('0.0.0.0');
  });
});

describe('json strategy', () => {
  const doc = { email: 'jane@example.com', prefs: { theme: 'dark', contacts: [{ phone: '0612', label: 'home' }] } };
  const expected = { email: '[REDACTED]', prefs: { theme: 'dark', contacts: [{ phone: '[REDACTED]', label: 'home' }] } };

  it('redacts listed keys at any depth without touching the input', () => {
    const input = structuredClone(doc);
    expect(redactor('json', { keys: ['email', 'phone'] }, { kind: 'json' })(input, row)).toEqual(expected);
    expect(input).toEqual(doc);
  });
  it('answers a JSON string with a JSON string', () => {
    const out = redactor('json', { keys: ['email', 'phone'] }, { kind: 'text' })(JSON.stringify(doc), row);
    expect(typeof out).toBe('string');
    expect(JSON.parse(out as string)).toEqual(expected);
    expect(redactor('json', { keys: ['email'] }, { kind: 'text' })('not json: jane@example.com', row)).toBe('[REDACTED]');
    expect(redactor('json', { keys: ['email'] }, { kind: 'json' })(null, row)).toBeNull();
  });
});

describe('custom function', () => {
  it('receives the value and a context with entity, property, row, hmac and random', () => {
    let seen: RedactContext | undefined;
    const redact = createRedactor(
      (value, context) => {
        seen = context;
        return `${context.hmac(String(value)).slice(0, 8)}-${context.random(4)}`;
      },
      {},
      column(),
      { hmacKey: KEY },
      { entity: 'Contact', property: 'nickname' },
    );
    const out = redact('Janie', { id: 7, nickname: 'Janie' }) as string;
    const hmacOfJanie = (redactor('hmac')('Janie', row) as string).slice(0, 8);
    expect(out).toMatch(new RegExp(`^${hmacOfJanie}-[a-z0-9]{4}$`));
    expect(seen).toMatchObject({ entity: 'Contact', property: 'nickname', row: { id: 7, nickname: 'Janie' } });
  });
  it('is not called for null', () => {
    let calls = 0;
    const redact = redactor(() => ++calls);
    expect(redact(null, row)).toBeNull();
    expect(calls).toBe(0);
  });
});

describe('createRedactor', () => {
  it('refuses a rule that check() refuses, naming entity and field but no value', () => {
    const attempt = () => redactor('null', {}, { nullable: false });
    expect(attempt).toThrow(MetadataError);
    expect(attempt).toThrow("@Redact on Contact.field: strategy 'null' cannot be used: column is NOT NULL; choose another strategy");
  });
  it('refuses an unknown strategy and a short key', () => {
    expect(() => redactor('toString' as never)).toThrow("unknown redaction strategy 'toString'");
    expect(() => redactor('hmac', {}, {}, Buffer.alloc(16))).toThrow(ValidationError);
  });
});

describe('isIdentifying', () => {
  it('defaults to true for email, phone and name, and follows options.identifying', () => {
    expect(['email', 'phone', 'name'].map((s) => isIdentifying(s as 'email', {}))).toEqual([true, true, true]);
    expect(isIdentifying('text', {})).toBe(false);
    expect(isIdentifying(() => null, {})).toBe(false);
    expect(isIdentifying('hmac', { identifying: true })).toBe(true);
    expect(isIdentifying('email', { identifying: false })).toBe(false);
  });
});
