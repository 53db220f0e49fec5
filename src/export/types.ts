import type { CategoryFacts } from '../metadata/declarations.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** One exported record: already JSON-safe (dates ISO 8601, binary base64, JSON columns as objects). */
export interface ExportRecord {
  _entity: string;
  _id: string;
  [field: string]: JsonValue;
}

export interface ArchiveCategory {
  /** The category's name as declared; kept as is inside the files, sanitized for file names. */
  name: string;
  /** purpose, legalBasis, recipients, retention, source, description (missing facts are written as null). */
  facts: CategoryFacts;
  /** Entity / provider names feeding the category (README only). */
  entities: string[];
  /** Number of records the plan expects; goes into summary.json's meta.counts before any record is written. */
  count: number;
  /** The category's records in batches. Called exactly once, after the previous category was fully written. */
  records(): AsyncIterable<ExportRecord[]>;
}

export interface ArchiveMeta {
  exportedAt: string;
  requestId: string;
  subject: { type: string; id: string; displayName: string | null };
  warnings: string[];
}

export interface ArchiveResult {
  /** Records actually written per category (may differ from the planned `count`). */
  counts: Record<string, number>;
}

export interface ExportArchiveInput {
  meta: ArchiveMeta;
  categories: ArchiveCategory[];
  /** Parent of the writer's temporary directory; defaults to os.tmpdir(). */
  tmpDir?: string;
  /** Deflate level of every entry, 0 (store) to 9; defaults to EXPORT_COMPRESSION_LEVEL. */
  compressionLevel?: number;
}

export interface ExportArchive {
  /** The ZIP file. Consume it while awaiting `done` (e.g. `Promise.all([done, pipeline(stream, sink)])`). */
  stream: import('node:stream').Readable;
  /** Resolves once every entry has been written into `stream`; rejects on any failure (and `stream` is destroyed with it). */
  done: Promise<ArchiveResult>;
}

/** The version written to summary.json's meta.formatVersion. */
export const EXPORT_FORMAT_VERSION = 1;
