import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toJsonValue } from '../../src/operations/export.js';

describe('toJsonValue', () => {
  it('writes every date exactly as Date.prototype.toISOString does', () => {
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true }), (date) => {
        expect(toJsonValue(date)).toBe(date.toISOString());
      }),
      { numRuns: 20_000 },
    );
    for (const edge of [0, -1, 951_782_400_000, 253_402_300_799_999, -62_167_219_200_000, 8.64e15]) {
      expect(toJsonValue(new Date(edge))).toBe(new Date(edge).toISOString());
    }
  });

  it('makes every value JSON-safe', () => {
    expect(toJsonValue(new Date(Number.NaN))).toBeNull();
    expect(toJsonValue(Buffer.from([0, 255]))).toBe('AP8=');
    expect(toJsonValue(12n)).toBe('12');
    expect(toJsonValue(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(toJsonValue({ at: new Date(0), list: [1, 'a', null], nested: { b: true } })).toEqual({ at: '1970-01-01T00:00:00.000Z', list: [1, 'a', null], nested: { b: true } });
    expect(toJsonValue(undefined)).toBeNull();
  });
});
