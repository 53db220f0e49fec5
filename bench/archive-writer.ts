/**
 * Export archive writer throughput and memory.
 *   npx tsx bench/archive-writer.ts [records=100000] [compressionLevel]
 * Generates N synthetic records (8 fields, ~230 B of JSON each) in batches of 1000 over 8 categories,
 * writes the archive into a sink that discards it, prints records/s, archive size and peak RSS.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createExportArchive, type ArchiveCategory, type ExportRecord } from '../src/export/index.js';

const total = Number(process.argv[2] ?? 100_000);
const level = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const CATEGORIES = 8;
const BATCH = 1000;

const words = ['renewal', 'call', 'meeting', 'quote', 'follow-up', 'invoice', 'demo', 'contract', 'support', 'pricing'];

// Strings precomputed so that generating records costs little next to writing them.
const VARIANTS = 1024;
const pool = Array.from({ length: VARIANTS }, (_, i) => ({
  subject: `${words[i % 10]} with #${i}`,
  body: `${words[(i * 7) % 10]} and "${words[(i * 3) % 10]}", next: ${words[(i * 11) % 10]}`,
  kind: words[i % 4],
  createdAt: new Date(1_700_000_000_000 + i * 60_000).toISOString(),
  ownerEmail: `o${i % 50}@example.com`,
  tags: i % 5 === 0 ? ['vip', words[i % 10]] : null,
}));

function record(entity: string, i: number): ExportRecord {
  const v = pool[i & (VARIANTS - 1)];
  return {
    _entity: entity,
    _id: String(100_000 + i),
    subject: v.subject,
    body: v.body,
    kind: v.kind,
    amount: (i % 1000) * 12.5,
    done: i % 3 === 0,
    createdAt: v.createdAt,
    ownerEmail: v.ownerEmail,
    tags: v.tags,
  };
}

let generatedAt = 0;
const perCategory = Math.floor(total / CATEGORIES);
const categories: ArchiveCategory[] = Array.from({ length: CATEGORIES }, (_, c) => {
  const count = c === CATEGORIES - 1 ? total - perCategory * (CATEGORIES - 1) : perCategory;
  const entity = `Entity${c}`;
  return {
    name: `category-${c}`,
    facts: { purpose: 'Customer relationship management', legalBasis: 'Contract (Art. 6(1)(b))', retention: '3 years', recipients: ['Support'], source: 'The subject' },
    entities: [entity],
    count,
    async *records() {
      for (let start = 0; start < count; start += BATCH) {
        const batch: ExportRecord[] = [];
        for (let i = start; i < Math.min(count, start + BATCH); i++) batch.push(record(entity, c * perCategory + i));
        yield batch;
      }
      if (c === CATEGORIES - 1) generatedAt = performance.now();
    },
  };
});

let bytes = 0;
const sink = new Writable({
  highWaterMark: 1 << 20,
  write(chunk: Buffer, _enc, cb) {
    bytes += chunk.length;
    cb();
  },
});

const sample = Math.round(pool.reduce((n, _, i) => n + JSON.stringify(record('Entity0', i)).length, 0) / VARIANTS);
const t0 = performance.now();
const archive = createExportArchive({
  meta: { exportedAt: new Date().toISOString(), requestId: 'bench', subject: { type: 'Contact', id: '1', displayName: null }, warnings: [] },
  categories,
  compressionLevel: level,
});
const [result] = await Promise.all([archive.done, pipeline(archive.stream, sink)]);
const seconds = (performance.now() - t0) / 1000;
const written = Object.values(result.counts).reduce((a, b) => a + b, 0);
const usage = process.resourceUsage();
console.log(
  JSON.stringify({
    records: written,
    compressionLevel: level ?? 'default',
    recordJsonBytes: sample,
    seconds: Number(seconds.toFixed(2)),
    recordsPhaseSeconds: Number(((generatedAt - t0) / 1000).toFixed(2)),
    recordsPerSecond: Math.round(written / seconds),
    archiveMB: Number((bytes / 1e6).toFixed(1)),
    peakRssMB: Math.round(usage.maxRSS / 1024),
    cpuSeconds: Number(((usage.userCPUTime + usage.systemCPUTime) / 1e6).toFixed(1)),
  }),
);
