import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { DataSource } from 'typeorm';
import { type ArchiveCategory, type ExportRecord, type JsonValue, createExportArchive } from '../export/index.js';
import type { ResolvedDataMap, ResolvedEntity, ResolvedProvider } from '../metadata/data-map.js';
import type { StoragePort } from '../ports/storage.js';
import type { ExportOutcome } from '../engine/request.js';
import { type RawRow, countSubjectRows, readSubjectRows } from '../engine/subject-rows.js';

export interface ExportContext {
  dataSource: DataSource;
  map: ResolvedDataMap;
  storage: StoragePort;
  batchSize: number;
  requestId: string;
  subject: { id: unknown; publicId: string; tenantId: string | null; displayName: string | null };
  warnings: string[];
  now: Date;
  /** When the download stops working, counted from the moment the archive is stored. */
  downloadExpiresAt: () => Date;
  /** Called after every batch with records written so far and the total planned. */
  onProgress(done: number, total: number): Promise<void>;
  /** Throws when the request was cancelled, between batches. */
  checkCancelled(): Promise<void>;
}

export function exportKey(requestId: string): string {
  return `exports/${requestId}.zip`;
}

/**
 * Streams every category's records into a ZIP on the storage port. Counts are taken first (the plan),
 * so summary.json can open with them; rows are then read page by page and never all at once.
 */
export async function runExport(ctx: ExportContext): Promise<ExportOutcome> {
  const { dataSource, map } = ctx;
  const spoolDir = await mkdtemp(path.join(os.tmpdir(), 'privacy-engine-providers-'));
  try {
    const entityCounts = new Map<ResolvedEntity, number>();
    for (const entity of map.entities) entityCounts.set(entity, await countSubjectRows(dataSource, entity, ctx.subject.id));
    const providerSpools = new Map<ResolvedProvider, Spool>();
    for (const provider of map.providers) providerSpools.set(provider, await spoolProvider(provider, ctx, spoolDir));

    const total = [...entityCounts.values(), ...[...providerSpools.values()].map((s) => s.count)].reduce((a, b) => a + b, 0);
    let done = 0;
    await ctx.onProgress(0, total);
    const afterBatch = async (n: number) => {
      done += n;
      await ctx.onProgress(done, total);
      await ctx.checkCancelled();
    };

    const categories: ArchiveCategory[] = map.categories.map((category) => {
      const entities = map.entities.filter((e) => e.category === category.name);
      const providers = map.providers.filter((p) => p.category === category.name);
      return {
        name: category.name,
        facts: category,
        entities: [...category.entities, ...category.providers],
        count: entities.reduce((n, e) => n + entityCounts.get(e)!, 0) + providers.reduce((n, p) => n + providerSpools.get(p)!.count, 0),
        records: async function* () {
          for (const entity of entities) {
            for await (const rows of readSubjectRows(dataSource, entity, ctx.subject.id, { batchSize: ctx.batchSize })) {
              yield rows.map((row) => toExportRecord(dataSource, entity, row));
              await afterBatch(rows.length);
            }
          }
          for (const provider of providers) {
            for await (const batch of providerSpools.get(provider)!.read(ctx.batchSize)) {
              yield batch;
              await afterBatch(batch.length);
            }
          }
        },
      };
    });

    const archive = createExportArchive({
      meta: {
        exportedAt: ctx.now.toISOString(),
        requestId: ctx.requestId,
        subject: { type: map.subject.name, id: ctx.subject.publicId, displayName: ctx.subject.displayName },
        warnings: ctx.warnings,
      },
      categories,
    });
    const key = exportKey(ctx.requestId);
    const [result, stored] = await Promise.all([archive.done, ctx.storage.put(key, archive.stream)]);
    return {
      counts: result.counts,
      artifact: { key, fileName: exportFileName(map.subject.name, ctx.subject.publicId, ctx.now), size: stored.size, expiresAt: ctx.downloadExpiresAt().toISOString() },
    };
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}

export function exportFileName(subjectType: string, subjectId: string, at: Date): string {
  const safe = `${subjectType}-${subjectId}`.replace(/[^A-Za-z0-9_-]+/g, '_');
  return `personal-data-${safe}-${at.toISOString().slice(0, 10)}.zip`;
}

/** Turns a raw database row into an export record: hydrated by TypeORM's own rules, then made JSON-safe. */
export function toExportRecord(dataSource: DataSource, entity: ResolvedEntity, row: RawRow): ExportRecord {
  const record: ExportRecord = { _entity: entity.name, _id: '' };
  const driver = dataSource.driver;
  const ids: string[] = [];
  for (const c of entity.primaryKey) ids.push(String(driver.prepareHydratedValue(row[c.databaseName], c)));
  record._id = ids.join(':');
  for (const field of entity.fields) {
    if (!field.exported) continue;
    const raw = row[field.column.databaseName];
    record[field.name] = toJsonValue(raw === null || raw === undefined ? null : driver.prepareHydratedValue(raw, field.column));
  }
  return record;
}

/** Dates as ISO 8601, binary as base64, big integers as strings, JSON documents as JSON. */
export function toJsonValue(value: unknown): JsonValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
      if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      if (Array.isArray(value)) return value.map(toJsonValue);
      const out: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v);
      return out;
    }
    default:
      return String(value);
  }
}

interface Spool {
  count: number;
  read(batchSize: number): AsyncGenerator<ExportRecord[]>;
}

/**
 * Providers yield records without telling how many; the archive needs counts up front, so their records
 * are spooled to a temporary NDJSON file (flat memory) and replayed.
 */
async function spoolProvider(provider: ResolvedProvider, ctx: ExportContext, dir: string): Promise<Spool> {
  const file = path.join(dir, `${provider.name.replace(/[^A-Za-z0-9_-]+/g, '_')}-${Math.random().toString(36).slice(2)}.ndjson`);
  const out = createWriteStream(file, { mode: 0o600 });
  let count = 0;
  try {
    for await (const item of provider.provider.export({ id: ctx.subject.id as string | number, tenantId: ctx.subject.tenantId, requestId: ctx.requestId })) {
      const { id, ...fields } = (item ?? {}) as Record<string, unknown>;
      const record = { _entity: provider.name, _id: id === undefined || id === null ? String(count + 1) : String(id), ...(toJsonValue(fields) as object) };
      if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, 'drain');
      count++;
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return {
    count,
    async *read(batchSize) {
      const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
      let batch: ExportRecord[] = [];
      for await (const line of lines) {
        if (!line) continue;
        batch.push(JSON.parse(line) as ExportRecord);
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    },
  };
}
