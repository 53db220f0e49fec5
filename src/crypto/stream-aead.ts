import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AdapterError, IntegrityError, PrivacyEngineError, ValidationError } from '../errors.js';
import type { KeysPort } from '../ports/keys.js';

/**
 * Streaming encryption at rest, format version 1:
 *
 *   header  = "PESA" | version u8 (1) | segment size u32 BE | wrapped key length u16 BE | wrapped data key
 *   segment = AES-256-GCM(data key, nonce = 4 zero bytes | segment index u64 BE,
 *                         aad = SHA-256(header) | final flag u8) → ciphertext | 16-byte tag
 *
 * Each file gets a fresh random data key, wrapped by the KeysPort under a caller-given context (the request id,
 * say), so counter nonces never repeat under one key. Every segment but the last holds exactly `segmentSize`
 * plaintext bytes; the last holds 0..segmentSize and is sealed with the final flag set, so a file cut at a segment
 * boundary fails, as does a reordered, tampered or foreign segment. Memory stays at about two segments at any size.
 */
export const STREAM_FORMAT_VERSION = 1;
export const DEFAULT_SEGMENT_SIZE = 64 * 1024;
const MAGIC = Buffer.from('PESA', 'ascii');
const TAG_BYTES = 16;
const FIXED_HEADER_BYTES = MAGIC.length + 1 + 4 + 2;
const MIN_SEGMENT = 1024;
// Bounds what a (possibly forged) header can make the decryptor buffer.
const MAX_SEGMENT = 16 * 1024 * 1024;

export interface EncryptStreamOptions {
  keys: KeysPort;
  /** Binds the wrapped data key to its use; decryption must pass the same context. */
  context: string;
  /** Plaintext bytes per segment (64 KiB by default, 1 KiB to 16 MiB). */
  segmentSize?: number;
}

export interface DecryptStreamOptions {
  keys: KeysPort;
  context: string;
}

function nonceFor(index: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(index, 4);
  return nonce;
}

function aadFor(headerHash: Buffer, final: boolean): Buffer {
  return Buffer.concat([headerHash, Buffer.from([final ? 1 : 0])]);
}

/** Encrypts a byte stream into the format above; pipe its output to storage. */
export function createEncryptStream(options: EncryptStreamOptions): Transform {
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isInteger(segmentSize) || segmentSize < MIN_SEGMENT || segmentSize > MAX_SEGMENT) {
    throw new ValidationError(`segmentSize must be an integer from ${MIN_SEGMENT} to ${MAX_SEGMENT}`, [{ path: 'segmentSize', message: 'out of range' }]);
  }
  let dataKey: Buffer;
  let headerHash: Buffer;
  let index = 0n;
  let pending: Buffer = Buffer.alloc(0);

  const seal = (plaintext: Buffer, final: boolean): Buffer => {
    const cipher = createCipheriv('aes-256-gcm', dataKey, nonceFor(index++));
    cipher.setAAD(aadFor(headerHash, final));
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  };

  return new Transform({
    construct(callback) {
      dataKey = randomBytes(32);
      options.keys.wrapKey(dataKey, options.context).then(
        (wrapped) => {
          if (wrapped.length > 0xffff) return callback(new AdapterError(options.keys.name, 'The wrapped data key is too long for the stream header'));
          const header = Buffer.alloc(FIXED_HEADER_BYTES);
          MAGIC.copy(header, 0);
          header.writeUInt8(STREAM_FORMAT_VERSION, 4);
          header.writeUInt32BE(segmentSize, 5);
          header.writeUInt16BE(wrapped.length, 9);
          const full = Buffer.concat([header, wrapped]);
          headerHash = createHash('sha256').update(full).digest();
          this.push(full);
          callback();
        },
        (cause) => callback(cause instanceof PrivacyEngineError ? cause : new AdapterError(options.keys.name, 'Could not wrap the data key', cause)),
      );
    },
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // A full segment is sealed as non-final only once a byte after it exists: the final one must carry the flag.
      let offset = 0;
      while (pending.length - offset > segmentSize) {
        this.push(seal(pending.subarray(offset, offset + segmentSize), false));
        offset += segmentSize;
      }
      pending = Buffer.from(pending.subarray(offset));
      callback();
    },
    flush(callback: TransformCallback) {
      this.push(seal(pending, true));
      pending = Buffer.alloc(0);
      dataKey.fill(0);
      callback();
    },
  });
}

