import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';
import { type BenchCase, elapsed, startTimer } from '../harness.js';
import { BENCH_TABLES, Contact, SUBJECT_ID } from '../schema.js';
import { openDataSource } from '../seed.js';

/**
 * The seeds' remediation snippet: Promise.all of one find() per table, JSON.stringify of the whole result,
 * zipped in memory (yazl, deflate level 1 as the engine), then written out. Memory grows with N; at about
 * a million rows it is expected to die (V8's string limit or heap), which the orchestrator reports as crashed.
 */
export const exportNaive: BenchCase = {
  name: 'export-naive',
  operation: 'export',
  role: 'naive',
  databases: ['postgres', 'mysql'],
  async run(ctx) {
    const ds = await openDataSource(ctx.db, ctx.database);
    const t0 = startTimer();
    const where = { contact: { id: SUBJECT_ID } };
    const [profile, ...lists] = await Promise.all([
      ds.getRepository(Contact).findOne({ where: { id: SUBJECT_ID }, withDeleted: true }),
      ...BENCH_TABLES.map((t) => ds.getRepository(t.entity).find({ where, withDeleted: true, order: { id: 'ASC' } })),
    ]);
    const json = JSON.stringify(
      { _meta: { exportedAt: new Date().toISOString() }, profile, ...Object.fromEntries(BENCH_TABLES.map((t, i) => [t.table, lists[i]])) },
      null,
      2,
    );
    const zip = new yazl.ZipFile();
    zip.addBuffer(Buffer.from(json), 'my-data.json', { compressionLevel: 1 });
    zip.end();
    const chunks: Buffer[] = [];
    for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
    await writeFile(path.join(ctx.workDir, 'my-data.zip'), Buffer.concat(chunks));
    const seconds = elapsed(t0);
    await ds.destroy();
    const rows = lists.reduce((n, list) => n + list.length, 0);
    if (rows !== ctx.rows) throw new Error(`found ${rows} rows, expected ${ctx.rows}`);
    return { rows: ctx.rows, seconds };
  },
};
