import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { beforeAll, expect, it } from 'vitest';
import { createSecretKeys } from '../src/adapters/secret-keys.js';
import { engineTableNames, ensureEngineTables } from '../src/db/engine-tables.js';
import { Vault, type VaultEntryKind } from '../src/vault/vault.js';
import { describeEachDatabase } from './support/databases.js';

/**
 * Vault.entries read `pageSize` entries per query (purge reads hide entries 32 at a time): whatever the page size,
 * the starting point, the direction and the mix of kinds, it yields exactly the entries one-at-a-time reading
 * yields, in the same order, decrypted.
 */
describeEachDatabase('vault entries read in pages', (db) => {
  let ds: DataSource;
  let vault: Vault;
  beforeAll(async () => {
    ds = await db.createDataSource([]);
    const names = engineTableNames(ds, 've_');
    await ensureEngineTables(ds, names);
    vault = new Vault(ds, names.vault, createSecretKeys({ secret: 'vault-pages-secret-vault-pages-secret-vault' }));
  });

  it('yields the same entries in the same order as reading one at a time', async () => {
    let request = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<VaultEntryKind>('hide', 'redact', 'remove'), { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 41 }), { nil: undefined }),
        async (kinds, pageSize, reverse, from) => {
          const id = `pages-${request++}`;
          for (const [i, kind] of kinds.entries()) await vault.append(ds, id, i + 1, kind, { e: 'E', n: i + 1 }, 0);
          const read = async (options: Parameters<Vault['entries']>[1]) => {
            const out: unknown[] = [];
            for await (const entry of vault.entries(id, options)) out.push([entry.seq, entry.kind, entry.payload]);
            return out;
          };
          for (const only of [undefined, ['hide'] as VaultEntryKind[]]) {
            const one = await read({ kinds: only, reverse, from });
            expect(await read({ kinds: only, reverse, from, pageSize })).toEqual(one);
            const expected = kinds
              .map((kind, i) => [i + 1, kind, { e: 'E', n: i + 1 }] as const)
              .filter(([seq, kind]) => (only ?? ['redact', 'remove', 'hide']).includes(kind) && (from === undefined || (reverse ? seq < from : seq > from)));
            expect(one).toEqual(reverse ? expected.reverse() : expected);
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
