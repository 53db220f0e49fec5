import { Entity, PrimaryGeneratedColumn } from 'typeorm';
import { expect, it } from 'vitest';
import { DataCategoryProvider, DataSubject, MetadataError, PrivacyEngine, ValidationError } from '../src/index.js';
import { describeEachDatabase } from './support/databases.js';
import { createTestLogger } from './support/test-logger.js';

it('MetadataError and ValidationError keep the cause they are given, outside details', () => {
  const cause = new Error('underlying');
  const metadata = new MetadataError('bad map', { entity: 'Note', field: 'body', cause });
  expect(metadata.cause).toBe(cause);
  expect(metadata.details).toEqual({ entity: 'Note', field: 'body' });
  expect(new ValidationError('bad input', [], cause).cause).toBe(cause);
});

class ConstructorFailure extends Error {}

@DataCategoryProvider({ name: 'calendar', category: 'calendar' })
class CalendarNeedingArguments {
  constructor() {
    throw new ConstructorFailure('needs a client');
  }
  async *export() {}
}
void CalendarNeedingArguments;

describeEachDatabase('a MetadataError raised on a failure keeps that failure as its cause', (db) => {
  it('a provider class whose constructor throws', async () => {
    @Entity('err1_person') @DataSubject() class PersonE1 { @PrimaryGeneratedColumn() id!: number; }
    const dataSource = await db.createDataSource([PersonE1]);
    const engine = new PrivacyEngine({ dataSource, subject: PersonE1, secret: 'errors-secret-errors-secret-errors-secret-01', logger: createTestLogger() });
    const error = await engine.start().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as MetadataError).cause).toBeInstanceOf(ConstructorFailure);
  });
});
