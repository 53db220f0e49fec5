import fc from 'fast-check';
import { BlockList, isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { RedactStrategyName } from '../../src/metadata/declarations.js';
import { checkRedactRule } from '../../src/redaction/index.js';
import { column, redactor } from './helpers.js';

const row = {};

describe('json strategy (property)', () => {
  // Values under listed keys all contain SECRET; nothing else can, so any SECRET in the output is a leak.
  const secretText = fc.string().map((s) => `SECRET${s}`);
  const secret = fc.oneof(secretText, fc.array(secretText, { minLength: 1, maxLength: 3 }), fc.record({ inner: secretText }));
  const { tree } = fc.letrec<{ tree: unknown; leaf: unknown; list: unknown[]; object: Record<string, unknown> }>((tie) => ({
    tree: fc.oneof({ maxDepth: 4, depthIdentifier: 'json' }, tie('leaf'), tie('list'), tie('object')),
    leaf: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string().filter((s) => !s.includes('SECRET'))),
    list: fc.array(tie('tree'), { maxLength: 4, depthIdentifier: 'json' }),
    object: fc
      .tuple(fc.dictionary(fc.constantFrom('note', 'Email', 'items', '__proto__'), tie('tree'), { maxKeys: 4, depthIdentifier: 'json' }), fc.option(secret), fc.option(secret))
      .map(([rest, email, phone]) => Object.fromEntries([...Object.entries(rest), ...(email === null ? [] : [['email', email]]), ...(phone === null ? [] : [['phone', phone]])])),
  }));
  const options = { keys: ['email', 'phone'] };

  it('never leaves a listed key’s value in the output, and never mutates the input', () => {
    fc.assert(
      fc.property(tree, (doc) => {
        const before = JSON.stringify(doc);
        const fromObject = redactor('json', options, { kind: 'json' })(doc, row);
        const fromString = redactor('json', options, { kind: 'text' })(before, row);
        expect(JSON.stringify(fromObject)).not.toContain('SECRET');
        expect(typeof fromString).toBe('string');
        expect(fromString).not.toContain('SECRET');
        expect(JSON.stringify(doc)).toBe(before);
      }),
    );
  });
});

describe('ip strategy (property)', () => {
  it('zeroes the last IPv4 octet', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const octets = ip.split('.');
        const out = redactor('ip')(ip, row) as string;
        expect(out).toBe(`${octets.slice(0, 3).join('.')}.0`);
        if (octets[3] !== '0') expect(out.split('.')[3]).not.toBe(octets[3]);
      }),
    );
  });

  it('answers the network address of the input’s /48, no longer than the input', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const out = redactor('ip')(ip, row) as string;
        const site = new BlockList();
        site.addSubnet(ip, 48, 'ipv6');
        expect(isIPv6(out)).toBe(true);
        expect(site.check(out, 'ipv6')).toBe(true);
        if (!out.startsWith('::ffff:')) expect(out.endsWith('::')).toBe(true); // the last 80 bits are zero
        expect(out.length).toBeLessThanOrEqual(ip.length);
      }),
    );
  });
});

describe('date strategy (property)', () => {
  const dates = fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });

  it('keeps the year, whatever form the date comes in', () => {
    fc.assert(
      fc.property(dates, (date) => {
        const year = date.getUTCFullYear();
        const iso = date.toISOString();
        const asDate = redactor('date', {}, { kind: 'date' })(date, row) as Date;
        expect(asDate.getUTCFullYear()).toBe(year);
        expect(asDate.toISOString().slice(4)).toBe('-01-01T00:00:00.000Z');
        expect(redactor('date')(iso, row)).toBe(`${iso.slice(0, 4)}-01-01T00:00:00.000Z`);
        expect(redactor('date', {}, { kind: 'date' })(iso.slice(0, 10), row)).toBe(`${iso.slice(0, 4)}-01-01`);
      }),
    );
  });
});

describe('string strategies (property)', () => {
  // An input that could sit in the column: for ip and date the input's own form matters.
  const inputs: Record<Exclude<RedactStrategyName, 'null'>, fc.Arbitrary<string>> = {
    fixed: fc.string({ maxLength: 5 }),
    email: fc.constant('jane@example.com'),
    phone: fc.constant('+33612345678'),
    name: fc.constant('Jane'),
    text: fc.string({ maxLength: 5 }),
    hash: fc.string({ maxLength: 5 }),
    hmac: fc.string({ maxLength: 5 }),
    date: fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).chain((d) => fc.constantFrom(d.toISOString(), d.toISOString().slice(0, 10))),
    ip: fc.oneof(fc.ipV4(), fc.ipV6()),
    json: fc.constant('{"email":"j@x.io"}'),
  };
  const cases = fc
    .constantFrom(...(Object.keys(inputs) as (keyof typeof inputs)[]))
    .chain((strategy) => fc.record({
      strategy: fc.constant(strategy),
      input: inputs[strategy],
      extra: fc.integer({ min: -70, max: 70 }),
      unique: fc.boolean(),
      nullable: fc.boolean(),
      kind: fc.constantFrom('string' as const, 'text' as const),
    }));

  it('respect the column length, or check() refuses the rule', () => {
    let fitted = 0;
    fc.assert(
      fc.property(cases, ({ strategy, input, extra, unique, nullable, kind }) => {
        // A column never holds a value longer than itself, so the length is at least the input's.
        const facts = { kind, unique, nullable, length: Math.max(input.length, input.length + extra) };
        const options = strategy === 'json' ? { keys: ['email'] } : {};
        const problems = checkRedactRule(strategy, options, column(facts));
        if (problems.length > 0) {
          expect(problems.every((p) => p.startsWith(`strategy '${strategy}'`))).toBe(true);
          return;
        }
        fitted++;
        const out = redactor(strategy, options, facts)(input, row);
        if (out === null) expect(nullable).toBe(true);
        else expect((out as string).length).toBeLessThanOrEqual(facts.length);
      }),
      { numRuns: 2000 },
    );
    expect(fitted).toBeGreaterThan(100);
  });
});
