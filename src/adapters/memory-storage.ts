import { Readable } from 'node:stream';
import { AdapterError, NotFoundError } from '../errors.js';
import type { StoragePort } from '../ports/storage.js';

/**
 * Keeps objects in memory: for tests and short-lived scripts. A put collects the whole body before it
 * replaces the object, so readers see the old object or the new one, never a half-written one.
 */
export function createMemoryStorage(): StoragePort {
  const objects = new Map<string, Buffer>();
  return {
    name: 'memory',
    async put(key, body) {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of body) chunks.push(Buffer.from(chunk));
      } catch (cause) {
        throw new AdapterError('memory', `Could not write storage object ${key}`, cause);
      }
      const data = Buffer.concat(chunks);
      objects.set(key, data);
      return { key, size: data.length };
    },
    async get(key): Promise<Readable> {
      const data = objects.get(key);
      if (!data) throw new NotFoundError(`Storage object ${key} does not exist`, { key });
      // Served in 64 KiB slices so consumers see a stream, as they would from a file or S3.
      const slices: Buffer[] = [];
      for (let offset = 0; offset < data.length; offset += 65_536) slices.push(data.subarray(offset, offset + 65_536));
      return Readable.from(slices, { objectMode: false });
    },
    async stat(key) {
      const data = objects.get(key);
      return data ? { key, size: data.length } : null;
    },
    async delete(key) {
      objects.delete(key);
    },
    async close() {
      objects.clear();
    },
  };
}
