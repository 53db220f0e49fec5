import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let folder: string | undefined;
afterAll(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

/**
 * Runs the README's quick start as written, in a fresh folder inside the repository (so `typeorm` and friends
 * resolve from its node_modules), with `privacy-engine` pointing at the sources and no terminal attached.
 */
it("the README's quick start runs without a terminal, saves the downloaded ZIP, and the anonymize deletes the stored encrypted copy", async () => {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## What it does'));
  const code = /```ts\n([\s\S]*?)```/.exec(quickStart)?.[1];
  const tsconfig = /```json\n([\s\S]*?)```/.exec(quickStart)?.[1];
  expect(code).toContain("from 'privacy-engine'");
  expect(quickStart).toContain('npm install -D tsx');
  expect(quickStart).toContain('./.privacy-engine/storage/exports/<requestId>.zip.enc');

  await mkdir(path.join(root, '.tmp'), { recursive: true });
  folder = await mkdtemp(path.join(root, '.tmp', 'quick-start-'));
  const source = code!.replace("from 'privacy-engine'", `from ${JSON.stringify(path.join(root, 'src', 'index.ts'))}`);
  await writeFile(path.join(folder, 'quick-start.mts'), source);
  await writeFile(path.join(folder, 'tsconfig.json'), tsconfig!);
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'quick-start.mts'], { cwd: folder, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);

  const zip = (await readdir(folder)).filter((f) => f.endsWith('.zip'));
  expect(zip).toEqual([expect.stringMatching(/^personal-data-Contact-1-\d{4}-\d{2}-\d{2}\.zip$/)]);
  expect((await readFile(path.join(folder, zip[0]))).subarray(0, 4)).toEqual(Buffer.from('PK\x03\x04', 'binary'));
  // The archive was stored (the folder exists) and the anonymize deleted it.
  expect(await readdir(path.join(folder, '.privacy-engine', 'storage', 'exports'))).toEqual([]);
});
