/**
 * CSV cells for the export (RFC 4180 quoting, LF row delimiter, UTF-8 without BOM), with the
 * OWASP defence against formula ("CSV") injection in spreadsheet programs.
 *
 * Hand-written rather than @fast-csv/format: the archive writes one summary.csv row per field value
 * (8M rows for 1M records), and on 10-cell rows fast-csv measured 2.3-2.4x slower (its `format()`
 * object-mode stream ~300-360k rows/s, its FieldFormatter called directly ~340-390k rows/s, this
 * ~700-890k rows/s including the formula check). @fast-csv/format 5 also has no formula escaping.
 * The output equals fast-csv's for every cell that does not start with a formula character
 * (test/export/csv.test.ts checks it against fast-csv).
 */

const NEEDS_QUOTES = /[",\r\n]/;
const QUOTES = /"/g;

/**
 * Whether a spreadsheet program could read the text as a formula: it starts with '=', '+', '-', '@',
 * a tab or a carriage return (or their full-width forms, which some spreadsheet programs normalize).
 */
export function isFormulaLike(text: string): boolean {
  const c = text.charCodeAt(0);
  return (
    c === 0x3d || c === 0x2b || c === 0x2d || c === 0x40 || c === 0x09 || c === 0x0d ||
    c === 0xff1d || c === 0xff0b || c === 0xff0d || c === 0xff20
  );
}

/**
 * One CSV cell for a text: quoted when it holds a quote, comma, CR or LF (inner quotes doubled);
 * a formula-like text gets an apostrophe in front and is quoted (the JSON files keep the original).
 */
export function csvText(text: string): string {
  if (text === '') return text;
  if (isFormulaLike(text)) text = "'" + text;
  else if (!NEEDS_QUOTES.test(text)) return text;
  return '"' + (text.indexOf('"') === -1 ? text : text.replace(QUOTES, '""')) + '"';
}

/**
 * One CSV cell for a JSON value: null and undefined are empty, numbers and booleans as JSON writes them
 * (never formula-escaped: a number such as -5 is no formula), objects and arrays as JSON text.
 */
export function csvValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return csvText(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : '';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return '';
      if (value instanceof Date) return csvText(value.toJSON() ?? '');
      return csvText(JSON.stringify(value));
    case 'bigint':
      return String(value);
    default:
      return '';
  }
}
