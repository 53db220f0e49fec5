import { Column, DeleteDateColumn, Entity, JoinTable, ManyToMany, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataSubject, PersonalData, PrivacyEngine, Redact, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describeEachDatabase } from './support/databases.js';

const RUNS = process.env.CI ? 60 : 12;

/** Random tickets among a few people: each with an optional requester and any set of CCs. */
const ticketsArbitrary = fc.integer({ min: 2, max: 4 }).chain((people) => {
  const person = fc.nat({ max: people - 1 });
  return fc.record({
    people: fc.constant(people),
    tickets: fc.array(fc.record({ requester: fc.option(person), ccs: fc.uniqueArray(person, { maxLength: people }) }), { maxLength: 6 }),
    erased: person,
  });
});

const admin: Actor = { id: 'dpo', roles: ['admin'] };

@Entity('sr_person') @DataSubject()
class SrPerson {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) @Redact('name') name!: string;
}

/** Exclusive through its requester, shared through its CCs. */
@Entity('sr_ticket')
@PersonalData({ category: 'tickets', link: ['requester', 'ccs'] })
class SrTicket {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text' }) @Redact('text') body!: string;
  @ManyToOne(() => SrPerson, { nullable: true }) requester!: SrPerson | null;
  @ManyToMany(() => SrPerson) @JoinTable({ name: 'sr_ticket_cc' }) ccs!: SrPerson[];
}

/** Only shared links: a group belongs to all its members. */
@Entity('sr_group')
@PersonalData({ category: 'groups', link: 'members', onErase: 'delete' })
class SrGroup {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) title!: string;
  @ManyToMany(() => SrPerson) @JoinTable({ name: 'sr_group_member' }) members!: SrPerson[];
  @DeleteDateColumn() deletedAt?: Date | null;
}

/** Shared, with the explicit opt-in to erase such rows anyway. */
@Entity('sr_thread')
@PersonalData({ category: 'threads', link: 'participants', shared: 'erase' })
class SrThread {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'text' }) @Redact('text') topic!: string;
  @ManyToMany(() => SrPerson) @JoinTable({ name: 'sr_thread_participant' }) participants!: SrPerson[];
}

/**
 * Defect 13 of issue 8: a link crossing a to-many hop reaches rows other people own too. Erasure keeps such
 * rows and flags them for review unless the entity opts in with `shared: 'erase'`; export still includes them.
 */
