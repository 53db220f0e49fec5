import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { Transform, pipeline } from 'node:stream';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';
import type { DataSource } from 'typeorm';
import { type ArchiveCategory, type ExportRecord, type JsonValue, createExportArchive } from '../export/index.js';
import type { ResolvedDataMap, ResolvedEntity, ResolvedProvider } from '../metadata/data-map.js';
import type { StoragePort } from '../ports/storage.js';
import type { ExportArtifact, ExportOutcome } from '../request.js';
import { type RawRow, countSubjectRows, streamSubjectRows } from '../db/subject-rows.js';
import { withStep, withStepSync } from './operation-context.js';

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
  /** Encrypts the ZIP on its way to storage (the engine always passes one; the benchmark measures without). */
  encrypt?: () => Transform;
}

/** Rows per export page: larger pages measured no faster (the archive, not the database, sets the pace) and hold more memory. */
export const EXPORT_PAGE_ROWS = 1000;

export function exportKey(requestId: string): string {
  return `exports/${requestId}.zip.enc`;
}

/**
 * Streams every category's records into a ZIP on the storage port. Counts are taken first (the plan),
 * so summary.json can open with them; rows are then read page by page and never all at once.
 */
export async function runExport(ctx: ExportContext): Promise<{ counts: ExportOutcome['counts']; artifact: Omit<ExportArtifact, 'status'> }> {
  const { dataSource, map } = ctx;
  const spoolDir = await mkdtemp(path.join(os.tmpdir(), 'privacy-engine-providers-'));
  try {
    const entityCounts = new Map<ResolvedEntity, number>();
    for (const entity of map.entities) entityCounts.set(entity, await withStep({ step: 'export count', entity: entity.name }, () => countSubjectRows(dataSource, entity, ctx.subject.id)));
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
            const pages = streamSubjectRows(dataSource, entity, ctx.subject.id, { batchSize: Math.min(ctx.batchSize, EXPORT_PAGE_ROWS) });
            const read = () => {
              const pending = withStep({ step: 'export read', entity: entity.name }, () => pages.next());
              pending.catch(() => undefined); // awaited below; a failure while the previous page is written is not unhandled
              return pending;
            };
            // One page read ahead: the database works on the next page while this one is formatted and written
            // (at most two pages in memory). A read left in flight by a failure or cancellation is drained.
            let next = read();
            try {
              for (;;) {
                const page = await next;
                if (page.done) break;
                next = read();
                yield withStepSync({ step: 'export format', entity: entity.name }, () => page.value.map((row) => toExportRecord(dataSource, entity, row)));
                await afterBatch(page.value.length);
              }
            } finally {
              await next.catch(() => undefined);
              await pages.return(undefined);
            }
          }
          for (const provider of providers) {
            for await (const batch of providerSpools.get(provider)!.read(Math.min(ctx.batchSize, EXPORT_PAGE_ROWS))) {
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
    const key = ctx.encrypt ? exportKey(ctx.requestId) : `exports/${ctx.requestId}.zip`;
    // The ZIP's own size is counted on its way in: the stored file (encrypted) is larger.
    let zipSize = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        zipSize += chunk.length;
        callback(null, chunk);
      },
    });
    const body = ctx.encrypt ? pipeline(archive.stream, counter, ctx.encrypt(), () => undefined) : pipeline(archive.stream, counter, () => undefined);
    // When the upload fails first, the archive's own failure that follows must not surface as an unhandled rejection.
    archive.done.catch(() => undefined);
    archive.stream.on('error', () => undefined); // reported through archive.done
    const [result, stored] = await Promise.all([archive.done, ctx.storage.put(key, body)]);
    return {
      counts: result.counts,
      artifact: {
        key,
        fileName: exportFileName(map.subject.name, ctx.subject.publicId, ctx.now),
        size: zipSize,
        storedSize: stored.size,
        encrypted: Boolean(ctx.encrypt),
        expiresAt: ctx.downloadExpiresAt().toISOString(),
      },
    };
  } finally {
    await rm(spoolDir, { recursive: true, force: true });
  }
}

export function exportFileName(subjectType: string, subjectId: string, at: Date): string {
  const safe = `${subjectType}-${subjectId}`.replace(/[^A-Za-z0-9_-]+/g, '_');
  return `personal-data-${safe}-${at.toISOString().slice(0, 10)}.zip`;
}

/**
 * Drivers and column types for which TypeORM 1.x's `prepareHydratedValue` returns a non-null value unchanged
 * when the column has no transformer: AbstractSqliteDriver (better-sqlite3), PostgresDriver and MysqlDriver
 * (mysql, mariadb) only convert the types they test for (Boolean, Date, Number, date/time, JSON, simple-*,
 * enum, set, hstore, cube, vector), and none of those is listed here. Any other driver, or a column with a
 * transformer, always goes through the driver.
 */
