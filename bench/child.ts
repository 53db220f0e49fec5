/**
 * Runs ONE case in its own process, so that its peak RSS (process.resourceUsage().maxRSS) is its own.
 * Spawned by bench/run.ts: `node --import tsx bench/child.ts '<CaseContext & { case } as JSON>'`.
 * Prints one line `BENCH_RESULT {...}` on stdout; exits non-zero when the case throws or crashes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CASES } from './cases/index.js';
import { type CaseContext, RESULT_PREFIX, profileFlushed, timedCpuSeconds } from './harness.js';

async function main(): Promise<void> {
  const { case: name, ...rest } = JSON.parse(process.argv[2] ?? '{}') as Omit<CaseContext, 'workDir'> & { case: string };
  const benchCase = CASES.find((c) => c.name === name);
  if (!benchCase) throw new Error(`unknown case ${name}`);
  const workDir = await mkdtemp(path.join(os.tmpdir(), `pe-bench-${name}-`));
  // Where the memory is when RSS peaks (sampled): V8 heap, or buffers outside it.
  let peak = process.memoryUsage();
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    if (now.rss > peak.rss) peak = now;
  }, 50);
  try {
    const output = await benchCase.run({ ...rest, workDir });
    clearInterval(sampler);
    await profileFlushed();
    const mb = (bytes: number) => Math.round(bytes / 1048576);
    const memory = { heap_total_mb: mb(peak.heapTotal), heap_used_mb: mb(peak.heapUsed), external_mb: mb(peak.external), array_buffers_mb: mb(peak.arrayBuffers) };
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ ...output, extra: { ...output.extra, ...timedCpuSeconds(), memory_at_peak: memory }, peak_rss_mb: peakRssMb })}\n`);
  } finally {
    clearInterval(sampler);
    await rm(workDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
