import zlib from 'node:zlib';

/**
 * CRC-32 (IEEE) of the export ZIP's entries: zlib's native `zlib.crc32` (Node 20.15+), or on older Node 20
 * releases the table-driven JavaScript form below (a CRC in JavaScript was 9–11% of an export's CPU,
 * docs/benchmarks.md).
 */

let table: Int32Array | undefined;

function jsCrc32(input: Buffer, previous: number): number {
  if (table === undefined) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let crc = ~previous;
  for (let i = 0; i < input.length; i++) crc = table[(crc ^ input[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Buffer, value?: number) => number }).crc32;

/** The CRC-32 of `input`, continuing from `previous` (the CRC of the bytes before it), as an unsigned integer. */
export const crc32: (input: Buffer, previous?: number) => number =
  typeof nativeCrc32 === 'function' ? (input, previous = 0) => nativeCrc32(input, previous >>> 0) : (input, previous = 0) => jsCrc32(input, previous >>> 0);

/** For tests: the JavaScript fallback. */
export { jsCrc32 };
