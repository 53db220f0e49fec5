import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Column, DataSource, Entity, ManyToOne, PrimaryGeneratedColumn, type DataSourceOptions } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawRow, readSubjectRows, streamSubjectRows } from '../src/db/subject-rows.js';
import { type Actor, DataSubject, PersonalData, PrivacyEngine, createInProcessQueue, createLocalStorage } from '../src/index.js';
import { isTransient } from '../src/engine/transient.js';
import { buildDataMap } from '../src/metadata/builder.js';
import type { ResolvedEntity } from '../src/metadata/data-map.js';
import { describeEachDatabase } from './support/databases.js';

/**
 * streamSubjectRows, the export's reader: one streaming query on MySQL/MariaDB, keyset pages elsewhere. It must
 * hand out exactly what keyset pages read, and a reader that stops or fails half-way must not leave a pooled
 * connection behind with an unread result.
 */
@Entity('st_member')
@DataSubject()
class StMember {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) name!: string;
}

@Entity('st_note')
@PersonalData({ category: 'notes', link: 'member' })
class StNote {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text' }) body!: string;
  @Column({ type: 'int', nullable: true }) score!: number | null;
  @Column({ type: Date, nullable: true }) seenAt!: Date | null;
  @ManyToOne(() => StMember, { nullable: false }) member!: StMember;
}

/** 100 notes, every fifth (from the second on) the other member's. */
const NOTES = 100;
const SUBJECT_NOTES = 80;

async function collect(batches: AsyncGenerator<RawRow[]>): Promise<RawRow[][]> {
  const out: RawRow[][] = [];
  for await (const batch of batches) out.push(batch);
  return out;
}

