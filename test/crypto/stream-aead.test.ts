import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createSecretKeys } from '../../src/adapters/secret-keys.js';
import { createDecryptStream, createEncryptStream, DEFAULT_SEGMENT_SIZE } from '../../src/crypto/stream-aead.js';
import { IntegrityError } from '../../src/errors.js';

const keys = createSecretKeys({ secret: 'a test secret that is long enough, 1234567890' });
const otherKeys = createSecretKeys({ secret: 'another secret, also long enough, 0987654321' });
const context = 'export:req-1';
const SEG = DEFAULT_SEGMENT_SIZE;
const SEALED = SEG + 16;

function payload(size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) % 256;
  return data;
}

/** Feeds `data` in uneven chunks, so segment boundaries never line up with chunk boundaries. */
function chunked(data: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0, step = 1; offset < data.length; offset += step, step = (step * 7 + 13) % 100_003) chunks.push(data.subarray(offset, offset + step));
  return Readable.from(chunks);
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function encrypt(data: Buffer, withKeys = keys): Promise<Buffer> {
  return collect(chunked(data).pipe(createEncryptStream({ keys: withKeys, context })));
}

/** Decrypts, recording what was released before any error. */
async function decrypt(sealed: Buffer, withKeys = keys, withContext = context): Promise<{ plaintext: Buffer; error?: any }> {
  const released: Buffer[] = [];
  try {
    await pipeline(chunked(sealed), createDecryptStream({ keys: withKeys, context: withContext }), new Writable({ write: (chunk, _e, cb) => (released.push(chunk), cb()) }));
    return { plaintext: Buffer.concat(released) };
  } catch (error) {
    return { plaintext: Buffer.concat(released), error };
  }
}

function headerLength(sealed: Buffer): number {
  return 11 + sealed.readUInt16BE(9);
}

