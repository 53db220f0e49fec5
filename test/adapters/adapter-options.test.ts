import { describe, expect, it } from 'vitest';
import { importPeer } from '../../src/adapters/adapter-options.js';

describe('optional peer dependencies', () => {
  it('a missing package is an ADAPTER error that says what to install, with the import failure as its cause', async () => {
    const missing = 'privacy-engine-no-such-package';
    const error = await importPeer('smtp', 'nodemailer', () => import(/* @vite-ignore */ missing)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ADAPTER', adapter: 'smtp', message: expect.stringContaining('install nodemailer') });
    expect((error as Error).cause).toBeInstanceOf(Error);
  });
});
