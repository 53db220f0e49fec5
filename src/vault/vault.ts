import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { AdapterError } from '../errors.js';
import { SqlParams, type SqlExecutor, dialectOf, quoteIdentifier, quoteTablePath } from '../db/dialect.js';
import type { KeysPort } from '../ports/keys.js';
import { open, seal } from './aes-gcm.js';

/**
 * What a vault entry holds. `redact` and `remove` entries keep original values and are encrypted;
 * `hide` entries list the ids of soft-deleted rows only, in plain text, so purge can destroy the key
 * first and still find the rows to remove. `digest` entries hold keyed digests of the values an erasure wrote
 * (plain text, kept after a purge) so that a later erasure can tell them from new personal data. `provider` entries hold
 * what a provider sealed (encrypted, numbered apart from the batches: the vault is unique by request, kind and seq).
 */
export type VaultEntryKind = 'redact' | 'remove' | 'hide' | 'digest' | 'unhide' | 'provider';
/** Kinds stored in plain text: they hold keys and keyed digests of redacted values, never originals. */
const PLAIN_KINDS: readonly VaultEntryKind[] = ['hide', 'digest', 'unhide'];
const KEY_KIND = 'key';

export interface VaultEntry {
  seq: number;
  kind: VaultEntryKind;
  payload: unknown;
}

/**
 * Encrypted snapshots for recovery: each request gets its own random AES-256-GCM data key, stored only
 * wrapped by the keys port. Destroying that wrapped key (crypto-shredding) makes every entry unreadable.
 */
export class Vault {
  private readonly table: string;
  /** Plaintext data keys of the requests being worked on: few, least recently used first, zeroed when dropped. */
  private readonly keyCache = new Map<string, Buffer>();

  constructor(
    private readonly dataSource: DataSource,
    /** Table path, schema-qualified where the DataSource names a schema. */
    tablePath: string,
    private readonly keys: KeysPort,
  ) {
    this.table = quoteTablePath(dataSource, tablePath);
  }

  private q(name: string): string {
    return quoteIdentifier(this.dataSource, name);
  }

  private params(): SqlParams {
    return new SqlParams(dialectOf(this.dataSource));
  }

  /** Appends one entry (one batch of rows) inside the caller's transaction. */
  async append(executor: SqlExecutor, requestId: string, seq: number, kind: VaultEntryKind, payload: unknown, now: number): Promise<void> {
    await this.appendAll(executor, requestId, [{ seq, kind, payload }], now);
  }

  /** Appends several entries (a batch's originals and digests) with one INSERT, inside the caller's transaction. */
  async appendAll(executor: SqlExecutor, requestId: string, entries: VaultEntry[], now: number): Promise<void> {
    if (entries.length === 0) return;
    const key = entries.some((e) => !PLAIN_KINDS.includes(e.kind)) ? await this.dataKey(executor, requestId, now) : undefined;
    try {
      const rows = entries.map(({ seq, kind, payload }) => {
        const plain = Buffer.from(JSON.stringify(payload), 'utf8');
        return { kind: kind as string, seq, body: PLAIN_KINDS.includes(kind) ? plain : seal(key!, plain, `${requestId}:${seq}`) };
      });
      await this.insert(executor, requestId, rows, now);
    } finally {
      key?.fill(0);
    }
  }

  /**
   * Entries of a request in sequence order (or reverse, for undoing), decrypted, read `pageSize` at a time (default
   * one: redact and remove entries hold a whole batch of originals each; purge reads the small hide entries in pages).
   */
  async *entries(requestId: string, options: { kinds?: VaultEntryKind[]; reverse?: boolean; from?: number; pageSize?: number } = {}): AsyncGenerator<VaultEntry> {
    const kinds = options.kinds ?? ['redact', 'remove', 'hide'];
    const pageSize = Math.max(1, Math.floor(options.pageSize ?? 1));
    let cursor = options.from ?? null;
    for (;;) {
      const params = this.params();
      const op = options.reverse ? '<' : '>';
      const rows = await this.dataSource.query(
        `SELECT ${this.q('seq')}, ${this.q('kind')}, ${this.q('payload')} FROM ${this.table}
         WHERE ${this.q('request_id')} = ${params.add(requestId)} AND ${this.q('kind')} IN (${kinds.map((k) => params.add(k)).join(', ')})
         ${cursor === null ? '' : `AND ${this.q('seq')} ${op} ${params.add(cursor)}`}
         ORDER BY ${this.q('seq')} ${options.reverse ? 'DESC' : 'ASC'} LIMIT ${pageSize}`,
        params.values,
      );
      for (const row of rows) {
        const seq = Number(row.seq);
        const kind = row.kind as VaultEntryKind;
        const raw = toBuffer(row.payload);
        const plain = PLAIN_KINDS.includes(kind) ? raw : withKey(await this.dataKey(this.dataSource, requestId, 0, false), (key) => decrypt(key, raw, `${requestId}:${seq}`));
        yield { seq, kind, payload: JSON.parse(plain.toString('utf8')) };
        cursor = seq;
      }
      if (rows.length < pageSize) return;
    }
  }

  /**
   * Crypto-shredding: the wrapped data key goes first, so nothing left in this database can be decrypted. A keys
   * adapter with destroyKey (a KMS) destroys its own key material first, which also covers backups; the default
   * adapter has none, so a backup still holds a wrapped key its secret can open (docs/erasure.md).
   */
  async shred(requestId: string): Promise<void> {
    await this.keys.destroyKey?.(`vault:${requestId}`); // the context wrapKey was given
    const params = this.params();
    await this.dataSource.query(
      `DELETE FROM ${this.table} WHERE ${this.q('request_id')} = ${params.add(requestId)} AND ${this.q('kind')} = ${params.add(KEY_KIND)}`,
      params.values,
    );
    this.forget(requestId);
  }

