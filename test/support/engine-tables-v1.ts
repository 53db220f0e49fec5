import { type DataSource, Table, TableIndex } from 'typeorm';
import { dialectOf } from '../../src/db/dialect.js';

/**
 * The engine tables as privacy-engine created them before layout versions existed (layout 1: no meta table,
 * `active_key` and `subject_key` joined with '|'), kept verbatim so migration tests start from the real old layout.
 */
export async function createLayout1Tables(dataSource: DataSource, prefix = 'privacy_'): Promise<void> {
  const names = { requests: `${prefix}requests`, vault: `${prefix}vault`, subjects: `${prefix}subject_states` };
  const dialect = dialectOf(dataSource);
  const longText = dialect === 'mysql' ? 'longtext' : 'text';
  const blob = dialect === 'postgres' ? 'bytea' : dialect === 'mysql' ? 'longblob' : 'blob';
  const id = (name: string) => ({ name, type: 'varchar', length: '64' });
  const runner = dataSource.createQueryRunner();
  try {
    await runner.createTable(
      new Table({
        name: names.requests,
        columns: [
          { ...id('id'), isPrimary: true },
          { name: 'type', type: 'varchar', length: '16' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'subject_type', type: 'varchar', length: '128' },
          { name: 'subject_id', type: 'varchar', length: '191' },
          { name: 'tenant_id', type: 'varchar', length: '191', isNullable: true },
          { name: 'requested_by', type: 'varchar', length: '191' },
          // Set while a request is queued or running; unique, so two concurrent calls cannot both start the same work.
          { name: 'active_key', type: 'varchar', length: '191', isNullable: true, isUnique: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
          { name: 'started_at', type: 'bigint', isNullable: true },
          { name: 'finished_at', type: 'bigint', isNullable: true },
          { name: 'due_at', type: 'bigint' },
          { name: 'progress_done', type: 'bigint', default: 0 },
          { name: 'progress_total', type: 'bigint', default: 0 },
          { name: 'body', type: longText },
        ],
        indices: [new TableIndex({ name: `IDX_${names.requests}_subject`, columnNames: ['subject_type', 'subject_id', 'status'] })],
      }),
      true,
    );
    await runner.createTable(
      new Table({
        name: names.vault,
        columns: [
          { name: 'id', type: dialect === 'sqlite' ? 'integer' : 'bigint', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          id('request_id'),
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'seq', type: 'bigint' },
          { name: 'payload', type: blob },
          { name: 'created_at', type: 'bigint' },
        ],
        indices: [new TableIndex({ name: `IDX_${names.vault}_request`, columnNames: ['request_id', 'kind', 'seq'] })],
      }),
      true,
    );
    await runner.createTable(
      new Table({
        name: names.subjects,
        columns: [
          { name: 'subject_key', type: 'varchar', length: '191', isPrimary: true },
          { name: 'state', type: 'varchar', length: '16' },
          id('request_id'),
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
      true,
    );
  } finally {
    await runner.release();
  }
}
