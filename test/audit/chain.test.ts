import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, canonicalJson, hashRecord, keyedSubjectHash, sealRecord } from '../../src/audit/chain.js';

describe('audit chain hashing', () => {
  it('hashes a fixed entry to a fixed value (changing the canonical form breaks every stored chain)', () => {
    const record = sealRecord(null, {
      at: new Date('2026-01-01T00:00:00.000Z'),
      tenantId: 'org-1',
      actorId: 'admin-1',
      action: 'request.submitted',
      requestId: 'req-1',
      subject: { type: 'Contact', id: '42', keyedHash: 'ab'.repeat(32) },
      details: { type: 'export', regulation: 'gdpr' },
    });
    expect(record.prevHash).toBe(GENESIS_HASH);
    expect(record.seq).toBe(1);
    expect(canonicalJson({ b: 1, a: { d: [1, { f: null, e: 'x' }], c: undefined } })).toBe('{"a":{"d":[1,{"e":"x","f":null}]},"b":1}');
    expect(record.hash).toBe(hashRecord(GENESIS_HASH, record));
    expect(record.hash).toBe('5d42f46bdd4b8f633461d2dcb9cb45958070b470f0da8ac23118de85b9bf9f4a');
  });

  it('gives the same hash whatever the key order of details, and a different one for any other value', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null))), fc.string({ minLength: 1 }), (details, other) => {
        const entry = { seq: 1, at: new Date(0), tenantId: 't', actorId: 'a', action: 'x', details };
        const reversed = Object.fromEntries(Object.entries(details).reverse());
        expect(hashRecord(GENESIS_HASH, { ...entry, details: reversed })).toBe(hashRecord(GENESIS_HASH, entry));
        fc.pre(!(other in details) || details[other] !== 'changed');
        expect(hashRecord(GENESIS_HASH, { ...entry, details: { ...details, [other]: 'changed' } })).not.toBe(hashRecord(GENESIS_HASH, entry));
      }),
    );
  });

  it('keyed subject hashes are stable under one key, differ across keys, and do not contain the value', () => {
    const key = Buffer.alloc(32, 3);
    const hash = keyedSubjectHash(key, 'alice@example.com');
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(keyedSubjectHash(key, 'alice@example.com')).toBe(hash);
    expect(keyedSubjectHash(Buffer.alloc(32, 4), 'alice@example.com')).not.toBe(hash);
    expect(keyedSubjectHash(key, 'bob@example.com')).not.toBe(hash);
  });
});