/**
 * Decrypts the format above. Each segment is released only after its tag verifies; a stream that ends without
 * an authenticated final segment fails with IntegrityError, so a consumer never mistakes a prefix for the whole.
 */
export function createDecryptStream(options: DecryptStreamOptions): Transform {
  let buffer: Buffer = Buffer.alloc(0);
  let dataKey: Buffer | undefined;
  let headerHash: Buffer;
  let segmentSize = 0;
  let index = 0n;

  const open = (sealed: Buffer, final: boolean): Buffer => {
    if (sealed.length < TAG_BYTES) throw new IntegrityError('Encrypted file is truncated', { segment: Number(index) });
    const decipher = createDecipheriv('aes-256-gcm', dataKey!, nonceFor(index));
    decipher.setAAD(aadFor(headerHash, final));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      const plaintext = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
      index++;
      return plaintext;
    } catch (cause) {
      throw new IntegrityError(final ? 'Encrypted file failed authentication at its last segment (tampered or truncated)' : 'Encrypted file failed authentication (tampered, reordered or truncated)', { segment: Number(index) }, cause);
    }
  };

  /** Parses the header once enough bytes arrived; returns false while more are needed. */
  const readHeader = async (): Promise<boolean> => {
    if (buffer.length < FIXED_HEADER_BYTES) return false;
    if (!buffer.subarray(0, 4).equals(MAGIC)) throw new IntegrityError('Not an encrypted privacy-engine file');
    const version = buffer.readUInt8(4);
    if (version !== STREAM_FORMAT_VERSION) throw new IntegrityError(`Unsupported encrypted file format version ${version}`, { version });
    const size = buffer.readUInt32BE(5);
    if (size < MIN_SEGMENT || size > MAX_SEGMENT) throw new IntegrityError('Encrypted file header is corrupt', { segmentSize: size });
    const headerLength = FIXED_HEADER_BYTES + buffer.readUInt16BE(9);
    if (buffer.length < headerLength) return false;
    const wrapped = buffer.subarray(FIXED_HEADER_BYTES, headerLength);
    headerHash = createHash('sha256').update(buffer.subarray(0, headerLength)).digest();
    try {
      dataKey = await options.keys.unwrapKey(Buffer.from(wrapped), options.context);
    } catch (cause) {
      if (cause instanceof PrivacyEngineError) throw cause;
      throw new AdapterError(options.keys.name, 'Could not unwrap the data key of an encrypted file', cause);
    }
    if (dataKey.length !== 32) throw new IntegrityError('Encrypted file carries a data key of the wrong size');
    segmentSize = size;
    buffer = Buffer.from(buffer.subarray(headerLength));
    return true;
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      const work = async () => {
        if (!dataKey && !(await readHeader())) return;
        const sealedSize = segmentSize + TAG_BYTES;
        let offset = 0;
        // Only a segment followed by more bytes is a non-final one.
        while (buffer.length - offset > sealedSize) {
          this.push(open(buffer.subarray(offset, offset + sealedSize), false));
          offset += sealedSize;
        }
        buffer = Buffer.from(buffer.subarray(offset));
      };
      work().then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      try {
        if (!dataKey) throw new IntegrityError('Encrypted file is truncated inside its header');
        if (buffer.length === 0) throw new IntegrityError('Encrypted file is truncated: its final segment is missing', { segment: Number(index) });
        this.push(open(buffer, true));
        buffer = Buffer.alloc(0);
        dataKey.fill(0);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
