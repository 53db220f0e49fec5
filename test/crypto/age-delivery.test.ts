import { Readable } from 'node:stream';
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { encryptForSubject } from '../../src/crypto/age-delivery.js';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const archive = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 256));

describe('age delivery copy for the data subject', () => {
  it('round-trips with a passphrase, and the copy does not contain the plaintext', async () => {
    const sealed = await collect(await encryptForSubject(Readable.from([archive]), { passphrase: 'correct horse battery staple' }));
    expect(sealed.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    expect(sealed.includes(archive.subarray(1000, 1064))).toBe(false);
    const decrypter = new Decrypter();
    decrypter.addPassphrase('correct horse battery staple');
    expect(Buffer.from(await decrypter.decrypt(new Uint8Array(sealed))).equals(archive)).toBe(true);

    const wrong = new Decrypter();
    wrong.addPassphrase('not the passphrase at all');
    await expect(wrong.decrypt(new Uint8Array(sealed))).rejects.toThrow();
  });

  it('round-trips for an age recipient, openable only with its identity', async () => {
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const sealed = await collect(await encryptForSubject(Readable.from([archive.subarray(0, 70_000), archive.subarray(70_000)]), { recipient }));
    const decrypter = new Decrypter();
    decrypter.addIdentity(identity);
    expect(Buffer.from(await decrypter.decrypt(new Uint8Array(sealed))).equals(archive)).toBe(true);

    const stranger = new Decrypter();
    stranger.addIdentity(await generateIdentity());
    await expect(stranger.decrypt(new Uint8Array(sealed))).rejects.toThrow();
  });

  it('refuses a short passphrase or a malformed recipient with a VALIDATION error', async () => {
    await expect(encryptForSubject(Readable.from([archive]), { passphrase: 'short' })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(encryptForSubject(Readable.from([archive]), { recipient: 'alice@example.com' })).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});
