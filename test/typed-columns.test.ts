import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type DataSource, EntitySchema, type EntitySchemaColumnOptions } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import { MetadataError, PrivacyEngine, createLocalStorage, defineDataSubject, defineRedact } from '../src/index.js';
import { type DatabaseKind, describeEachDatabase } from './support/databases.js';

/**
 * Columns with a type of their own: a PostgreSQL enum and text[] array, a MariaDB ENUM (SQLite: simple-enum, a
 * CHECK constraint). A rule that can work must work (the bulk UPDATE casts to the column's type); one that
 * cannot is refused at start(), naming the entity and field.
 */
const STATUSES = ['active', 'inactive', 'unknown'];

defineDataSubject('TypedMember', {});
defineRedact('TypedMember', 'status', 'fixed', { value: 'unknown' });
// The same on PostgreSQL, with an array column besides.
defineDataSubject('TypedArrayMember', {});
defineRedact('TypedArrayMember', 'status', 'fixed', { value: 'unknown' });
defineRedact('TypedArrayMember', 'tags', 'fixed', { value: ['redacted'] });
defineDataSubject('TypedBadEnum', {});
defineRedact('TypedBadEnum', 'status', 'fixed', { value: 'gone' });
defineDataSubject('TypedBadArray', {});
defineRedact('TypedBadArray', 'tags', 'fixed');

function enumColumn(kind: DatabaseKind, name: string): EntitySchemaColumnOptions {
  return kind === 'sqlite' ? { type: 'simple-enum', enum: STATUSES, nullable: true } : { type: 'enum', enum: STATUSES, enumName: `${name}_status`, nullable: true };
}

function schema(kind: DatabaseKind, name: string, tableName: string, withArray = false): EntitySchema {
  const columns: Record<string, EntitySchemaColumnOptions> = { id: { type: Number, primary: true, generated: true }, status: enumColumn(kind, tableName) };
  if (withArray) columns.tags = { type: 'text', array: true, nullable: true };
  return new EntitySchema<any>({ name, tableName, columns });
}

describeEachDatabase('enum and array columns', (db) => {
  const admin = { id: 'admin', roles: ['admin'] };
  const engines: PrivacyEngine[] = [];
  afterAll(async () => {
    for (const engine of engines) await engine.stop();
  });

  const options = async (dataSource: DataSource, subject: string) => ({
    dataSource,
    subject,
    secret: 'typed-secret-typed-secret-typed-secret-0001',
    storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-typed-')) }),
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });

  async function started(subject: string, withArray: boolean): Promise<{ ds: DataSource; engine: PrivacyEngine }> {
    const ds = await db.createDataSource([schema(db.kind, subject, 'typed_member', withArray)]);
    const engine = new PrivacyEngine(await options(ds, subject));
    engines.push(engine);
    await engine.start();
    return { ds, engine };
  }

  /** The row as the database renders it. */
  async function raw(ds: DataSource, withArray: boolean): Promise<{ status: string; tags?: string }> {
    const e = (n: string) => ds.driver.escape(n);
    const text = (c: string) => (db.kind === 'postgres' ? `${e(c)}::text` : e(c));
    const [row] = await ds.query(`SELECT ${text('status')} AS status${withArray ? `, ${text('tags')} AS tags` : ''} FROM ${e('typed_member')}`);
    return row;
  }

  async function eraseAndRestore(subject: string, withArray: boolean, seed: Record<string, unknown>, redacted: Record<string, string>) {
    const { ds, engine } = await started(subject, withArray);
    await ds.getRepository(subject).save(seed);
    const before = await raw(ds, withArray);

    const erased = await engine.waitForRequest((await engine.anonymize({ subjectId: 1, actor: admin })).id, { actor: engine.system });
    expect(erased.error).toBeUndefined();
    expect(erased.status).toBe('completed');
    expect(await raw(ds, withArray)).toEqual(redacted);

    const restored = await engine.waitForRequest((await engine.restore({ requestId: erased.id, actor: admin })).id, { actor: engine.system });
    expect(restored.status).toBe('completed');
    expect(await raw(ds, withArray)).toEqual(before);
  }

  it('anonymize writes a fixed value into an enum column, and restore puts the original back', async () => {
    await eraseAndRestore('TypedMember', false, { status: 'active' }, { status: 'unknown' });
  });

  // Array columns exist on PostgreSQL only: the test is registered there alone.
  if (db.kind === 'postgres') it('anonymize writes a fixed array into an array column, and restore puts the original back', async () => {
    await eraseAndRestore('TypedArrayMember', true, { status: 'inactive', tags: ['a', 'b c'] }, { status: 'unknown', tags: '{redacted}' });
  });

  it('start() refuses a fixed value the enum column cannot hold, naming the entity and field', async () => {
    const bad = await db.createDataSource([schema(db.kind, 'TypedBadEnum', 'typed_bad_enum')]);
    const error = await new PrivacyEngine(await options(bad, 'TypedBadEnum')).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect(error).toMatchObject({ entity: 'TypedBadEnum', field: 'status' });
    expect((error as Error).message).toContain('TypedBadEnum.status');
  });

  if (db.kind === 'postgres') it('start() refuses a text value for an array column, naming the entity and field', async () => {
    const bad = await db.createDataSource([schema(db.kind, 'TypedBadArray', 'typed_bad_array', true)]);
    const error = await new PrivacyEngine(await options(bad, 'TypedBadArray')).start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect(error).toMatchObject({ entity: 'TypedBadArray', field: 'tags' });
  });
});
