import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Column, Entity, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import {
  DataSubject,
  MetadataError,
  NotExported,
  PersonalData,
  PrivacyEngine,
  Redact,
  createLocalStorage,
  defineDataSubject,
  type Actor,
  type PrivacyRequest,
} from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { createTestLogger } from './support/test-logger.js';

const SECRET = 'exclusion-secret-exclusion-secret-exclusion-01';
const admin: Actor = { id: 'dpo-1', roles: ['admin'] };

const PASSWORD_HASH = '$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0c2FsdA$passwordhashvalue';
const API_TOKEN = 'tok_live_0123456789abcdefSECRETTOKEN';
const SESSION_SECRET = 'session-refresh-secret-xyz-987';

@Entity('ex_member')
@DataSubject({ exclude: ['passwordHash'] })
class ExMember {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 191 }) @Redact('email') email!: string;
  @Column({ type: 'varchar', length: 200 }) @Redact('fixed') passwordHash!: string;
  @Column({ type: 'varchar', length: 100, nullable: true }) @NotExported() @Redact('null') apiToken!: string | null;
}

@Entity('ex_session')
@PersonalData({ category: 'sessions', link: 'member', onErase: 'anonymize' })
class ExSession {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) device!: string;
  @Column({ type: 'varchar', length: 100 }) @NotExported() refreshSecret!: string;
  @ManyToOne(() => ExMember, { nullable: false }) member!: ExMember;
}

/** The decorator-free path: defineDataSubject's exclude, on a class with no decorators of its own but @Entity. */
@Entity('ex_user')
class ExUser {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ type: 'varchar', length: 100 }) login!: string;
  @Column({ type: 'varchar', length: 200 }) passwordHash!: string;
}
defineDataSubject(ExUser, { exclude: ['passwordHash'] });

describeEachDatabase('subject columns kept out of exports (exclude, @NotExported)', (db) => {
  const engines: PrivacyEngine[] = [];
  afterAll(async () => {
    for (const engine of engines) await engine.stop();
  });

  async function engineFor(entities: Function[], subject: Function) {
    const ds = await db.createDataSource(entities);
    const engine = new PrivacyEngine({
      dataSource: ds,
      subject,
      secret: SECRET,
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-exclude-')) }),
      logger: createTestLogger(),
    });
    engines.push(engine);
    return { ds, engine };
  }

  async function run(engine: PrivacyEngine, request: Promise<PrivacyRequest>): Promise<PrivacyRequest> {
    const done = await engine.waitForRequest((await request).id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('completed');
    return done;
  }

  async function exportFiles(engine: PrivacyEngine, subjectId: number): Promise<Map<string, string>> {
    const done = await run(engine, engine.export({ subjectId, actor: admin }));
    return readZip(await streamToBuffer((await engine.download({ requestId: done.id, actor: admin })).stream));
  }

  it('excluded columns appear in no export file, and anonymize still redacts those with @Redact and resets a credential without one', async () => {
    const { ds, engine } = await engineFor([ExMember, ExSession], ExMember);
    await engine.start();
    const member = await ds.getRepository(ExMember).save({ email: 'ex@member.example', passwordHash: PASSWORD_HASH, apiToken: API_TOKEN });
    await ds.getRepository(ExSession).save({ device: 'laptop', refreshSecret: SESSION_SECRET, member });

    const fields = Object.fromEntries(engine.dataMap().entities.flatMap((e) => e.fields.map((f) => [`${e.name}.${f.name}`, f.exported])));
    expect(fields).toMatchObject({ 'ExMember.email': true, 'ExMember.passwordHash': false, 'ExMember.apiToken': false, 'ExSession.device': true, 'ExSession.refreshSecret': false });

    const files = await exportFiles(engine, member.id);
    expect([...files.keys()].sort()).toEqual(['README.md', 'categories/profile.csv', 'categories/profile.json', 'categories/sessions.csv', 'categories/sessions.json', 'summary.csv', 'summary.json']);
    for (const [name, content] of files) {
      for (const secret of [PASSWORD_HASH, API_TOKEN, SESSION_SECRET]) expect(content, `${name} holds an excluded value`).not.toContain(secret);
      for (const column of ['passwordHash', 'apiToken', 'refreshSecret']) expect(content, `${name} names an excluded column`).not.toContain(column);
    }
    const summary = JSON.parse(files.get('summary.json')!);
    expect(summary.categories.profile.records).toEqual([{ _entity: 'ExMember', _id: String(member.id), id: member.id, email: 'ex@member.example' }]);
    expect(summary.categories.sessions.records[0]).toMatchObject({ device: 'laptop' });

    await run(engine, engine.anonymize({ subjectId: member.id, actor: admin }));
    const after = await ds.getRepository(ExMember).findOneByOrFail({ id: member.id });
    expect(after.passwordHash).toBe('[REDACTED]');
    expect(after.apiToken).toBeNull();
    // No @Redact, but named like a credential: reset to a random value nobody holds (issue 15), so the session is dead.
    const secret = (await ds.getRepository(ExSession).findOneByOrFail({ device: 'laptop' })).refreshSecret;
    expect(secret).not.toBe(SESSION_SECRET);
    expect(secret).toMatch(/^[a-z0-9]{64}$/);
  });

  it('defineDataSubject takes the same exclude option', async () => {
    const { ds, engine } = await engineFor([ExUser], ExUser);
    await engine.start();
    const user = await ds.getRepository(ExUser).save({ login: 'exuser', passwordHash: PASSWORD_HASH });
    const files = await exportFiles(engine, user.id);
    for (const [name, content] of files) expect(content, name).not.toContain(PASSWORD_HASH);
    expect(JSON.parse(files.get('summary.json')!).categories.profile.records[0]).toEqual({ _entity: 'ExUser', _id: String(user.id), id: user.id, login: 'exuser' });
  });

  it('an unknown property in the subject exclude is a MetadataError naming entity and field', async () => {
    @Entity('ex_bad_person') @DataSubject({ exclude: ['passwordHsh'] })
    class ExBadPerson { @PrimaryGeneratedColumn() id!: number; @Column({ type: 'varchar', length: 100 }) passwordHash!: string; }
    const { engine } = await engineFor([ExBadPerson], ExBadPerson);
    const error = await engine.start().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect(error).toMatchObject({ entity: 'ExBadPerson', field: 'passwordHsh', message: "ExBadPerson.passwordHsh: 'exclude' names a property that is not a column" });
  });

  it('@NotExported on a property that is not a column is a MetadataError naming entity and field', async () => {
    @Entity('ex_bad_member') @DataSubject()
    class ExBadMember { @PrimaryGeneratedColumn() id!: number; @NotExported() transientToken?: string; }
    const { engine } = await engineFor([ExBadMember], ExBadMember);
    const error = await engine.start().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect(error).toMatchObject({ entity: 'ExBadMember', field: 'transientToken', message: 'ExBadMember.transientToken: @NotExported is on a property that is not a column' });
  });
});
