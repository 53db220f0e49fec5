import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { PrivacyEngine, createLocalStorage, type Actor } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { Contact, crmEntities } from './fixtures/crm.js';
import { seedContact } from './fixtures/crm-seed.js';

/**
 * A host edit lands between the moment a batch reads its page and the moment it writes: the page read is
 * wrapped so the edit runs (from another connection) right after the read returns. Read outside the batch's
 * transaction, the edit commits and the batch then writes from its stale copy; read inside it with the rows
 * locked, the edit has to wait for the batch (here it gives up after a short lock timeout).
 */
const hook = vi.hoisted(() => ({ afterPageRead: null as null | ((entity: string) => Promise<void>) }));
vi.mock('../src/db/subject-rows.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/db/subject-rows.js')>();
  return {
    ...original,
    readSubjectPage: async (...args: Parameters<typeof original.readSubjectPage>) => {
      const rows = await original.readSubjectPage(...args);
      const [, entity, , options] = args;
      // The batch loop's reads only (they lock their rows); not the probe of identifying values or other look-ups.
      if (hook.afterPageRead && options.lock && rows.length > 0) await hook.afterPageRead(entity.name);
      return rows;
    },
  };
});

const admin: Actor = { id: 'dpo-1', roles: ['admin'], tenantId: 'org-a' };
const EDITED_EMAIL = 'edited-after-read@mail.example';
const EDITED_PHONE = '+1 555 0199';

describeEachDatabase('erasure reads each page inside its batch transaction', (db) => {
  const sources: DataSource[] = [];
  let ds: DataSource;
  let host: DataSource;
  let engine: PrivacyEngine;

  beforeAll(async () => {
    const { options } = await db.createDatabase();
    ds = new DataSource({ ...options, entities: crmEntities, synchronize: true, logging: false } as DataSourceOptions);
    await ds.initialize();
    sources.push(ds);
    // The host application's own connection; on SQLite a second handle on the same file, quick to give up on a lock.
    host = new DataSource({ ...options, entities: crmEntities, logging: false, ...(db.kind === 'sqlite' ? { timeout: 300 } : {}) } as DataSourceOptions);
    await host.initialize();
    sources.push(host);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Contact,
      tenantColumn: 'organizationId',
      secret: 'stale-pages-secret-stale-pages-secret-stale',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-stale-')) }),
      policy: { batchSize: 10 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
  });
  afterAll(async () => {
    hook.afterPageRead = null;
    await engine?.stop();
    for (const source of sources) if (source.isInitialized) await source.destroy();
  });

  /** The host's edit of the contact, from its own connection; 'locked' when it had to give up waiting for a lock. */
  async function hostEdit(id: number): Promise<'applied' | 'locked'> {
    const e = (name: string) => host.driver.escape(name);
    const p = (i: number) => (db.kind === 'postgres' ? `$${i}` : '?');
    try {
      await host.transaction(async (tx) => {
        if (db.kind === 'postgres') await tx.query(`SET LOCAL lock_timeout = '1s'`);
        if (db.kind === 'mysql') await tx.query('SET SESSION innodb_lock_wait_timeout = 1');
        await tx.query(`UPDATE ${e('crm_contact')} SET ${e('email')} = ${p(1)}, ${e('phone')} = ${p(2)} WHERE ${e('id')} = ${p(3)}`, [EDITED_EMAIL, EDITED_PHONE, id]);
      });
      return 'applied';
    } catch (error) {
      const text = `${(error as Error).message} ${(error as { driverError?: { code?: string } }).driverError?.code ?? ''}`;
      if (/lock|busy|55P03|ER_LOCK_WAIT_TIMEOUT/i.test(text)) return 'locked';
      throw error;
    }
  }

  async function contactRow(id: number): Promise<{ email: string; phone: string | null }> {
    const [row] = await ds.query(`SELECT ${ds.driver.escape('email')} AS email, ${ds.driver.escape('phone')} AS phone FROM ${ds.driver.escape('crm_contact')} WHERE ${ds.driver.escape('id')} = ${db.kind === 'postgres' ? '$1' : '?'}`, [id]);
    return row;
  }

  it('a host edit made after the page was read waits for the batch, so nothing it writes escapes the erasure or the vault', async () => {
    const { contact } = await seedContact(ds, 'org-a', 'tokstale01');
    await ds.query(`UPDATE ${ds.driver.escape('crm_contact')} SET ${ds.driver.escape('phone')} = NULL WHERE ${ds.driver.escape('id')} = ${contact.id}`);
    const before = await contactRow(contact.id);

    let edit: 'applied' | 'locked' | undefined;
    hook.afterPageRead = async (entity) => {
      if (entity !== 'Contact' || edit) return;
      edit = await hostEdit(contact.id);
    };
    const erased = await engine.waitForRequest((await engine.anonymize({ subjectId: contact.id, actor: admin })).id, { actor: engine.system });
    hook.afterPageRead = null;
    expect(erased.status).toBe('completed');

    // Whatever the host wrote is erased: the phone it added after the read must not survive the anonymize.
    const after = await contactRow(contact.id);
    expect(after.phone).not.toBe(EDITED_PHONE);
    expect(after.email).not.toBe(EDITED_EMAIL);
    // The rows of the page stayed locked until the batch committed (SQLite: the reading transaction blocks writers).
    expect(edit).toBe('locked');

    // And restore brings back exactly what the rows held when they were erased.
    const restored = await engine.waitForRequest((await engine.restore({ requestId: erased.id, actor: admin })).id, { actor: engine.system });
    expect(restored.status).toBe('completed');
    expect(await contactRow(contact.id)).toEqual(edit === 'applied' ? { email: EDITED_EMAIL, phone: EDITED_PHONE } : before);
  });
});
