import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AdapterError, NotFoundError, ValidationError } from '../errors.js';
import type { StoragePort } from '../ports/storage.js';

export interface LocalStorageOptions {
  /** Folder for stored objects; created when missing. Defaults to `.privacy-engine/storage` under the working directory. */
  directory?: string;
}

/** Stores objects as files. Writes go to a temporary name first, so a crash never leaves a half-written archive under its key. */
export function createLocalStorage(options: LocalStorageOptions = {}): StoragePort {
  const root = path.resolve(options.directory ?? path.join(process.cwd(), '.privacy-engine', 'storage'));

  const fileFor = (key: string): string => {
    const file = path.resolve(root, key);
    if (!file.startsWith(root + path.sep) || key.includes('\0')) {
      throw new ValidationError('storage key must be a relative path inside the storage folder', [{ path: 'key', message: 'outside storage' }]);
    }
    return file;
  };

  return {
    name: 'local',
    async put(key, body) {
      const file = fileFor(key);
      // A unique name per write: two concurrent writers of one key must not share a temporary file.
      const partial = `${file}.${randomUUID()}.partial`;
      try {
        await mkdir(path.dirname(file), { recursive: true });
        const out = createWriteStream(partial, { mode: 0o600 });
        await pipeline(body, out);
        await rename(partial, file);
        // Counted while writing: a concurrent writer of the same key may already have replaced the file.
        return { key, size: out.bytesWritten };
      } catch (cause) {
        await rm(partial, { force: true });
        throw new AdapterError('local', `Could not write storage object ${key}`, cause);
      }
    },
    async get(key): Promise<Readable> {
      const file = fileFor(key);
      try {
        await stat(file);
      } catch {
        throw new NotFoundError(`Storage object ${key} does not exist`, { key });
      }
      return createReadStream(file);
    },
    async stat(key) {
      try {
        return { key, size: (await stat(fileFor(key))).size };
      } catch {
        return null;
      }
    },
    async delete(key) {
      await rm(fileFor(key), { force: true });
    },
  };
}
