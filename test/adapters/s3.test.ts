import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
// @ts-expect-error s3rver ships no types
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Storage, MAX_PRESIGN_SECONDS } from '../../src/adapters/s3.js';
import { storageConformance } from '../../src/testing/index.js';

// s3rver is a real S3 HTTP API served in-process on 127.0.0.1. It does NOT verify SigV4 signatures (it only checks
// that the access key id is its built-in 'S3RVER'), so these tests prove the adapter's S3 protocol use (multipart
// upload, abort, get, head, delete, presigned GET), not that signatures or their expiry are enforced; the engine's
// own download-link signatures are tested in test/crypto/link-token.test.ts.
let server: any;
let directory: string;
let endpoint: string;
let client: S3Client;
let bucketCount = 0;

beforeAll(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'pe-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
  const address = (await server.run()) as AddressInfo;
  endpoint = `http://127.0.0.1:${address.port}`;
  client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

async function freshBucket(): Promise<string> {
  const bucket = `pe-test-${++bucketCount}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

// s3rver writes an object's file in place and answers before it is flushed, so concurrent PUTs of one key can
// interleave on its disk under load; S3 itself replaces an object atomically (last writer wins). That one check
// cannot pass against the emulator and is left out here; the local and memory adapters run it.
storageConformance('s3 (s3rver)', async () => createS3Storage({ bucket: await freshBucket(), client, prefix: 'privacy/' }), { describe, it, expect }, {
  backendLimits: { sameKeyRace: 's3rver writes objects in place, not atomically' },
});

describe('S3 storage specifics', () => {
  it('uploads a body larger than one part as a multipart upload, under the prefix', async () => {
    const bucket = await freshBucket();
    const storage = createS3Storage({ bucket, client, prefix: 'tenant-a/' });
    const body = Buffer.alloc(11 * 1024 * 1024 + 5, 7);
    const info = await storage.put('exports/big.zip', Readable.from([body.subarray(0, 3_000_000), body.subarray(3_000_000)]));
    expect(info).toEqual({ key: 'exports/big.zip', size: body.length });
    // The object lives under the prefix: a client without the prefix finds it there.
    const other = createS3Storage({ bucket, client });
    expect(await other.stat('tenant-a/exports/big.zip')).toEqual({ key: 'tenant-a/exports/big.zip', size: body.length });
    expect(await other.stat('exports/big.zip')).toBeNull();
  });

  it('presigns a GET URL that fetches the object, and refuses expiries beyond 7 days', async () => {
    const storage = createS3Storage({ bucket: await freshBucket(), client });
    await storage.put('exports/link.zip', Readable.from([Buffer.from('archive bytes')]));
    const url = await storage.presignGet('exports/link.zip', 3600);
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe('3600');
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('archive bytes');
    await expect(storage.presignGet('exports/link.zip', MAX_PRESIGN_SECONDS + 1)).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(storage.presignGet('exports/link.zip', 0)).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(new URL(await storage.presignGet('exports/link.zip', MAX_PRESIGN_SECONDS)).searchParams.get('X-Amz-Expires')).toBe(String(MAX_PRESIGN_SECONDS));
  });

  it('creates and destroys its own client from clientOptions', async () => {
    const bucket = await freshBucket();
    const storage = createS3Storage({
      bucket,
      clientOptions: { endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    });
    await storage.put('a.txt', Readable.from([Buffer.from('a')]));
    expect(await storage.stat('a.txt')).toEqual({ key: 'a.txt', size: 1 });
    await storage.close?.();
  });

  it('validates its options', () => {
    expect(() => createS3Storage({ bucket: '' })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(() => createS3Storage({ bucket: 'b-ok', partSize: 1024 })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
  });
});
