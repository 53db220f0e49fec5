import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import crc32, { jsCrc32, signed, unsigned } from '../../src/export/crc32.js';

// yazl's own dependency, as yazl require()s it.
const bufferCrc32 = createRequire(createRequire(import.meta.url).resolve('yazl'))('buffer-crc32') as {
  (input: Buffer, previous?: Buffer): Buffer;
  unsigned(input: Buffer): number;
  signed(input: Buffer): number;
};

// dist's yazl uses src/export/crc32.ts in place of buffer-crc32 (tsup.config.ts): it must compute the same values.
describe('crc32 (the bundled yazl\'s buffer-crc32)', () => {
  it('matches buffer-crc32 on any bytes, whole and continued chunk by chunk', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.uint8Array({ maxLength: 2048 }), (a, b) => {
        const first = Buffer.from(a);
        const second = Buffer.from(b);
        const whole = Buffer.concat([first, second]);
        expect(unsigned(whole)).toBe(bufferCrc32.unsigned(whole));
        expect(unsigned(second, unsigned(first))).toBe(bufferCrc32.unsigned(whole));
        expect(jsCrc32(second, jsCrc32(first, 0))).toBe(bufferCrc32.unsigned(whole));
        expect(signed(whole)).toBe(bufferCrc32.signed(whole));
        expect(crc32(second, crc32(first))).toEqual(bufferCrc32(whole));
      }),
    );
  });

  it('gives the published check value of "123456789"', () => {
    expect(unsigned(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(jsCrc32(Buffer.from('123456789'), 0)).toBe(0xcbf43926);
  });
});
