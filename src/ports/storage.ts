import type { Readable } from 'node:stream';

export interface StoredObjectInfo {
  key: string;
  size: number;
}

/**
 * Where export archives live. Keys are engine-chosen relative paths (`exports/<requestId>.zip`);
 * an adapter never needs to interpret them.
 */
export interface StoragePort {
  readonly name: string;
  /** Streams `body` to `key`, replacing any object there; resolves once the object is durable. */
  put(key: string, body: Readable): Promise<StoredObjectInfo>;
  /** Opens the object for reading; rejects with NotFoundError when it does not exist. */
  get(key: string): Promise<Readable>;
  /** Size of the object, or null when it does not exist. */
  stat(key: string): Promise<StoredObjectInfo | null>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  close?(): Promise<void>;
}