describe('streaming AEAD encryption at rest', () => {
  for (const size of [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 5 * 1024 * 1024 + 3]) {
    it(`round-trips ${size} bytes, with one final segment sized to the remainder`, async () => {
      const data = payload(size);
      const sealed = await encrypt(data);
      const segments = Math.max(1, Math.ceil(size / SEG));
      expect(sealed.length).toBe(headerLength(sealed) + size + segments * 16);
      const { plaintext, error } = await decrypt(sealed);
      expect(error).toBeUndefined();
      expect(plaintext.equals(data)).toBe(true);
    });
  }

  it('never stores the plaintext, and two encryptions of the same bytes differ (fresh data key)', async () => {
    const data = Buffer.from('name=Alice Example; email=alice@example.com; '.repeat(2000));
    const [a, b] = [await encrypt(data), await encrypt(data)];
    expect(a.includes(Buffer.from('alice@example.com'))).toBe(false);
    expect(a.subarray(headerLength(a)).equals(b.subarray(headerLength(b)))).toBe(false);
  });

  it('fails with IntegrityError on one flipped byte in any segment (or the header), releasing only segments before it', async () => {
    const data = payload(4 * SEG + 100);
    const sealed = await encrypt(data);
    const start = headerLength(sealed);
    const positions = [5, 9, start - 1, ...[0, 1, 2, 3, 4].flatMap((segment) => [start + segment * SEALED, start + segment * SEALED + 500])].filter((p) => p < sealed.length);
    positions.push(sealed.length - 1); // the last tag byte
    for (const position of positions) {
      const tampered = Buffer.from(sealed);
      tampered[position] ^= 0x01;
      const { plaintext, error } = await decrypt(tampered);
      expect(error?.code, `byte ${position}`).toMatch(/^(INTEGRITY|ADAPTER)$/);
      // Whatever came out before the error is a whole, authenticated prefix of segments.
      expect(plaintext.length % SEG).toBe(0);
      expect(plaintext.equals(data.subarray(0, plaintext.length))).toBe(true);
      if (position >= start) {
        const segment = Math.floor((position - start) / SEALED);
        expect(error).toBeInstanceOf(IntegrityError);
        expect(error.details.segment).toBe(segment);
        expect(plaintext.length).toBe(segment * SEG);
      }
    }
  });

  it('fails when truncated at every segment boundary, and inside the header or a segment', async () => {
    const data = payload(3 * SEG + 10);
    const sealed = await encrypt(data);
    const start = headerLength(sealed);
    const cuts = [0, 3, 10, start - 1, start, start + 15, start + 16];
    for (let segment = 1; segment <= 3; segment++) cuts.push(start + segment * SEALED, start + segment * SEALED - 1, start + segment * SEALED + 1);
    cuts.push(sealed.length - 1);
    for (const cut of cuts) {
      const { plaintext, error } = await decrypt(sealed.subarray(0, cut));
      expect(error, `cut at ${cut}`).toBeInstanceOf(IntegrityError);
      expect(plaintext.length < data.length).toBe(true);
      expect(plaintext.equals(data.subarray(0, plaintext.length))).toBe(true);
    }
  });

  it('fails when two segments are swapped or one is duplicated', async () => {
    const data = payload(4 * SEG + 10);
    const sealed = await encrypt(data);
    const start = headerLength(sealed);
    const segment = (i: number) => sealed.subarray(start + i * SEALED, start + (i + 1) * SEALED);
    const header = sealed.subarray(0, start);
    const last = sealed.subarray(start + 4 * SEALED);
    const swapped = Buffer.concat([header, segment(0), segment(2), segment(1), segment(3), last]);
    const duplicated = Buffer.concat([header, segment(0), segment(0), segment(1), segment(2), segment(3), last]);
    const lastMovedUp = Buffer.concat([header, segment(0), last]);
    for (const [name, file] of Object.entries({ swapped, duplicated, lastMovedUp })) {
      const { plaintext, error } = await decrypt(file);
      expect(error, name).toBeInstanceOf(IntegrityError);
      expect(plaintext.length, name).toBe(SEG);
    }
  });

  it('refuses segments spliced from another file encrypted under the same keys', async () => {
    const a = await encrypt(payload(2 * SEG + 1));
    const b = await encrypt(payload(2 * SEG + 1));
    const spliced = Buffer.concat([a.subarray(0, headerLength(a)), b.subarray(headerLength(b))]);
    expect((await decrypt(spliced)).error).toBeInstanceOf(IntegrityError);
  });

  it('fails with a typed error and no plaintext under the wrong keys or the wrong context', async () => {
    const sealed = await encrypt(payload(SEG * 2));
    for (const attempt of [await decrypt(sealed, otherKeys), await decrypt(sealed, keys, 'export:req-2')]) {
      expect(attempt.error?.code).toBe('ADAPTER');
      expect(attempt.plaintext.length).toBe(0);
    }
  });

  it('rejects data that is not in the format', async () => {
    const { error } = await decrypt(Buffer.from('PK\u0003\u0004 a plain zip file, not encrypted'));
    expect(error).toBeInstanceOf(IntegrityError);
  });

  it('streams 256 MiB through encryption and decryption without holding it: output flows from the first MiB, memory stays below half the data', async () => {
    const total = 256 * 1024 * 1024;
    const chunk = payload(1024 * 1024);
    let sent = 0;
    let sentBeforeFirstOutput = -1;
    let largestOutput = 0;
    const source = new Readable({
      read() {
        if (sent >= total) return void this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const hash = createHash('sha256');
    let peak = 0;
    const baseline = process.memoryUsage().rss;
    await pipeline(
      source,
      createEncryptStream({ keys, context }),
      createDecryptStream({ keys, context }),
      new Writable({
        write(data, _e, cb) {
          if (sentBeforeFirstOutput < 0) sentBeforeFirstOutput = sent;
          largestOutput = Math.max(largestOutput, data.length);
          hash.update(data);
          peak = Math.max(peak, process.memoryUsage().rss - baseline);
          cb();
        },
      }),
    );
    const expected = createHash('sha256');
    for (let i = 0; i < 256; i++) expected.update(chunk);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    expect(sentBeforeFirstOutput <= 2 * 1024 * 1024).toBe(true);
    expect(largestOutput).toBe(SEG);
    // RSS also holds garbage the collector has not reclaimed yet; the bound only shows the data is never held whole.
    expect(peak < total / 2).toBe(true);
  });
});
