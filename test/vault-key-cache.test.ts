import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { beforeAll, expect, it } from 'vitest';
import { PrivacyEngine, createLocalStorage } from '../src/index.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';
import { createSecretKeys } from '../src/adapters/secret-keys.js';
import { engineTableNames, ensureEngineTables } from '../src/db/engine-tables.js';
import type { KeysPort } from '../src/ports/keys.js';
import { Vault } from '../src/vault/vault.js';
const KEY_CACHE_SIZE = 8;
import { describeEachDatabase } from './support/databases.js';

/** A keys adapter that remembers every plaintext data key buffer it saw, to check what the vault left in memory. */
function recordingKeys(): { keys: KeysPort; seen: Map<string, Buffer[]> } {
  const inner = createSecretKeys({ secret: 'key-cache-secret-key-cache-secret-key-cache' });
  const seen = new Map<string, Buffer[]>();
  const note = (context: string, key: Buffer) => seen.set(context, [...(seen.get(context) ?? []), key]);
  return {
    seen,
    keys: {
      name: 'recording',
      async wrapKey(dataKey, context) {
        note(context, dataKey);
        return inner.wrapKey(dataKey, context);
      },
      async unwrapKey(wrapped, context) {
        const key = await inner.unwrapKey(wrapped, context);
        note(context, key);
        return key;
      },
      deriveKey: (purpose) => inner.deriveKey(purpose),
    },
  };
}

const zeroed = (b: Buffer) => b.every((byte) => byte === 0);

describeEachDatabase('vault data-key cache', (db) => {
  let ds: DataSource;
  let names: ReturnType<typeof engineTableNames>;
  beforeAll(async () => {
    ds = await db.createDataSource([]);
    names = engineTableNames(ds, 'kc_');
    await ensureEngineTables(ds, names);
  });

  it('keeps at most KEY_CACHE_SIZE plaintext keys, zeroes the ones it evicts, and still reads every request back', async () => {
    const { keys, seen } = recordingKeys();
    const vault = new Vault(ds, names.vault, keys);
    const ids = Array.from({ length: KEY_CACHE_SIZE * 3 }, (_, i) => `cache-${i}`);
    for (const id of ids) await vault.append(ds, id, 1, 'redact', { secret: id }, 0);

    const live = [...seen.values()].flat().filter((b) => !zeroed(b));
    expect(live.length).toBeLessThanOrEqual(KEY_CACHE_SIZE);
    expect(seen.get('vault:cache-0')!.every(zeroed)).toBe(true);

    // An evicted key is unwrapped again when needed.
    for (const id of ids) {
      const entries = [];
      for await (const entry of vault.entries(id)) entries.push(entry.payload);
      expect(entries).toEqual([{ secret: id }]);
    }
    expect([...seen.values()].flat().filter((b) => !zeroed(b)).length).toBeLessThanOrEqual(KEY_CACHE_SIZE);
  });

  it('forget() zeroes the request key it drops', async () => {
    const { keys, seen } = recordingKeys();
    const vault = new Vault(ds, names.vault, keys);
    await vault.append(ds, 'forget-me', 1, 'redact', { secret: 1 }, 0);
    expect(seen.get('vault:forget-me')!.some((b) => !zeroed(b))).toBe(true);
    vault.forget('forget-me');
    expect(seen.get('vault:forget-me')!.every(zeroed)).toBe(true);
  });

  it('drops (and zeroes) a request key once its erasure and its restore have ended', async () => {
    const crm = await db.createDataSource(crmEntities);
    const { keys, seen } = recordingKeys();
    const engine = new PrivacyEngine({
      dataSource: crm,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: 'key-cache-secret-key-cache-secret-key-cache',
      keys,
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-keycache-')) }),
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
    try {
      const { contact } = await seedContact(crm, 'org-a', 'tokkeyc001');
      const actor = { id: 'dpo', roles: ['admin'], tenantId: 'org-a' };
      const erased = await engine.waitForRequest((await engine.anonymize({ subjectId: contact.id, actor })).id, { actor: engine.system });
      expect(erased.status).toBe('completed');
      expect(seen.get(`vault:${erased.id}`)!.every(zeroed)).toBe(true);
      const restored = await engine.waitForRequest((await engine.restore({ requestId: erased.id, actor })).id, { actor: engine.system });
      expect(restored.status).toBe('completed');
      expect(seen.get(`vault:${erased.id}`)!.length).toBeGreaterThan(1); // unwrapped again for the restore
      expect(seen.get(`vault:${erased.id}`)!.every(zeroed)).toBe(true);
    } finally {
      await engine.stop();
    }
  });
});
