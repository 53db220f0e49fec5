import { DataSource, type DataSourceOptions } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditTrail, createTypeormAudit } from '../../src/index.js';
import { sealRecord } from '../../src/audit/chain.js';
import { sqlOf } from '../../src/db/dialect.js';
import type { AuditRecord } from '../../src/ports/audit.js';
import { auditConformance } from '../../src/testing/index.js';
import { describeEachDatabase } from '../support/databases.js';

describeEachDatabase('audit table adapter', (db) => {
  let dataSource: DataSource | undefined;
  let tables = 0;
  const source = async () => (dataSource ??= await db.createDataSource([]));

  /** The attacker's view: plain SQL on the entries table, the head table left alone. */
  const tamperFor = (ds: DataSource, table: string) => {
    const sql = sqlOf(ds);
    const columns = ['tenant_id', 'seq', 'at', 'actor_id', 'action', 'request_id', 'subject_type', 'subject_id', 'subject_hash', 'details', 'prev_hash', 'hash'];
    return {
      async read(tenantId: string): Promise<AuditRecord[]> {
        const port = createTypeormAudit({ dataSource: ds, table });
        return port.list(tenantId, { limit: 100_000 });
      },
      async write(tenantId: string, records: AuditRecord[]): Promise<void> {
        const params = sql.params();
        await ds.query(`DELETE FROM ${sql.table(table)} WHERE ${sql.q('tenant_id')} = ${params.add(tenantId)}`, params.values);
        for (const record of records) {
          const insert = sql.params();
          const values = [tenantId, record.seq, record.at.getTime(), record.actorId, record.action, record.requestId ?? null, record.subject?.type ?? null, record.subject?.id ?? null, record.subject?.keyedHash ?? null, JSON.stringify(record.details), record.prevHash, record.hash];
          await ds.query(`INSERT INTO ${sql.table(table)} (${columns.map(sql.q).join(', ')}) VALUES (${values.map((value) => insert.add(value)).join(', ')})`, insert.values);
        }
      },
    };
  };

  auditConformance(
    `table [${db.label}]`,
    async () => {
      const ds = await source();
      const table = `audit_${++tables}`;
      const port = createTypeormAudit({ dataSource: ds, table });
      await port.ensureTables();
      return { port, tamper: tamperFor(ds, table) };
    },
    { describe, it, expect },
  );

  describe('table specifics', () => {
    it('creates its tables once, with the given name and a heads table beside it', async () => {
      const ds = await source();
      const port = createTypeormAudit({ dataSource: ds, table: 'privacy_audit_custom' });
      await port.ensureTables();
      await createTypeormAudit({ dataSource: ds, table: 'privacy_audit_custom' }).ensureTables();
      const runner = ds.createQueryRunner();
      try {
        expect(await runner.hasTable('privacy_audit_custom')).toBe(true);
        expect(await runner.hasTable('privacy_audit_custom_heads')).toBe(true);
      } finally {
        await runner.release();
      }
    });

    it('keeps one chain when two connections (as two processes would) append concurrently', async () => {
      const { options } = await db.createDatabase();
      const connections = [new DataSource({ ...options, entities: [] } as DataSourceOptions), new DataSource({ ...options, entities: [] } as DataSourceOptions)];
      try {
        for (const connection of connections) await connection.initialize();
        const ports = connections.map((connection) => createTypeormAudit({ dataSource: connection, table: 'audit_shared' }));
        await ports[0].ensureTables();
        const trails = ports.map((port) => createAuditTrail({ port }));
        await Promise.all(Array.from({ length: 30 }, (_, i) => trails[i % 2].record({ tenantId: 'org', actorId: `w${i}`, action: 'request.started' })));
        expect((await ports[1].list('org', { limit: 100 })).map((record) => record.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
        expect(await trails[0].verify({ tenantId: 'org' })).toEqual({ ok: true, tenantId: 'org', checked: 30, problems: [] });
      } finally {
        for (const connection of connections) if (connection.isInitialized) await connection.destroy();
      }
    });

    it('re-reads the head and retries when another connection appended between its read and its write', async () => {
      const { options } = await db.createDatabase();
      const [a, b] = [new DataSource({ ...options, entities: [] } as DataSourceOptions), new DataSource({ ...options, entities: [] } as DataSourceOptions)];
      try {
        await a.initialize();
        await b.initialize();
        const [portA, portB] = [createTypeormAudit({ dataSource: a, table: 'audit_race' }), createTypeormAudit({ dataSource: b, table: 'audit_race' })];
        await portA.ensureTables();
        const [trailA, trailB] = [createAuditTrail({ port: portA }), createAuditTrail({ port: portB })];
        await trailA.record({ tenantId: 'org', actorId: 'first', action: 'request.submitted' });
        // Make A's next transaction wait until B has appended: A then holds a stale head.
        const createQueryRunner = a.createQueryRunner.bind(a);
        let interfere = true;
        a.createQueryRunner = (...args: Parameters<DataSource['createQueryRunner']>) => {
          const runner = createQueryRunner(...args);
          const startTransaction = runner.startTransaction.bind(runner);
          runner.startTransaction = async (...startArgs: Parameters<typeof startTransaction>) => {
            if (interfere) {
              interfere = false;
              await trailB.record({ tenantId: 'org', actorId: 'other-process', action: 'request.started' });
            }
            return startTransaction(...startArgs);
          };
          return runner;
        };
        const heads: (number | null)[] = [];
        const appended = await portA.append('org', (head) => {
          heads.push(head?.seq ?? null);
          return sealRecord(head, { at: new Date(), tenantId: 'org', actorId: 'slow', action: 'request.completed', details: {} });
        });
        expect(heads).toEqual([1, 2]);
        expect(appended.seq).toBe(3);
        expect((await portB.list('org', { limit: 10 })).map((record) => record.actorId)).toEqual(['first', 'other-process', 'slow']);
        expect((await trailA.verify({ tenantId: 'org' })).ok).toBe(true);
      } finally {
        for (const connection of [a, b]) if (connection.isInitialized) await connection.destroy();
      }
    });

    it('refuses a table name that is not a plain identifier', () => {
      expect(() => createTypeormAudit({ dataSource: {} as DataSource, table: 'audit; DROP TABLE x' })).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    });
  });

  afterAll(() => {
    dataSource = undefined;
  });
});