  /** Removes entries of the given kinds (after shredding, or once they are no longer needed). */
  async deleteEntries(requestId: string, kinds: VaultEntryKind[]): Promise<void> {
    const params = this.params();
    await this.dataSource.query(
      `DELETE FROM ${this.table} WHERE ${this.q('request_id')} = ${params.add(requestId)} AND ${this.q('kind')} IN (${kinds.map((k) => params.add(k)).join(', ')})`,
      params.values,
    );
  }

  /** The highest sequence number of the request's entries of one kind (0 when none). */
  async lastSeq(requestId: string, kind: VaultEntryKind): Promise<number> {
    const params = this.params();
    const rows = await this.dataSource.query(
      `SELECT MAX(${this.q('seq')}) AS ${this.q('n')} FROM ${this.table} WHERE ${this.q('request_id')} = ${params.add(requestId)} AND ${this.q('kind')} = ${params.add(kind)}`,
      params.values,
    );
    return Number(rows[0]?.n ?? 0);
  }

  async hasKey(requestId: string): Promise<boolean> {
    return (await this.readWrappedKey(this.dataSource, requestId)) !== null;
  }

  /** A copy of the request's data key, for the caller to zero after use (the cached one may be zeroed meanwhile). */
  private async dataKey(executor: SqlExecutor, requestId: string, now: number, create = true): Promise<Buffer> {
    const cached = this.keyCache.get(requestId);
    if (cached) {
      // Map order is insertion order: re-inserting marks the key most recently used.
      this.keyCache.delete(requestId);
      this.keyCache.set(requestId, cached);
      return Buffer.from(cached);
    }
    const context = `vault:${requestId}`;
    const wrapped = await this.readWrappedKey(executor, requestId);
    let key: Buffer;
    if (wrapped) {
      key = await this.keys.unwrapKey(wrapped, context);
    } else if (create) {
      key = randomBytes(32);
      await this.insert(executor, requestId, [{ kind: KEY_KIND, seq: 0, body: await this.keys.wrapKey(key, context) }], now);
    } else {
      throw new AdapterError('vault', `The vault key of request ${requestId} has been destroyed`);
    }
    this.forget(requestId);
    this.keyCache.set(requestId, key);
    for (const [oldest, evicted] of this.keyCache) {
      if (this.keyCache.size <= KEY_CACHE_SIZE) break;
      evicted.fill(0);
      this.keyCache.delete(oldest);
    }
    return Buffer.from(key);
  }

  private async readWrappedKey(executor: SqlExecutor, requestId: string): Promise<Buffer | null> {
    const params = this.params();
    const rows = await executor.query(
      `SELECT ${this.q('payload')} FROM ${this.table} WHERE ${this.q('request_id')} = ${params.add(requestId)} AND ${this.q('kind')} = ${params.add(KEY_KIND)}`,
      params.values,
    );
    return rows.length ? toBuffer(rows[0].payload) : null;
  }

  private async insert(executor: SqlExecutor, requestId: string, rows: Array<{ kind: string; seq: number; body: Buffer }>, now: number): Promise<void> {
    const params = this.params();
    const values = rows.map(({ kind, seq, body }) => `(${[requestId, kind, seq, body, now].map((v) => params.add(v)).join(', ')})`).join(', ');
    await executor.query(
      `INSERT INTO ${this.table} (${['request_id', 'kind', 'seq', 'payload', 'created_at'].map((c) => this.q(c)).join(', ')}) VALUES ${values}`,
      params.values,
    );
  }

  /**
   * Drops the request's cached key, zeroed: when its operation ends, and after a rolled-back transaction
   * (which may have discarded a freshly created one).
   */
  forget(requestId: string): void {
    this.keyCache.get(requestId)?.fill(0);
    this.keyCache.delete(requestId);
  }
}

/** How many plaintext data keys stay cached at most: one per request being worked on is enough. */
export const KEY_CACHE_SIZE = 8;

function withKey<T>(key: Buffer, use: (key: Buffer) => T): T {
  try {
    return use(key);
  } finally {
    key.fill(0);
  }
}

function decrypt(key: Buffer, sealed: Buffer, aad: string): Buffer {
  try {
    return open(key, sealed, aad);
  } catch (cause) {
    throw new AdapterError('vault', 'A vault entry could not be decrypted (tampered with, or the key is wrong)', cause);
  }
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string') return Buffer.from(value, 'binary');
  throw new AdapterError('vault', 'Unexpected vault payload type');
}

/**
 * Raw database values survive a JSON round trip with their type: dates, binary and JSON documents are
 * tagged, so restore writes back exactly what was read.
 */
export function encodeRaw(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return { $d: value.toISOString() };
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { $b: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (typeof value === 'object') return { $j: value };
  return value;
}

export function decodeRaw(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const tagged = value as Record<string, unknown>;
  if ('$d' in tagged) return new Date(String(tagged.$d));
  if ('$b' in tagged) return Buffer.from(String(tagged.$b), 'base64');
  if ('$n' in tagged) return BigInt(String(tagged.$n));
  if ('$j' in tagged) return JSON.stringify(tagged.$j);
  return value;
}
