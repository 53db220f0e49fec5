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

/** Every StoragePort must pass this: round trip, overwrite, stat, delete, missing objects. */
export function storageConformance(name: string, createStorage: () => Promise<StoragePort> | StoragePort, { describe, it, expect }: ConformanceRunner): void {
  describe(`StoragePort conformance: ${name}`, () => {
    it('stores and reads back bytes exactly', async () => {
      const storage = await createStorage();
      const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
      const info = await storage.put('exports/a.zip', Readable.from([body.subarray(0, 1000), body.subarray(1000)]));
      expect(info.size).toBe(body.length);
      expect((await readAll(await storage.get('exports/a.zip'))).equals(body)).toBe(true);
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
    it('rejects get of a missing object with a NOT_FOUND error', async () => {
      const storage = await createStorage();
      let code: unknown;
      try {
        await storage.get('exports/missing.zip');
      } catch (error) {
        code = (error as { code?: unknown }).code;
      }
      expect(code).toBe('NOT_FOUND');
      await storage.close?.();
    });
  });
}
