import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Column, type DataSource, Entity, Index, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataSubject, PersonalData, PrivacyEngine, Redact, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { dumpTables } from './support/table-dump.js';

const RUNS = process.env.CI ? 40 : 6;
const BATCH_SIZES = [1, 2, 3, 5] as const;
const admin: Actor = { id: 'dpo-1', roles: ['admin'] };

@Entity('sp_member')
@DataSubject()
class Member {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 191, unique: true }) @Redact('email') email!: string;
}

/** String keys in mixed case: a case-insensitive collation orders them unlike JavaScript does. */
@Entity('sp_memo')
@Index(['member', 'id'])
@PersonalData({ category: 'memos', link: 'member', onErase: 'anonymize' })
class Memo {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id!: string;
  @Column({ type: 'varchar', length: 100 }) @Redact('fixed') title!: string;
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @ManyToOne(() => Member, { nullable: false }) member!: Member;
}

const scenario = fc
  .record({
    initial: fc.uniqueArray(fc.stringMatching(/^[a-zA-Z]{1,6}$/), { minLength: 0, maxLength: 9, comparator: (a, b) => a.toLowerCase() === b.toLowerCase() }),
    added: fc.uniqueArray(fc.stringMatching(/^[a-zA-Z]{1,6}$/), { maxLength: 5, comparator: (a, b) => a.toLowerCase() === b.toLowerCase() }),
    edited: fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
    removed: fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
    firstBatch: fc.constantFrom(...BATCH_SIZES),
    secondBatch: fc.constantFrom(...BATCH_SIZES),
  })
  // Keys added later never collide with the first ones, whatever the case.
  .map((s) => ({ ...s, added: s.added.filter((a) => !s.initial.some((i) => i.toLowerCase() === a.toLowerCase())) }));

describeEachDatabase('a later anonymize erases exactly what is new (property)', (db) => {
  let ds: DataSource;
  const engines = new Map<number, PrivacyEngine>();
  let run = 0;

  beforeAll(async () => {
    ds = await db.createDataSource([Member, Memo]);
    const directory = await mkdtemp(path.join(os.tmpdir(), 'pe-stackprop-'));
    // One engine per batch size on the same tables: the two erasures of a run page the rows differently.
    for (const batchSize of BATCH_SIZES) {
      const engine = new PrivacyEngine({
        dataSource: ds,
        subject: Member,
        secret: 'stackprop-secret-stackprop-secret-stackprop',
        storage: createLocalStorage({ directory }),
        policy: { batchSize },
        logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      });
      await engine.start();
      engines.set(batchSize, engine);
    }
  });
  afterAll(async () => {
    for (const engine of engines.values()) await engine.stop();
  });

  async function finish(engine: PrivacyEngine, request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  const memos = async (memberId: number) => (await dumpTables(ds)).sp_memo.filter((m: any) => m.memberId === memberId);

  it('counts, values and both restores', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        run++;
        const first = engines.get(s.firstBatch)!;
        const second = engines.get(s.secondBatch)!;
        const member = await ds.getRepository(Member).save({ email: `pii-member-${run}@mail.example` });
        const id = (k: string) => `r${run}-${k}`;
        await ds.getRepository(Memo).save(s.initial.map((k) => ({ id: id(k), title: `pii title ${k}`, body: `pii body ${k}`, member })));
        const original = await memos(member.id);

        const a1 = await finish(first, first.anonymize({ subjectId: member.id, actor: admin }));
        expect((a1.outcome as any).receipt.entities.Memo?.rows ?? 0).toBe(s.initial.length);

        const edited = s.initial.filter((_, i) => s.edited[i] && !s.removed[i]);
        for (const k of edited) await ds.getRepository(Memo).update({ id: id(k) }, { body: `pii edited ${k}` });
        const removed = s.initial.filter((_, i) => s.removed[i]);
        if (removed.length) await ds.getRepository(Memo).delete(removed.map(id));
        await ds.getRepository(Memo).save(s.added.map((k) => ({ id: id(k), title: `pii new title ${k}`, body: `pii new body ${k}`, member })));
        const middle = await dumpTables(ds);

        const a2 = await finish(second, second.anonymize({ subjectId: member.id, actor: admin }));
        const { receipt } = a2.outcome as any;
        expect(receipt.entities.Memo?.rows ?? 0).toBe(edited.length + s.added.length);
        expect(JSON.stringify(await memos(member.id))).not.toContain('pii');

        await finish(second, second.restore({ requestId: a2.id, actor: admin }));
        expect(await dumpTables(ds)).toEqual(middle);
        await finish(first, first.restore({ requestId: a1.id, actor: admin }));
        const restored = await memos(member.id);
        // The first erasure's rows are back as they were before it; rows added later keep their own values.
        expect(restored.filter((m: any) => original.some((o: any) => o.id === m.id))).toEqual(original.filter((o: any) => !removed.map(id).includes(o.id)));
        expect(restored.filter((m: any) => !original.some((o: any) => o.id === m.id))).toEqual(middle.sp_memo.filter((m: any) => m.memberId === member.id && s.added.map(id).includes(m.id)));
      }),
      { numRuns: RUNS },
    );
  });
});
