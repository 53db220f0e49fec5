import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { StoragePort } from '../ports/storage.js';

/** The parts of a test runner the suites need (vitest, jest and node:test all fit). */
export interface ConformanceRunner {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>): void;
  expect: (value: unknown) => { toBe(expected: unknown): void; toEqual(expected: unknown): void };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Deterministic bytes, different per seed, produced lazily: large bodies never sit in memory whole. */
function* pattern(size: number, seed: number, chunkSize = 256 * 1024): Generator<Buffer> {
  for (let offset = 0; offset < size; offset += chunkSize) {
    const chunk = Buffer.alloc(Math.min(chunkSize, size - offset));
    for (let i = 0; i < chunk.length; i++) chunk[i] = (offset + i + seed * 7) % 251;
    yield chunk;
  }
}

function bytes(size: number, seed: number): Buffer {
  return Buffer.concat([...pattern(size, seed)]);
}

async function digest(stream: AsyncIterable<Buffer | Uint8Array | string>): Promise<{ sha256: string; size: number; chunks: number }> {
  const hash = createHash('sha256');
  let size = 0;
  let chunks = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.from(chunk);
    hash.update(buffer);
    size += buffer.length;
    chunks++;
  }
  return { sha256: hash.digest('hex'), size, chunks };
}

/** A body that sends `head`, then waits for `release()` before sending `tail` (or failing). */
function gatedBody(head: Buffer, tail: Buffer): { body: Readable; release(): void; fail(): void } {
  let open!: (ok: boolean) => void;
  const gate = new Promise<boolean>((resolve) => (open = resolve));
  async function* produce() {
    yield head;
    if (!(await gate)) throw new Error('source broke');
    yield tail;
  }
  return { body: Readable.from(produce()), release: () => open(true), fail: () => open(false) };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: unknown }).code;
  }
}

/**
 * Every StoragePort must pass this: round trip, overwrite, stat, delete, missing objects, streaming of large
 * objects, atomic replacement (a reader sees the old object or the new one, never part of one), and concurrent
 * writers. `createStorage` is called once per test; give each call an empty place (folder, bucket prefix).
 */
export interface StorageConformanceOptions {
  /**
   * Checks the backend under test cannot pass although the real service does, each with the reason (e.g. an
   * emulator that writes objects in place). Such a check is not registered; say why where you call the suite.
   */
  backendLimits?: { sameKeyRace?: string };
}

