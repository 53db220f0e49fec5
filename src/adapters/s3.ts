import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { AdapterError, NotFoundError, ValidationError } from '../errors.js';
import type { StoragePort } from '../ports/storage.js';

/** SigV4 presigned URLs live 7 days at most. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface S3StorageOptions {
  bucket: string;
  /** A ready client (the host's credentials, region, endpoint); closed by the host, not by the adapter. */
  client?: S3Client;
  /** Options for a client the adapter creates itself (and destroys in `close()`), when no `client` is given. */
  clientOptions?: S3ClientConfig;
  /** Prepended to every key (`'privacy/'`), so one bucket can hold other things too. */
  prefix?: string;
  /** Multipart part size in bytes (S3's minimum, 5 MiB, by default); bodies below it go up in one request. */
  partSize?: number;
  /** Parts uploaded in parallel (4 by default); memory use is about partSize × queueSize. */
  queueSize?: number;
}

export interface S3Storage extends StoragePort {
  /** A URL anyone holding it can GET the object with until it expires (1 second to 7 days). */
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
}

const optionsSchema = z.object({
  bucket: z.string().min(3).max(63),
  client: z.any().optional(),
  clientOptions: z.record(z.string(), z.any()).optional(),
  prefix: z.string().max(512).optional(),
  partSize: z.number().int().min(5 * 1024 * 1024).optional(),
  queueSize: z.number().int().min(1).max(64).optional(),
});

type ClientModule = typeof import('@aws-sdk/client-s3');

/** The SDK is an optional peer dependency: loaded on first use, with an install hint when missing. */
async function importSdk<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    throw new AdapterError('s3', `The S3 storage adapter needs the package ${name}: npm install ${name}`, cause);
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * Stores objects in an S3-compatible bucket (AWS SDK v3). Uploads stream through a multipart upload, which S3
 * makes visible only when it completes, so readers never see a half-written object; a failed upload is aborted.
 */
export function createS3Storage(options: S3StorageOptions): S3Storage {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError('Invalid S3 storage options', parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })));
  }
  const { bucket, prefix = '', partSize = 5 * 1024 * 1024, queueSize = 4 } = options;
  const ownsClient = !options.client;
  let ready: Promise<{ sdk: ClientModule; client: S3Client }> | undefined;

  const connect = () =>
    (ready ??= importSdk('@aws-sdk/client-s3', () => import('@aws-sdk/client-s3')).then((sdk) => ({
      sdk,
      client: options.client ?? new sdk.S3Client(options.clientOptions ?? {}),
    })));

  const objectKey = (key: string): string => {
    if (typeof key !== 'string' || key.length === 0 || key.includes('\0') || key.startsWith('/')) {
      throw new ValidationError('storage key must be a non-empty relative path', [{ path: 'key', message: 'invalid key' }]);
    }
    return prefix + key;
  };

  return {
    name: 's3',
    async put(key, body) {
      const Key = objectKey(key);
      const { client } = await connect();
      const { Upload } = await importSdk('@aws-sdk/lib-storage', () => import('@aws-sdk/lib-storage'));
      let size = 0;
      const counted = new PassThrough({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          callback(null, chunk);
        },
      });
      // The pipeline forwards a failing body as an error on `counted`, which makes the upload abort.
      const feeding = pipeline(body, counted);
      const upload = new Upload({ client, params: { Bucket: bucket, Key, Body: counted }, partSize, queueSize, leavePartsOnError: false });
      try {
        await Promise.all([feeding, upload.done()]);
        return { key, size };
      } catch (cause) {
        counted.destroy();
        await upload.abort().catch(() => {});
        throw new AdapterError('s3', `Could not write storage object ${key}`, cause);
      }
    },
    async get(key): Promise<Readable> {
      const Key = objectKey(key);
      const { sdk, client } = await connect();
      try {
        const response = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key }));
        return response.Body as Readable;
      } catch (cause) {
        if (isNotFound(cause)) throw new NotFoundError(`Storage object ${key} does not exist`, { key });
        throw new AdapterError('s3', `Could not read storage object ${key}`, cause);
      }
    },
    async stat(key) {
      const Key = objectKey(key);
      const { sdk, client } = await connect();
      try {
        const head = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key }));
        return { key, size: Number(head.ContentLength ?? 0) };
      } catch (cause) {
        if (isNotFound(cause)) return null;
        throw new AdapterError('s3', `Could not stat storage object ${key}`, cause);
      }
    },
    async delete(key) {
      const Key = objectKey(key);
      const { sdk, client } = await connect();
      try {
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key }));
      } catch (cause) {
        throw new AdapterError('s3', `Could not delete storage object ${key}`, cause);
      }
    },
    async presignGet(key, expiresInSeconds) {
      if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS) {
        throw new ValidationError(`expiresInSeconds must be an integer from 1 to ${MAX_PRESIGN_SECONDS} (7 days)`, [{ path: 'expiresInSeconds', message: 'out of range' }]);
      }
      const Key = objectKey(key);
      const { sdk, client } = await connect();
      const { getSignedUrl } = await importSdk('@aws-sdk/s3-request-presigner', () => import('@aws-sdk/s3-request-presigner'));
      return getSignedUrl(client, new sdk.GetObjectCommand({ Bucket: bucket, Key }), { expiresIn: expiresInSeconds });
    },
    async close() {
      if (ownsClient && ready) (await ready).client.destroy();
      ready = undefined;
    },
  };
}
