/** File names inside the export archive. */

export const SUMMARY_JSON = 'summary.json';
export const SUMMARY_CSV = 'summary.csv';
export const README_MD = 'README.md';

const MAX_BASE_LENGTH = 80;

/**
 * A file-name-safe form of a category name: accents dropped, lower-case, every run of characters outside
 * [a-z0-9_-] replaced by '_', at most 80 characters; 'category' when nothing is left.
 */
export function sanitizeCategoryName(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_BASE_LENGTH);
  return base === '' ? 'category' : base;
}

/**
 * The file base name of each category, in order: sanitized, made unique by a '-2', '-3'... suffix when two
 * names sanitize alike ('Sales notes' and 'sales_notes'). Deterministic for a given list.
 */
export function categoryFileBases(names: readonly string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    const base = sanitizeCategoryName(name);
    let candidate = base;
    for (let n = 2; taken.has(candidate); n++) candidate = `${base}-${n}`;
    taken.add(candidate);
    return candidate;
  });
}

export function categoryJsonPath(base: string): string {
  return `categories/${base}.json`;
}

export function categoryCsvPath(base: string): string {
  return `categories/${base}.csv`;
}
