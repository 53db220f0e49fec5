import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import mysql from 'mysql2';
import pg from 'pg';
import { type BenchCase, type CaseContext, elapsed, startTimer } from '../harness.js';
import { BENCH_TABLES, SUBJECT_ID, SUBJECT_TABLE } from '../schema.js';
import { databaseUrl } from '../seed.js';

/**
 * The physical floor: the same rows streamed with the bare driver (a PostgreSQL cursor; a mysql2 streaming
 * query) into gzip'd NDJSON, no ORM, no archive. Deflate level 1, as the engine's archive uses.
 */
export const exportFloor: BenchCase = {
  name: 'export-floor',
  operation: 'export',
  role: 'floor',
  databases: ['postgres', 'mysql'],
  async run(ctx) {
    const gzip = zlib.createGzip({ level: 1 });
    const written = pipeline(gzip, createWriteStream(path.join(ctx.workDir, 'export.ndjson.gz')));
    const write = async (text: string) => {
      if (!gzip.write(text)) await once(gzip, 'drain');
    };
    const rows = ctx.db === 'postgres' ? await postgresCursor(ctx, write) : await mysqlStream(ctx, write);
    if (rows.subjectRows !== ctx.rows) throw new Error(`read ${rows.subjectRows} rows, expected ${ctx.rows}`);
    gzip.end();
    await written;
    return { rows: ctx.rows, seconds: elapsed(rows.t0) };
  },
};

const tables = [SUBJECT_TABLE, ...BENCH_TABLES.map((t) => t.table)];

async function postgresCursor(ctx: CaseContext, write: (text: string) => Promise<void>) {
  const client = new pg.Client({ connectionString: databaseUrl('postgres', ctx.database) });
  await client.connect();
  const t0 = startTimer();
  let subjectRows = 0;
  await client.query('BEGIN');
  for (const table of tables) {
    const column = table === SUBJECT_TABLE ? 'id' : 'contactId';
    await client.query(`DECLARE rows_cursor NO SCROLL CURSOR FOR SELECT * FROM "${table}" WHERE "${column}" = $1 ORDER BY id`, [SUBJECT_ID]);
    const fetch = () => client.query(`FETCH ${ctx.batchSize} FROM rows_cursor`);
    // The next page is asked for before this one is serialized, so the server works while Node does.
    for (let next = fetch(); ; ) {
      const { rows } = await next;
      if (rows.length === 0) break;
      next = fetch();
      let text = '';
      for (const row of rows) text += JSON.stringify(row) + '\n';
      await write(text);
      if (table !== SUBJECT_TABLE) subjectRows += rows.length;
    }
    await client.query('CLOSE rows_cursor');
  }
  await client.query('COMMIT');
  await client.end();
  return { t0, subjectRows };
}

async function mysqlStream(ctx: CaseContext, write: (text: string) => Promise<void>) {
  const connection = mysql.createConnection({ uri: databaseUrl('mysql', ctx.database), timezone: 'Z', supportBigNumbers: true, bigNumberStrings: true });
  await connection.promise().connect();
  const t0 = startTimer();
  let subjectRows = 0;
  for (const table of tables) {
    const column = table === SUBJECT_TABLE ? 'id' : 'contactId';
    const stream = connection.query(`SELECT * FROM \`${table}\` WHERE \`${column}\` = ? ORDER BY id`, [SUBJECT_ID]).stream({ highWaterMark: ctx.batchSize });
    let text = '';
    let pending = 0;
    for await (const row of stream) {
      text += JSON.stringify(row) + '\n';
      if (table !== SUBJECT_TABLE) subjectRows++;
      if (++pending === ctx.batchSize) {
        await write(text);
        text = '';
        pending = 0;
      }
    }
    if (text) await write(text);
  }
  await connection.promise().end();
  return { t0, subjectRows };
}