export function storageConformance(
  name: string,
  createStorage: () => Promise<StoragePort> | StoragePort,
  { describe, it, expect }: ConformanceRunner,
  options: StorageConformanceOptions = {},
): void {
  describe(`StoragePort conformance: ${name}`, () => {
    it('stores and reads back bytes exactly', async () => {
      const storage = await createStorage();
      const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
      const info = await storage.put('exports/a.zip', Readable.from([body.subarray(0, 1000), body.subarray(1000)]));
      expect(info.size).toBe(body.length);
      expect((await readAll(await storage.get('exports/a.zip'))).equals(body)).toBe(true);
      await storage.close?.();
    });
    it('stores an empty object', async () => {
      const storage = await createStorage();
      expect((await storage.put('exports/empty.zip', Readable.from([]))).size).toBe(0);
      expect(await storage.stat('exports/empty.zip')).toEqual({ key: 'exports/empty.zip', size: 0 });
      expect((await readAll(await storage.get('exports/empty.zip'))).length).toBe(0);
      await storage.close?.();
    });
    it('replaces an object on a second put and reports its size', async () => {
      const storage = await createStorage();
      await storage.put('exports/b.zip', Readable.from([Buffer.from('first version')]));
      await storage.put('exports/b.zip', Readable.from([Buffer.from('second')]));
      expect((await readAll(await storage.get('exports/b.zip'))).toString()).toBe('second');
      expect(await storage.stat('exports/b.zip')).toEqual({ key: 'exports/b.zip', size: 6 });
      await storage.close?.();
    });
    it('deletes objects, and deleting a missing object is not an error', async () => {
      const storage = await createStorage();
      await storage.put('exports/c.zip', Readable.from([Buffer.from('x')]));
      await storage.delete('exports/c.zip');
      await storage.delete('exports/c.zip');
      expect(await storage.stat('exports/c.zip')).toBe(null);
      await storage.close?.();
    });
    it('rejects get of a missing object with a NOT_FOUND error, and stat of it is null', async () => {
      const storage = await createStorage();
      expect(await codeOf(storage.get('exports/missing.zip'))).toBe('NOT_FOUND');
      expect(await storage.stat('exports/missing.zip')).toBe(null);
      // A key that is only the prefix of a stored one is missing too.
      await storage.put('exports/present.zip', Readable.from([Buffer.from('x')]));
      expect(await codeOf(storage.get('exports/present'))).toBe('NOT_FOUND');
      await storage.close?.();
    });
    it('streams a large object (12 MiB) in and out in several chunks, byte for byte', async () => {
      const storage = await createStorage();
      const size = 12 * 1024 * 1024 + 13;
      const expected = await digest(Readable.from(pattern(size, 1)));
      const info = await storage.put('exports/large.zip', Readable.from(pattern(size, 1)));
      expect(info.size).toBe(size);
      const read = await digest(await storage.get('exports/large.zip'));
      expect({ sha256: read.sha256, size: read.size }).toEqual({ sha256: expected.sha256, size });
      // A stream, not one buffer: the object arrives in more than one chunk.
      expect(read.chunks > 1).toBe(true);
      await storage.close?.();
    });
    it('never shows a half-written object: while a put is under way, readers see the previous object or nothing', async () => {
      const storage = await createStorage();
      const fresh = gatedBody(bytes(100_000, 2), bytes(100_000, 3));
      const writing = storage.put('exports/new.zip', fresh.body);
      await tick();
      expect(await storage.stat('exports/new.zip')).toBe(null);
      expect(await codeOf(storage.get('exports/new.zip'))).toBe('NOT_FOUND');
      fresh.release();
      await writing;
      expect((await readAll(await storage.get('exports/new.zip'))).equals(Buffer.concat([bytes(100_000, 2), bytes(100_000, 3)]))).toBe(true);

      const old = bytes(50_000, 4);
      await storage.put('exports/replaced.zip', Readable.from([old]));
      const replacing = gatedBody(bytes(100_000, 5), bytes(100_000, 6));
      const replacement = storage.put('exports/replaced.zip', replacing.body);
      await tick();
      expect(await storage.stat('exports/replaced.zip')).toEqual({ key: 'exports/replaced.zip', size: old.length });
      expect((await readAll(await storage.get('exports/replaced.zip'))).equals(old)).toBe(true);
      replacing.release();
      await replacement;
      expect((await storage.stat('exports/replaced.zip'))?.size).toBe(200_000);
      await storage.close?.();
    });
    it('keeps the previous object, and creates none, when the body fails half way', async () => {
      const storage = await createStorage();
      const old = bytes(30_000, 7);
      await storage.put('exports/kept.zip', Readable.from([old]));
      const broken = gatedBody(bytes(100_000, 8), bytes(10, 9));
      const writing = storage.put('exports/kept.zip', broken.body);
      await tick();
      broken.fail();
      expect(await codeOf(writing)).toBe('ADAPTER');
      expect((await readAll(await storage.get('exports/kept.zip'))).equals(old)).toBe(true);

      const other = gatedBody(bytes(100_000, 10), bytes(10, 11));
      const creating = storage.put('exports/never.zip', other.body);
      await tick();
      other.fail();
      expect(await codeOf(creating)).toBe('ADAPTER');
      expect(await storage.stat('exports/never.zip')).toBe(null);
      await storage.close?.();
    });
    it('serves concurrent writers of different keys, each object intact', async () => {
      const storage = await createStorage();
      const keys = Array.from({ length: 8 }, (_, i) => `exports/parallel-${i}.zip`);
      await Promise.all(keys.map((key, i) => storage.put(key, Readable.from(pattern(300_000 + i, 20 + i, 16_384)))));
      for (const [i, key] of keys.entries()) {
        expect((await readAll(await storage.get(key))).equals(bytes(300_000 + i, 20 + i))).toBe(true);
      }
      await storage.close?.();
    });
    if (!options.backendLimits?.sameKeyRace) it('leaves exactly one whole version when concurrent writers race on one key', async () => {
      const storage = await createStorage();
      const versions = Array.from({ length: 5 }, (_, i) => bytes(200_000 + i * 1000, 40 + i));
      const infos = await Promise.all(versions.map((_, i) => storage.put('exports/contended.zip', Readable.from(pattern(200_000 + i * 1000, 40 + i, 16_384)))));
      expect(infos.map((info) => info.size)).toEqual(versions.map((version) => version.length));
      const stored = await readAll(await storage.get('exports/contended.zip'));
      expect(versions.filter((version) => version.equals(stored)).length).toBe(1);
      expect((await storage.stat('exports/contended.zip'))?.size).toBe(stored.length);
      await storage.close?.();
    });
  });
}