const IDENTITY_HYDRATION_DRIVERS = new Set<unknown>(['better-sqlite3', 'postgres', 'mysql', 'mariadb']);
const IDENTITY_HYDRATION_TYPES = new Set<unknown>([
  String, 'varchar', 'character varying', 'nvarchar', 'national varchar', 'char', 'character', 'nchar', 'national char',
  'text', 'tinytext', 'mediumtext', 'longtext', 'citext', 'uuid',
  'int', 'integer', 'int2', 'int4', 'int8', 'smallint', 'mediumint', 'tinyint', 'bigint',
  'decimal', 'numeric', 'dec', 'real', 'float', 'float4', 'float8', 'double', 'double precision',
]);

/** How one entity's rows become records, worked out once per entity and driver. */
interface ExportPlan {
  driver: DataSource['driver'];
  /** Primary key columns; `hydrate` false where the driver would return the value unchanged. */
  keys: { databaseName: string; column: ColumnMetadata; hydrate: boolean }[];
  fields: { name: string; databaseName: string; column: ColumnMetadata; hydrate: boolean }[];
}

const plans = new WeakMap<ResolvedEntity, ExportPlan>();

function exportPlan(driver: DataSource['driver'], entity: ResolvedEntity): ExportPlan {
  let plan = plans.get(entity);
  if (plan !== undefined && plan.driver === driver) return plan;
  const identityDriver = IDENTITY_HYDRATION_DRIVERS.has(driver.options.type);
  const hydrate = (column: ColumnMetadata): boolean =>
    !identityDriver || column.transformer !== undefined || !IDENTITY_HYDRATION_TYPES.has(column.type);
  plan = {
    driver,
    keys: entity.primaryKey.map((column) => ({ databaseName: column.databaseName, column, hydrate: hydrate(column) })),
    fields: entity.fields
      .filter((f) => f.exported)
      .map((f) => ({ name: f.name, databaseName: f.column.databaseName, column: f.column, hydrate: hydrate(f.column) })),
  };
  plans.set(entity, plan);
  return plan;
}

/** Turns a raw database row into an export record: hydrated by TypeORM's own rules, then made JSON-safe. */
export function toExportRecord(dataSource: DataSource, entity: ResolvedEntity, row: RawRow): ExportRecord {
  const driver = dataSource.driver;
  const { keys, fields } = exportPlan(driver, entity);
  let id = '';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const raw = row[key.databaseName];
    id += (i === 0 ? '' : ':') + String(key.hydrate ? driver.prepareHydratedValue(raw, key.column) : raw);
  }
  const record: ExportRecord = { _entity: entity.name, _id: id };
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    const raw = row[field.databaseName];
    record[field.name] =
      raw === null || raw === undefined ? null : toJsonValue(field.hydrate ? driver.prepareHydratedValue(raw, field.column) : raw);
  }
  return record;
}

const DAY_MS = 86_400_000;
const DIGIT_0 = 0x30;

/**
 * Date.prototype.toISOString for years 0 to 9999 (V8's builtin costs about 1 µs a call, this about a fifth):
 * the civil date from days since the epoch (Hinnant's days_from_civil inverse), then the fixed-width digits.
 */
function isoString(date: Date, time: number): string {
  if (!(time >= -62_167_219_200_000 && time <= 253_402_300_799_999)) return date.toISOString();
  const days = Math.floor(time / DAY_MS);
  let ms = time - days * DAY_MS;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const h = Math.floor(ms / 3_600_000);
  ms -= h * 3_600_000;
  const m = Math.floor(ms / 60_000);
  ms -= m * 60_000;
  const s = Math.floor(ms / 1000);
  ms -= s * 1000;
  const D = DIGIT_0;
  return String.fromCharCode(
    D + Math.floor(year / 1000), D + (Math.floor(year / 100) % 10), D + (Math.floor(year / 10) % 10), D + (year % 10), 0x2d,
    D + Math.floor(month / 10), D + (month % 10), 0x2d, D + Math.floor(day / 10), D + (day % 10), 0x54,
    D + Math.floor(h / 10), D + (h % 10), 0x3a, D + Math.floor(m / 10), D + (m % 10), 0x3a, D + Math.floor(s / 10), D + (s % 10), 0x2e,
    D + Math.floor(ms / 100), D + (Math.floor(ms / 10) % 10), D + (ms % 10), 0x5a,
  );
}

/** Dates as ISO 8601, binary as base64, big integers as strings, JSON documents as JSON. */
export function toJsonValue(value: unknown): JsonValue {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value instanceof Date) {
        const time = value.getTime();
        if (Number.isNaN(time)) return null;
        return Object.getPrototypeOf(value) === Date.prototype ? isoString(value, time) : value.toISOString();
      }
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
