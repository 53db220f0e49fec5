/**
 * Throughput and memory of the at-rest encryption streams on their own (no database, no ZIP):
 *
 *   npx tsx bench/encryption.ts [megabytes=256]
 *
 * Prints MB/s for encrypt, decrypt, and a plain pass-through over the same source for comparison, and the peak RSS.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createSecretKeys } from '../src/adapters/secret-keys.js';
import { createDecryptStream, createEncryptStream } from '../src/crypto/stream-aead.js';

const megabytes = Number(process.argv[2] ?? 256);
const chunk = Buffer.alloc(1024 * 1024, 0x5a);
const keys = createSecretKeys({ secret: 'benchmark secret, long enough for the adapter 0123456789' });
let peakRss = 0;

function source(): Readable {
  let sent = 0;
  return new Readable({
    read() {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      this.push(sent++ < megabytes ? chunk : null);
    },
  });
}

const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });

async function time(label: string, ...stages: NodeJS.ReadWriteStream[]): Promise<void> {
  const started = process.hrtime.bigint();
  await pipeline(source(), ...(stages as [NodeJS.ReadWriteStream]), sink());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${label.padEnd(22)} ${(megabytes / seconds).toFixed(0).padStart(6)} MB/s`);
}

await time('pass-through', new PassThrough());
await time('encrypt', createEncryptStream({ keys, context: 'bench' }));
await time('encrypt + decrypt', createEncryptStream({ keys, context: 'bench' }), createDecryptStream({ keys, context: 'bench' }));
console.log(`peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MB for ${megabytes} MB of data`);
