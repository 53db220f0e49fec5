export { createExportArchive, EXPORT_COMPRESSION_LEVEL } from './archive.js';
export { buildExportReadme, type ReadmeCategory, type ReadmeOptions } from './readme.js';
export { csvText, csvValue, isFormulaLike } from './csv.js';
export { categoryFileBases, sanitizeCategoryName } from './paths.js';
export {
  EXPORT_FORMAT_VERSION,
  type ArchiveCategory,
  type ArchiveMeta,
  type ArchiveResult,
  type ExportArchive,
  type ExportArchiveInput,
  type ExportRecord,
  type JsonValue,
} from './types.js';
