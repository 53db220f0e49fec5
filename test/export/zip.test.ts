import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeflatedSpool, ZipWriter, type ZipEntrySource } from '../../src/export/zip.js';
import { collect, unzip } from './helpers.js';

/**
 * The export's own ZIP writer, read back by three independent readers: yauzl (CRC-32 and sizes checked),
 * Python's zipfile (testzip) and Info-ZIP's unzip -t, where the machine has them. ZIP64 is forced here,
 * since real ZIP64 archives need 4 GiB.
 */
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pe-zip-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ENTRIES: Array<[string, Buffer]> = [
  ['summary.json', Buffer.from(JSON.stringify({ hello: 'wörld', n: [1, 2, 3] }))],
  ['empty.csv', Buffer.alloc(0)],
  ['categories/ünïcödé.csv', Buffer.from('a,b\n'.repeat(50_000))],
];

async function build(level: number, forceZip64: boolean): Promise<Buffer> {
  const sources: ZipEntrySource[] = [];
  for (const [i, [, data]] of ENTRIES.entries()) {
    const spool = new DeflatedSpool(path.join(dir, `${i}.z`), level, (err) => {
      throw err;
    });
    // Written in pieces, as the archive does.
    for (let at = 0; at < data.length; at += 7_001) spool.write(data.subarray(at, at + 7_001));
    sources.push(await spool.close());
  }
  const out = new PassThrough();
  const bytes = collect(out);
  const zip = new ZipWriter(out, new Date('2024-05-06T07:08:10Z'), new AbortController().signal, forceZip64);
  for (const [i, [name]] of ENTRIES.entries()) await zip.add(name, sources[i]);
  await zip.end();
  out.end();
  return bytes;
}

function hasTool(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('ZipWriter', () => {
  for (const [label, level, forceZip64] of [
    ['deflated', 1, false],
    ['stored (level 0)', 0, false],
    ['deflated, ZIP64 records', 1, true],
  ] as const) {
    it(`writes an archive every reader accepts: ${label}`, async () => {
      const zip = await build(level, forceZip64);
      const entries = await unzip(zip);
      expect(entries.map((e) => [e.name, e.text, e.compressionMethod])).toEqual(ENTRIES.map(([name, data]) => [name, data.toString('utf8'), level === 0 ? 0 : 8]));
      const file = path.join(dir, 'out.zip');
      await writeFile(file, zip);
      if (hasTool('python3', ['--version'])) {
        const script = 'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint("|".join(f"{i.filename}:{i.file_size}:{i.date_time}" for i in z.infolist()))';
        const listing = execFileSync('python3', ['-c', script, file], { encoding: 'utf8' }).trim();
        expect(listing.split('|').map((l) => l.split(':').slice(0, 2).join(':'))).toEqual(ENTRIES.map(([name, data]) => `${name}:${data.length}`));
      }
      if (hasTool('unzip', ['-v'])) expect(execFileSync('unzip', ['-t', file], { encoding: 'utf8' })).toMatch(/No errors detected/);
      expect((await readFile(file)).subarray(0, 4).readUInt32LE(0)).toBe(0x04034b50);
    });
  }
});