describeEachDatabase('rows shared with other people', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;

  beforeAll(async () => {
    ds = await db.createDataSource([SrPerson, SrTicket, SrGroup, SrThread]);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: SrPerson,
      secret: 'shared-rows-secret-shared-rows-secret-0001',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-shared-')) }),
      logger: { info() {}, warn() {}, error() {} },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  async function run(request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id, { actor: engine.system });
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  async function seed(token: string) {
    const [alice, bob] = await ds.getRepository(SrPerson).save([{ name: `Alice ${token}` }, { name: `Bob ${token}` }]);
    const tickets = ds.getRepository(SrTicket);
    const own = await tickets.save({ body: `alice asks ${token}`, requester: alice, ccs: [] });
    const ccd = await tickets.save({ body: `bob asks ${token}`, requester: bob, ccs: [alice] });
    const group = await ds.getRepository(SrGroup).save({ title: `group ${token}`, members: [alice, bob] });
    const thread = await ds.getRepository(SrThread).save({ topic: `thread ${token}`, participants: [alice, bob] });
    return { alice, bob, own, ccd, group, thread };
  }

  it('shows in dataMap() which links are exclusive and which are shared', () => {
    const entities = engine.dataMap().entities;
    const ticket = entities.find((e) => e.name === 'SrTicket')!;
    expect(ticket.links.map((l) => [l.path, l.sharing])).toEqual([
      ['requester', 'exclusive'],
      ['ccs', 'shared'],
    ]);
    expect(ticket.shared).toBe('review');
    expect(entities.find((e) => e.name === 'SrThread')!.shared).toBe('erase');
  });

  it('anonymize redacts rows the person owns alone, keeps shared ones as they are and flags them for review', async () => {
    const { alice, own, ccd, thread } = await seed('toksr0001');
    const done = await run(engine.anonymize({ subjectId: alice.id, actor: admin }));

    expect((await ds.getRepository(SrTicket).findOneByOrFail({ id: own.id })).body).not.toContain('toksr0001');
    expect((await ds.getRepository(SrTicket).findOneByOrFail({ id: ccd.id })).body).toBe('bob asks toksr0001');
    // Opted in: erased although Bob takes part too.
    expect((await ds.getRepository(SrThread).findOneByOrFail({ id: thread.id })).topic).not.toContain('toksr0001');

    const { receipt } = done.outcome as any;
    expect(receipt.entities.SrTicket).toMatchObject({ rows: 1 });
    // Groups have no @Redact field: anonymize changes none of their rows, so none is flagged.
    expect(receipt.shared).toEqual([{ category: 'tickets', entity: 'SrTicket', rows: 1 }]);
    expect(done.review.map((r) => r.item)).toEqual(['SrTicket']);
    expect(JSON.stringify(done)).not.toContain('toksr0001');
  });

  it('delete hides no group its other members still belong to, and export still includes shared rows', async () => {
    const { alice, bob, group } = await seed('toksr0002');
    const exported = await run(engine.export({ subjectId: alice.id, actor: admin }));
    expect((exported.outcome as any).counts).toMatchObject({ tickets: 2, groups: 1, threads: 1 });

    const done = await run(engine.delete({ subjectId: alice.id, actor: admin }));
    const kept = await ds.getRepository(SrGroup).findOneOrFail({ where: { id: group.id }, relations: { members: true } });
    expect(kept.deletedAt ?? null).toBeNull();
    expect(kept.members.map((m) => m.id).sort()).toEqual([alice.id, bob.id].sort());
    const { receipt } = done.outcome as any;
    expect(receipt.entities.SrGroup).toBeUndefined();
    expect([...receipt.shared].sort((a: { entity: string }, b: { entity: string }) => a.entity.localeCompare(b.entity))).toEqual([
      { category: 'groups', entity: 'SrGroup', rows: 1 },
      { category: 'tickets', entity: 'SrTicket', rows: 1 },
    ]);
    expect(done.review.map((r) => r.item).sort()).toEqual(['SrGroup', 'SrTicket']);
  });

  it(`anonymize changes exactly the tickets the person requested and flags exactly those they are only CC'd on (${RUNS} random sets)`, async () => {
    let seq = 0;
    await fc.assert(
      fc.asyncProperty(ticketsArbitrary, async ({ people, tickets, erased }) => {
        const token = `tokprop${++seq}x`;
        const persons = await ds.getRepository(SrPerson).save(Array.from({ length: people }, (_, i) => ({ name: `P${i} ${token}` })));
        const saved = await ds.getRepository(SrTicket).save(
          tickets.map((t, i) => ({ body: `ticket ${i} ${token}`, requester: t.requester === null ? null : persons[t.requester], ccs: t.ccs.map((c) => persons[c]) })),
        );
        const done = await run(engine.anonymize({ subjectId: persons[erased].id, actor: admin }));
        const owned = tickets.map((t) => t.requester === erased);
        const onlyCcd = tickets.filter((t, i) => !owned[i] && t.ccs.includes(erased)).length;
        for (const [i, ticket] of saved.entries()) {
          const body = (await ds.getRepository(SrTicket).findOneByOrFail({ id: ticket.id })).body;
          expect(body === `ticket ${i} ${token}`).toBe(!owned[i]);
        }
        const shared = (done.outcome as any).receipt.shared.find((s: { entity: string }) => s.entity === 'SrTicket');
        expect(shared?.rows ?? 0).toBe(onlyCcd);
        expect(done.review.some((r) => r.item === 'SrTicket')).toBe(onlyCcd > 0);
      }),
      { numRuns: RUNS },
    );
  });
});