describeEachDatabase('streamSubjectRows', (db) => {
  let ds: DataSource;
  let notes: ResolvedEntity;
  let subjectId: number;
  beforeAll(async () => {
    ds = await db.createDataSource([StMember, StNote]);
    const [subject, other] = await ds.getRepository(StMember).save([{ name: 'subject' }, { name: 'other' }]);
    // The other member's notes interleave with the subject's, so the scoping is real.
    const rows = [];
    for (let i = 0; i < NOTES; i++) {
      rows.push({ body: `note ${i}, "quoted", ünïcode`, score: i % 4 === 0 ? null : i, seenAt: i % 3 === 0 ? null : new Date(Date.UTC(2026, 0, 1, 0, 0, i)), member: i % 5 === 1 ? other : subject });
    }
    await ds.getRepository(StNote).save(rows);
    subjectId = subject.id;
    const map = buildDataMap({ dataSource: ds, subject: StMember, providers: [], redaction: { hmacKey: randomBytes(32) } });
    notes = map.entities.find((e) => e.name === 'StNote')!;
  });

  it('hands out the same raw rows as keyset pages, in key order, in batches of at most batchSize, at any batch size', async () => {
    const pages = (await collect(readSubjectRows(ds, notes, subjectId, { batchSize: 1000 }))).flat();
    expect(pages).toHaveLength(SUBJECT_NOTES);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 80 }), async (batchSize) => {
        const batches = await collect(streamSubjectRows(ds, notes, subjectId, { batchSize }));
        expect(batches.flat()).toEqual(pages);
        batches.forEach((batch, i) => {
          expect(batch.length).toBeGreaterThan(0);
          if (i < batches.length - 1) expect(batch.length).toBe(batchSize);
          else expect(batch.length).toBeLessThanOrEqual(batchSize);
        });
      }),
      { numRuns: 15 },
    );
  });

  it('leaves the pool usable after readers that stop after their first batch (more of them than the pool has connections)', async () => {
    for (let i = 0; i < 12; i++) {
      const reader = streamSubjectRows(ds, notes, subjectId, { batchSize: 2 });
      const first = await reader.next();
      expect(first.value).toHaveLength(2);
      await reader.return(undefined);
    }
    // Every connection of the pool of 5 answers, at the same time, and reads the whole subject again.
    const counts = await Promise.all(Array.from({ length: 8 }, async () => (await collect(streamSubjectRows(ds, notes, subjectId, { batchSize: 10 }))).flat().length));
    expect(counts).toEqual(Array(8).fill(counts[0]));
    if (db.kind === 'mysql') {
      // No connection is left holding the unread rest of a result.
      const busy = await ds.query(`SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%st_note%' AND INFO NOT LIKE '%PROCESSLIST%'`);
      expect(busy).toEqual([]);
    }
  });

  describe('on a pool of two connections', () => {
    let small: DataSource;
    let members: StMember[];
    beforeAll(async () => {
      const { options } = await db.createDatabase();
      small = new DataSource({ ...options, entities: [StMember, StNote], synchronize: true, poolSize: 2 } as DataSourceOptions);
      await small.initialize();
      members = await small.getRepository(StMember).save([{ name: 'first' }, { name: 'second' }]);
      await small.getRepository(StNote).save(Array.from({ length: 600 }, (_, i) => ({ body: `n${i}`, score: i, seenAt: null, member: members[i % 2] })));
    });
    afterAll(async () => small?.destroy());

    it('streams on at most one of them: a second reader reads pages, and a query still gets a connection', async () => {
      const first = streamSubjectRows(small, notes, members[0].id, { batchSize: 5 });
      const second = streamSubjectRows(small, notes, members[1].id, { batchSize: 5 });
      expect((await first.next()).value).toHaveLength(5);
      expect((await second.next()).value).toHaveLength(5);
      // Were both connections held by unread results, this would wait forever.
      const [{ one }] = await small.query('SELECT 1 AS one');
      expect(Number(one)).toBe(1);
      expect((await collect(first)).flat()).toHaveLength(295);
      expect((await collect(second)).flat()).toHaveLength(295);
    });

    it('runs two large exports at once to completion (each batch reads the request through the same pool)', async () => {
      const admin: Actor = { id: 'admin-1', roles: ['admin'] };
      const engine = new PrivacyEngine({
        dataSource: small,
        subject: StMember,
        secret: 'stream-secret-stream-secret-stream-secret-01',
        storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-stream-')) }),
        queue: createInProcessQueue({ concurrency: 2 }),
        policy: { batchSize: 3 },
      });
      await engine.start();
      try {
        const requests = await Promise.all(members.map((m) => engine.export({ subjectId: m.id, actor: admin })));
        const done = await Promise.all(requests.map((r) => engine.waitForRequest(r.id, { actor: engine.system })));
        expect(done.map((r) => [r.status, r.progress?.done])).toEqual([['completed', 301], ['completed', 301]]);
      } finally {
        await engine.stop();
      }
    });
  });

  if (db.kind === 'mysql') {
    it('fails, rather than ending short, when the connection is killed half-way, and the pool stays usable', async () => {
      // A result far larger than the socket buffers, so the server is still sending when the connection dies.
      const big = 'x'.repeat(8000);
      await ds.query(`INSERT INTO st_note (body, score, seenAt, memberId) SELECT ?, seq, NULL, ? FROM seq_1_to_3000`, [big, subjectId]);
      const total = (await collect(readSubjectRows(ds, notes, subjectId, { batchSize: 1000 }))).flat().length;
      const reader = streamSubjectRows(ds, notes, subjectId, { batchSize: 10 });
      expect((await reader.next()).value).toHaveLength(10);
      const [running] = await ds.query(`SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT %st_note%' AND INFO NOT LIKE '%PROCESSLIST%'`);
      expect(running).toBeDefined();
      await ds.query(`KILL CONNECTION ${Number(running.id)}`);
      let read = 10;
      const failure = await (async () => {
        for await (const batch of reader) read += batch.length;
      })().catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(Error);
      // A lost connection: the request runner tries the export again.
      expect(isTransient(failure)).toBe(true);
      expect(read).toBeLessThan(total);
      const [{ n }] = await ds.query(`SELECT COUNT(*) AS n FROM st_note`);
      expect(Number(n)).toBe(NOTES + 3000);
    });
  }
});
