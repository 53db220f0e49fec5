import { describe, expect, it } from 'vitest';
import type { RedactOptions, RedactStrategyName } from '../../src/metadata/declarations.js';
import { checkRedactRule, type ColumnFacts } from '../../src/redaction/index.js';
import { column } from './helpers.js';

function check(strategy: RedactStrategyName, options: RedactOptions, facts: Partial<ColumnFacts>): string[] {
  return checkRedactRule(strategy, options, column(facts));
}

describe('checkRedactRule accepts rules that fit', () => {
  it.each<[RedactStrategyName, RedactOptions, Partial<ColumnFacts>]>([
    ['null', {}, {}],
    ['fixed', {}, { length: 10 }],
    ['fixed', { value: 0 }, { kind: 'integer', nullable: false }],
    ['fixed', { value: '0.00' }, { kind: 'decimal' }],
    ['fixed', { value: new Date(0) }, { kind: 'date' }],
    ['fixed', { value: {} }, { kind: 'json' }],
    ['email', {}, { unique: true, nullable: false, length: 42 }],
    ['phone', {}, { unique: true, length: 10 }],
    ['name', {}, { unique: true, length: 8 }],
    ['text', {}, { kind: 'text' }],
    ['hash', {}, { unique: true, length: 64 }],
    ['hmac', {}, { length: 16 }],
    ['date', {}, { kind: 'date', nullable: false }],
    ['ip', {}, { length: 45 }],
    ['json', { keys: ['email'] }, { kind: 'json' }],
  ])('%s %j on %j', (strategy, options, facts) => {
    expect(check(strategy, options, facts)).toEqual([]);
  });

  it('does not check custom functions', () => {
    expect(checkRedactRule(() => 1, {}, column({ kind: 'binary', unique: true, nullable: false }))).toEqual([]);
  });
});

describe('checkRedactRule refuses, with a short PII-free message', () => {
  it.each<[RedactStrategyName, RedactOptions, Partial<ColumnFacts>, string]>([
    ['null', {}, { nullable: false }, "strategy 'null' cannot be used: column is NOT NULL; choose another strategy"],
    ['fixed', {}, { unique: true }, "strategy 'fixed' cannot keep a unique column unique"],
    ['fixed', {}, { length: 5 }, "strategy 'fixed' value has 10 characters but column length is 5"],
    ['fixed', { value: 0 }, { kind: 'string' }, "strategy 'fixed' needs a string value for column kind 'string'"],
    ['fixed', {}, { kind: 'integer' }, "strategy 'fixed' produces text but column is integer"],
    ['fixed', { value: 1.5 }, { kind: 'integer' }, "strategy 'fixed' needs an integer value for column kind 'integer'"],
    ['fixed', { value: 'abc' }, { kind: 'decimal' }, "strategy 'fixed' needs a numeric value for column kind 'decimal'"],
    ['fixed', { value: 'no' }, { kind: 'boolean' }, "strategy 'fixed' needs a boolean value for column kind 'boolean'"],
    ['fixed', { value: 'someday' }, { kind: 'date' }, "strategy 'fixed' needs a Date value for column kind 'date'"],
    ['fixed', { value: 'x' }, { kind: 'binary' }, "strategy 'fixed' needs a Buffer value for column kind 'binary'"],
    ['fixed', {}, { kind: 'json' }, "strategy 'fixed' produces text but column is json"],
    ['email', {}, { length: 20 }, "strategy 'email' needs at least 42 characters but column length is 20"],
    ['email', {}, { kind: 'integer' }, "strategy 'email' produces text but column is integer"],
    ['phone', {}, { kind: 'decimal' }, "strategy 'phone' produces text but column is decimal"],
    ['phone', {}, { unique: true, length: 9 }, "strategy 'phone' needs at least 10 characters to stay unique but column length is 9"],
    ['name', {}, { kind: 'boolean' }, "strategy 'name' produces text but column is boolean"],
    ['name', {}, { unique: true, length: 7 }, "strategy 'name' needs at least 8 characters to stay unique but column length is 7"],
    ['text', {}, { kind: 'binary' }, "strategy 'text' produces text but column is binary"],
    ['text', {}, { unique: true, length: 9 }, "strategy 'text' needs at least 10 characters to stay unique but column length is 9"],
    ['hash', {}, { kind: 'date' }, "strategy 'hash' produces text but column is date"],
    ['hash', {}, { unique: true, length: 31 }, "strategy 'hash' needs at least 32 characters to stay unique but column length is 31"],
    ['hmac', {}, { kind: 'other' }, "strategy 'hmac' produces text but column is other"],
    ['hmac', {}, { length: 15 }, "strategy 'hmac' needs at least 16 characters but column length is 15"],
    ['hmac', {}, { unique: true, length: 31 }, "strategy 'hmac' needs at least 32 characters to stay unique but column length is 31"],
    ['date', {}, { kind: 'integer' }, "strategy 'date' needs a date or text column but column is integer"],
    ['date', {}, { kind: 'date', unique: true }, "strategy 'date' cannot keep a unique column unique"],
    ['date', {}, { length: 8 }, "strategy 'date' needs at least 10 characters but column length is 8"],
    ['ip', {}, { kind: 'binary' }, "strategy 'ip' needs a text column but column is binary"],
    ['ip', {}, { unique: true }, "strategy 'ip' cannot keep a unique column unique"],
    ['ip', {}, { length: 6 }, "strategy 'ip' needs at least 7 characters but column length is 6"],
    ['json', {}, { kind: 'json' }, "strategy 'json' needs options.keys, a non-empty list of key names"],
    ['json', { keys: [] }, { kind: 'json' }, "strategy 'json' needs options.keys, a non-empty list of key names"],
    ['json', { keys: ['email'] }, { kind: 'integer' }, "strategy 'json' needs a json or text column but column is integer"],
    ['json', { keys: ['email'] }, { length: 255 }, "strategy 'json' can lengthen documents but column length is 255"],
    ['json', { keys: ['email'] }, { kind: 'json', unique: true }, "strategy 'json' cannot keep a unique column unique"],
  ])('%s %j on %j', (strategy, options, facts, message) => {
    expect(check(strategy, options, facts)).toEqual([message]);
  });

  it('reports every problem of a rule at once', () => {
    expect(check('fixed', {}, { kind: 'string', unique: true, length: 3 })).toEqual([
      "strategy 'fixed' cannot keep a unique column unique",
      "strategy 'fixed' value has 10 characters but column length is 3",
    ]);
  });

  it('refuses an unknown strategy name', () => {
    expect(check('scramble' as RedactStrategyName, {}, {})).toEqual(["unknown redaction strategy 'scramble'"]);
  });
});
