import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLocalStorage } from '../../src/index.js';
import { storageConformance } from '../../src/testing/index.js';

storageConformance('local filesystem', async () => createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-storage-')) }), { describe, it, expect });

describe('local storage specifics', () => {
  it('refuses keys that leave its folder', async () => {
    const storage = createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-storage-')) });
    await expect(storage.put('../escape.zip', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(storage.get('/etc/passwd')).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('leaves no object behind when the body stream fails half way', async () => {
    const storage = createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-storage-')) });
    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('source broke'));
      },
    });
    await expect(storage.put('exports/broken.zip', failing)).rejects.toMatchObject({ code: 'ADAPTER' });
    expect(await storage.stat('exports/broken.zip')).toBeNull();
  });
});
