import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import { ENGINE_EVENTS, type EngineEventName, PrivacyEngine, type PrivacyRequest, createLocalStorage } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { idleQueue } from './support/idle-queue.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'lease-worker.ts');
const SECRET = 'events-secret-events-secret-events-0001';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const admin = { id: 'dpo', roles: ['admin'], tenantId: 'org-a' };

function runWorker(input: Record<string, unknown>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify({ secret: SECRET, leaseMs: 2000, ...input })], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describeEachDatabase('events of requests another process runs (events: { pollMs })', (db) => {
  const sources: DataSource[] = [];
  afterAll(async () => {
    for (const ds of sources) if (ds.isInitialized) await ds.destroy();
  });

  it('the asking process hears started, progress and completed, once each and in order, for erasures a worker process ran', { timeout: 60_000 }, async () => {
    const { options } = await db.createDatabase();
    const ds = new DataSource({ ...options, entities: crmEntities, synchronize: true, logging: false } as DataSourceOptions);
    await ds.initialize();
    sources.push(ds);
    const storageDir = await mkdtemp(path.join(os.tmpdir(), 'pe-events-'));
    const listener = new PrivacyEngine({
      dataSource: ds, subject: Contact, tenantColumn: 'organizationId', secret: SECRET, queue: idleQueue,
      storage: createLocalStorage({ directory: storageDir }), logger: quiet, events: { pollMs: 40 },
    });
    const heard: Array<{ event: EngineEventName; request: PrivacyRequest }> = [];
    for (const event of ENGINE_EVENTS) listener.on(event, ({ request }) => void heard.push({ event, request }));
    await listener.start();

    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { contact } = await seedContact(ds, 'org-a', `tokevent${i}x`);
      ids.push((await listener.anonymize({ subjectId: contact.id, actor: admin })).id);
    }
    // The worker is throttled (rows per second) so its batches are spread over time, as a large request's would be:
    // 3 rows a second is a burst of 3 rows, below each subject's 8, so every request waits between batches however
    // fast the machine (at 12 a second the first request fit in the burst and could end within one poll).
    const result = await runWorker({ options, storageDir, batchSize: 3, concurrency: 1, rateLimits: { rowsPerSecond: 3 } });
    expect(result.code, result.stderr).toBe(0);
    await expect.poll(() => heard.filter((h) => h.event === 'completed').length, { timeout: 5000 }).toBe(ids.length);
    await listener.stop();

    for (const id of ids) {
      const own = heard.filter((h) => h.request.id === id);
      const names = own.map((h) => h.event);
      // queued is this process's own (it asked); the rest come from the poller.
      expect(names[0]).toBe('queued');
      expect(names.filter((n) => n === 'queued')).toHaveLength(1);
      expect(names.filter((n) => n === 'started')).toHaveLength(1);
      expect(names.filter((n) => n === 'completed')).toHaveLength(1);
      expect(names.filter((n) => n === 'failed' || n === 'cancelled')).toHaveLength(0);
      expect(names.indexOf('started')).toBeLessThan(names.indexOf('completed'));
      expect(names[names.length - 1]).toBe('completed');
      const progress = own.filter((h) => h.event === 'progress').map((h) => h.request.progress.done);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(new Set(progress).size).toBe(progress.length);
      expect(own.find((h) => h.event === 'completed')!.request).toMatchObject({ status: 'completed', progress: { percent: 100 } });
      expect(own.find((h) => h.event === 'started')!.request.status).toBe('running');
    }
  });
});
