import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, jsCrc32 } from '../../src/export/crc32.js';

const native = (zlib as { crc32?: (data: Buffer, value?: number) => number }).crc32;

describe('crc32 (the export ZIP entries\' checksums)', () => {
  it('gives the published check value of "123456789", natively and in JavaScript', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(jsCrc32(Buffer.from('123456789'), 0)).toBe(0xcbf43926);
  });

  it('gives the same value whole and continued chunk by chunk, and the JavaScript fallback agrees', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ maxLength: 2048 }), (a, b) => {
        const first = Buffer.from(a);
        const second = Buffer.from(b);
        const whole = Buffer.concat([first, second]);
        expect(crc32(second, crc32(first))).toBe(crc32(whole));
        expect(jsCrc32(second, jsCrc32(first, 0))).toBe(crc32(whole));
        if (native) expect(crc32(whole)).toBe(native(whole));
      }),
    );
  });
});
