import zlib from 'node:zlib';

/**
 * CRC-32 (IEEE) with buffer-crc32's API, for the yazl copy bundled into dist: tsup.config.ts aliases
 * `buffer-crc32` to this module, so yazl's per-chunk CRC runs in zlib's native code (`zlib.crc32`, Node
 * 20.15+) instead of JavaScript, which was 9–11% of an export's CPU (docs/benchmarks.md). Hosts' own yazl
 * is untouched. Older Node 20 releases get the table-driven JavaScript form below.
 */

type Input = Buffer | string;

let table: Int32Array | undefined;

function jsCrc32(input: Input, previous: number): number {
  if (table === undefined) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  let crc = ~previous;
  for (let i = 0; i < buf.length; i++) crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Input, value?: number) => number }).crc32;

/** The CRC-32 of `input`, continuing from `previous` (the CRC of the bytes before it), as an unsigned integer. */
export const unsigned: (input: Input, previous?: number) => number =
  typeof nativeCrc32 === 'function' ? (input, previous = 0) => nativeCrc32(input, previous >>> 0) : (input, previous = 0) => jsCrc32(input, previous >>> 0);

/** The same as a signed 32-bit integer. */
export function signed(input: Input, previous?: number): number {
  return unsigned(input, previous) | 0;
}

/** The same as a 4-byte big-endian buffer (buffer-crc32's default export). */
function crc32(input: Input, previous?: Buffer | number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(unsigned(input, Buffer.isBuffer(previous) ? previous.readUInt32BE(0) : previous), 0);
  return out;
}
crc32.unsigned = unsigned;
crc32.signed = signed;

export default crc32;
/** For tests: the JavaScript fallback. */
export { jsCrc32 };
