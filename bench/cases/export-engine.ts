import { stat } from 'node:fs/promises';
import path from 'node:path';
import { type BenchCase, type CaseContext, ADMIN, completed, elapsed, startEngine, startTimer } from '../harness.js';
import { SUBJECT_ID } from '../schema.js';

/** engine.export end to end: request, queue, keyset pages, ZIP encrypted at rest and streamed to local storage. */
export const exportEngine: BenchCase = {
  name: 'export-engine',
  operation: 'export',
  role: 'engine',
  databases: ['postgres', 'mysql'],
  run: (ctx) => runExportCase(ctx, false),
};

/** The same export with the archive stored unencrypted (not possible through the public API): the cost of encryption. */
export const exportEnginePlaintext: BenchCase = {
  name: 'export-engine-plaintext',
  operation: 'export',
  role: 'engine',
  databases: ['postgres', 'mysql'],
  run: (ctx) => runExportCase(ctx, true),
};

async function runExportCase(ctx: CaseContext, plaintextArchives: boolean) {
  const { engine, stop } = await startEngine(ctx, { plaintextArchives });
  const t0 = startTimer();
  const done = await completed(engine, await engine.export({ subjectId: SUBJECT_ID, actor: ADMIN }));
  const seconds = elapsed(t0);
  await stop();
  const outcome = done.outcome as { counts: Record<string, number>; artifact: { key: string } };
  const exported = Object.values(outcome.counts).reduce((a, b) => a + b, 0);
  // The subject's own row (profile) is exported too.
  if (exported !== ctx.rows + 1) throw new Error(`exported ${exported} records, expected ${ctx.rows + 1}`);
  const archive = await stat(path.join(ctx.workDir, outcome.artifact.key));
  return { rows: ctx.rows, seconds, extra: { archive_mb: +(archive.size / 1e6).toFixed(1), encrypted: !plaintextArchives } };
}
