/**
 * Model-based test of erasure safety (issue 8): random sequences of export, anonymize, delete, restore (whole,
 * by category, by record), forced purge and new host writes, on the small CRM of test/fixtures/model-crm.ts.
 *
 * The model knows every stored cell as the database renders it (text casts, test/support/raw-dump.ts) and which
 * erasure changed it. Each command predicts, cell by cell, what the database must hold afterwards; then, after
 * every step, the test checks:
 * - no original value of an erasure in force is visible in a user-facing row (soft-deleted rows are not);
 * - after a restore, what it covers is byte-identical to before the erasure (the original cells, the rows it
 *   hid or removed), and nothing else moved;
 * - after a purge, none of its originals is anywhere in the database, the engine's tables included, and the
 *   vault holds nothing of it;
 * - retained rows are never removed nor changed.
 *
 * Rules encoded (issue 8):
 * (a) an erasure can be restored (whole, by category or by record) only when every later erasure of the same
 *     subject is fully restored: a later one in force gives ConflictError naming it, a later one purged gives
 *     WindowClosedError;
 * (b) a second anonymize/delete erases only what is new since (values written after the earlier erasure, rows
 *     it did not hide or remove), with its own vault entries; restoring it puts back only what it changed;
 * (c) one erasure-family request per subject at a time: the test waits for each request to finish.
 * A request that changed nothing may say so (`receipt.alreadyErasedBy`); such a no-op blocks nothing and
 * cannot be restored or purged (ConflictError), as docs/erasure.md says.
 *
 * Knobs: PRIVACY_MODEL_RUNS (sequences per database, default 100; the time limit grows with it), PRIVACY_MODEL_MAX_COMMANDS (default 12),
 * PRIVACY_MODEL_SEED (replay a seed), PRIVACY_MODEL_ONLY (comma-separated command kinds to generate, e.g.
 * "anonymize,delete,restore,edit" to look past one known failure).
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc, { type AsyncCommand } from 'fast-check';
import type { DataSource, EntityMetadata } from 'typeorm';
import { afterAll, beforeAll, it } from 'vitest';
import { PrivacyEngine, createLocalStorage, type Actor, type PrivacyRequest } from '../src/index.js';
import { readZip, streamToBuffer } from './support/archive.js';
import { describeEachDatabase } from './support/databases.js';
import { type RawTextRow, rawTextRows, resetTables, vaultRowsOf } from './support/raw-dump.js';
import { allTextValues } from './support/table-dump.js';
import { Invoice, Message, Note, Person, Visit, modelEntities } from './fixtures/model-crm.js';

const RUNS = Number(process.env.PRIVACY_MODEL_RUNS) || 100;
const MAX_COMMANDS = Number(process.env.PRIVACY_MODEL_MAX_COMMANDS) || 12;
const SEED = process.env.PRIVACY_MODEL_SEED ? Number(process.env.PRIVACY_MODEL_SEED) : undefined;
// A run of 100 sequences takes about 15 s (SQLite) to 40 s (PostgreSQL, MariaDB) on 2 cores; more fails the budget.
const TIME_LIMIT_MS = Math.max(210_000, RUNS * 2_000);
const ONLY = process.env.PRIVACY_MODEL_ONLY ? new Set(process.env.PRIVACY_MODEL_ONLY.split(',').map((s) => s.trim())) : null;
const TENANT = 'org-model';
const admin: Actor = { id: 'dpo-model', roles: ['admin'], tenantId: TENANT };
const SUBJECTS = 2;

// ---- the CRM's tables, as the model sees them ---------------------------------------------------------------

type T = 'person' | 'note' | 'visit' | 'message' | 'invoice';
type Action = 'redact' | 'hide' | 'remove' | null;

interface TableInfo {
  entity: Function;
  name: string;
  category: string;
  /** Columns with @Redact, and how the host writes a fresh value into each. */
  personal: Record<string, (token: string) => string>;
  deletedAt?: string;
  /** What anonymize and delete do to the table's rows. */
  on: { anonymize: Action; delete: Action };
}

const TABLES: Record<T, TableInfo> = {
  person: {
    entity: Person,
    name: 'Person',
    category: 'pm-profile',
    personal: { email: (t) => `${t}@mail.example`, name: (t) => `Name ${t}`, phone: (t) => `+1 ${t}` },
    deletedAt: 'deletedAt',
    on: { anonymize: 'redact', delete: 'hide' },
  },
  note: {
    entity: Note,
    name: 'Note',
    category: 'pm-notes',
    personal: { title: (t) => `Title ${t}`, body: (t) => `Body about ${t}` },
    on: { anonymize: 'redact', delete: 'redact' },
  },
  visit: {
    entity: Visit,
    name: 'Visit',
    category: 'pm-visits',
    personal: { place: (t) => `Visited ${t}` },
    deletedAt: 'deletedAt',
    on: { anonymize: 'redact', delete: 'hide' },
  },
  message: {
    entity: Message,
    name: 'Message',
    category: 'pm-messages',
    personal: { fromAddress: (t) => `${t}@sender.example`, body: (t) => `Hello ${t}` },
    on: { anonymize: 'redact', delete: 'remove' },
  },
  invoice: { entity: Invoice, name: 'Invoice', category: 'pm-invoices', personal: {}, on: { anonymize: null, delete: null } },
};
/** Children first: the order rows are emptied in between runs, and the order purge removes hidden rows in. */
const TABLE_ORDER: T[] = ['message', 'visit', 'note', 'invoice', 'person'];
const CHILD_TABLES: T[] = ['note', 'visit', 'message', 'invoice'];
const PERSON_FK = 'personId';

const TOKEN = /tk\d{5}q/g;
const tokensIn = (value: string | null | undefined): string[] => (value ? (value.match(TOKEN) ?? []) : []);
const hasToken = (value: string | null | undefined) => tokensIn(value).length > 0;

// ---- the model ----------------------------------------------------------------------------------------------

interface MRow {
  t: T;
  key: string;
  /** Index of the subject the row belongs to. */
  s: number;
  cells: RawTextRow;
}

interface Effect {
  kind: 'redact' | 'hide' | 'remove';
  t: T;
  key: string;
  col?: string;
  before?: string | null;
  after?: string | null;
  /** The whole row just before the erasure touched it (hide, remove). */
  snapshot?: RawTextRow;
  /** The original tokens the effect took out of sight. */
  tokens: string[];
  restored: boolean;
}

interface Erasure {
  id: string;
  type: 'anonymize' | 'delete';
  noop: boolean;
  status: 'in force' | 'restored' | 'purged';
  effects: Effect[];
}

interface Subject {
  id: string;
  removed: boolean;
  erasures: Erasure[];
}

interface Model {
  rows: Map<string, MRow>;
  subjects: Subject[];
  nextToken: number;
  invoices: Set<string>;
  /** Labels of the erasures, for readable messages (e.g. "A1 (anonymize s0)"). */
  labels: Map<string, string>;
}

interface Real {
  ds: DataSource;
  engine: PrivacyEngine;
}

const rowId = (t: T, key: string) => `${t}:${key}`;
const token = (m: Model) => `tk${String(m.nextToken++).padStart(5, '0')}q`;
const label = (m: Model, id: string) => m.labels.get(id) ?? id;
const inForce = (e: Erasure) => !e.noop && e.status === 'in force';
const isHidden = (row: MRow) => Boolean(TABLES[row.t].deletedAt && row.cells[TABLES[row.t].deletedAt!] !== null);
const rowsOf = (m: Model, s: number, t?: T) => [...m.rows.values()].filter((r) => r.s === s && (t === undefined || r.t === t));

/** The unrestored effects of erasures in force, for one subject. */
function liveEffects(m: Model, s: number): Effect[] {
  return m.subjects[s].erasures.filter(inForce).flatMap((e) => e.effects.filter((f) => !f.restored));
}

// ---- expectations: what every cell must hold after a step ----------------------------------------------------

type Rule =
  | { kind: 'eq'; v: string | null; why: string }
  | { kind: 'redacted'; why: string } // a fresh value: not null, no original token
  | { kind: 'nonToken'; why: string } // anything without an original token (null included)
  | { kind: 'set'; why: string } // not null (a delete-date column)
  | { kind: 'oneOf'; vs: Array<string | null>; why: string };

interface RowExpectation {
  t: T;
  key: string;
  s: number;
  rules: Record<string, Rule>;
}

interface Expectation {
  rows: Map<string, RowExpectation>;
  /** Rows that must be gone, with the reason. */
  absent: Map<string, string>;
  /** Rows a host write adds (checked by the command itself). */
  allowNew: T | null;
}

/** "Nothing changes": every present row keeps every cell. */
function unchanged(m: Model, why = 'not touched by this step'): Expectation {
  const rows = new Map<string, RowExpectation>();
  for (const [id, row] of m.rows) {
    rows.set(id, { t: row.t, key: row.key, s: row.s, rules: Object.fromEntries(Object.entries(row.cells).map(([c, v]) => [c, { kind: 'eq', v, why } as Rule])) });
  }
  return { rows, absent: new Map(), allowNew: null };
}

type Dump = Record<T, Map<string, RawTextRow>>;

async function dump(ds: DataSource): Promise<Dump> {
  const out = {} as Dump;
  for (const t of TABLE_ORDER) out[t] = await rawTextRows(ds, ds.getMetadata(TABLES[t].entity));
  return out;
}

function checkRule(rule: Rule, actual: string | null): boolean {
  switch (rule.kind) {
    case 'eq':
      return actual === rule.v;
    case 'redacted':
      return actual !== null && !hasToken(actual);
    case 'nonToken':
      return !hasToken(actual);
    case 'set':
      return actual !== null;
    case 'oneOf':
      return rule.vs.includes(actual);
  }
}

function describeRule(rule: Rule): string {
  switch (rule.kind) {
    case 'eq':
      return JSON.stringify(rule.v);
    case 'redacted':
      return 'a redacted value (not null, no original)';
    case 'nonToken':
      return 'no original value';
    case 'set':
      return 'a deletion date (hidden)';
    case 'oneOf':
      return `one of ${JSON.stringify(rule.vs)}`;
  }
}

/** Compares the database with the expectation; throws every mismatch (first few), then updates the model rows. */
function compare(m: Model, expected: Expectation, actual: Dump, step: string): void {
  const problems: string[] = [];
  for (const t of TABLE_ORDER) {
    for (const [key, row] of actual[t]) {
      const id = rowId(t, key);
      const e = expected.rows.get(id);
      if (!e) {
        if (expected.absent.has(id)) problems.push(`${TABLES[t].name} ${key} should be gone (${expected.absent.get(id)}) but is still there`);
        else if (expected.allowNew !== t) problems.push(`${TABLES[t].name} ${key} appeared, unexpected`);
        continue;
      }
      for (const [col, rule] of Object.entries(e.rules)) {
        if (!checkRule(rule, row[col])) {
          problems.push(`${TABLES[t].name} ${key}.${col} is ${JSON.stringify(row[col])}, expected ${describeRule(rule)} [${rule.why}]`);
        }
      }
    }
    for (const e of expected.rows.values()) {
      if (e.t === t && !actual[t].has(e.key)) problems.push(`${TABLES[t].name} ${e.key} is missing [${Object.values(e.rules)[0]?.why ?? 'expected'}]`);
    }
  }
  if (problems.length) throw new Error(`after ${step}:\n  - ${problems.slice(0, 8).join('\n  - ')}${problems.length > 8 ? `\n  - … ${problems.length - 8} more` : ''}`);
  // The database now holds exactly what was predicted: the model takes the observed values (redacted ones included).
  for (const e of expected.rows.values()) m.rows.set(rowId(e.t, e.key), { t: e.t, key: e.key, s: e.s, cells: { ...actual[e.t].get(e.key)! } });
  for (const id of expected.absent.keys()) m.rows.delete(id);
}

/** Invariants that hold after every step whatever the command was. */
function checkInvariants(m: Model, actual: Dump, step: string): void {
  const problems: string[] = [];
  // 1. No original of an erasure in force in a user-facing row.
  const hiddenOriginals = new Map<string, string>();
  m.subjects.forEach((subject) => {
    for (const e of subject.erasures.filter(inForce)) for (const f of e.effects.filter((x) => !x.restored)) for (const tk of f.tokens) hiddenOriginals.set(tk, label(m, e.id));
  });
  for (const t of TABLE_ORDER) {
    const deletedAt = TABLES[t].deletedAt;
    for (const [key, row] of actual[t]) {
      if (deletedAt && row[deletedAt] !== null) continue; // soft-deleted: not user-facing
      for (const [col, value] of Object.entries(row)) {
        for (const tk of tokensIn(value)) {
          if (hiddenOriginals.has(tk)) problems.push(`user-facing ${TABLES[t].name} ${key}.${col} shows an original erased by ${hiddenOriginals.get(tk)} that is still in force`);
        }
      }
    }
  }
  // 4. Retained rows are never removed.
  for (const key of m.invoices) if (!actual.invoice.has(key)) problems.push(`retained Invoice ${key} was removed`);
  if (problems.length) throw new Error(`invariant broken after ${step}:\n  - ${problems.slice(0, 8).join('\n  - ')}`);
}

/** How a command spells the subject id: as a number, as a string, or zero-padded ("01", which must reach the same subject or be refused). */
type Spelling = 'number' | 'string' | 'padded';
const spell = (id: string, spelling: Spelling): string | number => (spelling === 'number' ? Number(id) : spelling === 'string' ? id : `0${id}`);

/** A zero-padded id may be refused as non-canonical (ValidationError); the refusal must change nothing. */
async function refusedSpelling(m: Model, ds: DataSource, result: { refused?: any }, spelling: Spelling, step: string): Promise<boolean> {
  if (spelling !== 'padded' || result.refused?.code !== 'VALIDATION') return false;
  const after = await dump(ds);
  compare(m, unchanged(m, 'a refused call changes nothing'), after, step);
  checkInvariants(m, after, step);
  return true;
}

async function settle(engine: PrivacyEngine, call: () => Promise<PrivacyRequest>): Promise<{ refused: any; done?: never } | { done: PrivacyRequest; refused?: never }> {
  let queued: PrivacyRequest;
  try {
    queued = await call();
  } catch (error) {
    return { refused: error };
  }
  return { done: await engine.waitForRequest(queued.id, { actor: engine.system, timeoutMs: 30_000 }) };
}

function describeError(error: any): string {
  return error && typeof error === 'object' ? `${error.code ?? error.name}: ${error.message}` : String(error);
}

/** Asserts a refusal: the call must have been refused with one of the codes (and, if given, name one of the ids). */
function expectRefusal(result: { refused?: any; done?: PrivacyRequest }, codes: string[], step: string, reason: string, naming: string[] = []): void {
  if (!result.refused) {
    throw new Error(`${step}: expected a refusal (${codes.join(' or ')}: ${reason}) but it was accepted and ended ${result.done!.status}`);
  }
  const error = result.refused;
  if (!codes.includes(error?.code)) throw new Error(`${step}: expected ${codes.join(' or ')} (${reason}), got ${describeError(error)}`);
  if (naming.length && error.code === 'CONFLICT') {
    const text = `${error.message} ${JSON.stringify(error.details ?? {})}`;
    if (!naming.some((id) => text.includes(id))) throw new Error(`${step}: the ConflictError does not name the later erasure in force (${naming.join(', ')}): ${error.message}`);
  }
}

function expectCompleted(result: { refused?: any; done?: PrivacyRequest }, step: string): PrivacyRequest {
  if (result.refused) throw new Error(`${step}: refused unexpectedly: ${describeError(result.refused)}`);
  const done = result.done!;
  if (done.status !== 'completed') throw new Error(`${step}: ended ${done.status}${done.error ? ` (${done.error.code}: ${done.error.message})` : ''}`);
  return done;
}

// ---- commands -----------------------------------------------------------------------------------------------

type Cmd = AsyncCommand<Model, Real>;

class ExportCmd implements Cmd {
  constructor(readonly s: number, readonly spelling: Spelling) {}
  check = () => true;
  toString = () => `export(s${this.s}${this.spelling === 'number' ? '' : `, id as ${this.spelling}`})`;
  async run(m: Model, { ds, engine }: Real): Promise<void> {
    const step = this.toString();
    const subject = m.subjects[this.s];
    const result = await settle(engine, () => engine.export({ subjectId: spell(subject.id, this.spelling), actor: admin }));
    if (await refusedSpelling(m, ds, result, this.spelling, step)) return;
    if (subject.removed) {
      expectRefusal(result, ['NOT_FOUND'], step, 'the subject was removed by a purge');
    } else {
      const done = expectCompleted(result, step);
      const files = await readZip(await streamToBuffer((await engine.download({ requestId: done.id, actor: admin })).stream));
      const exported = new Set([...files.values()].flatMap((text) => tokensIn(text)));
      // What is held about the subject, hidden rows included, and nothing else: no vaulted original, no one else's value.
      const held = new Set(rowsOf(m, this.s).flatMap((r) => Object.values(r.cells).flatMap(tokensIn)));
      const extra = [...exported].filter((tk) => !held.has(tk));
      const missing = [...held].filter((tk) => !exported.has(tk));
      if (extra.length || missing.length) throw new Error(`${step}: the export holds values not stored for the subject (${extra.join(', ') || 'none'}) or misses stored ones (${missing.join(', ') || 'none'})`);
    }
    const after = await dump(ds);
    compare(m, unchanged(m, 'export changes nothing'), after, step);
    checkInvariants(m, after, step);
  }
}

class HostInsertCmd implements Cmd {
  constructor(readonly s: number, readonly t: Exclude<T, 'person'>) {}
  check = (m: Readonly<Model>) => !m.subjects[this.s].removed;
  toString = () => `host inserts a ${TABLES[this.t].name} for s${this.s}`;
  async run(m: Model, { ds }: Real): Promise<void> {
    const step = this.toString();
    const person = { id: Number(m.subjects[this.s].id) };
    await insertRow(ds, m, this.t, person);
    const after = await dump(ds);
    const expected = unchanged(m);
    expected.allowNew = this.t;
    compare(m, expected, after, step);
    for (const [key, cells] of after[this.t]) if (!m.rows.has(rowId(this.t, key))) m.rows.set(rowId(this.t, key), { t: this.t, key, s: this.s, cells: { ...cells } });
    if (this.t === 'invoice') for (const key of after.invoice.keys()) m.invoices.add(key);
    checkInvariants(m, after, step);
  }
}

class HostEditCmd implements Cmd {
  constructor(readonly s: number, readonly t: Exclude<T, 'invoice'>, readonly pick: number, readonly field: number) {}
  check = (m: Readonly<Model>) => !m.subjects[this.s].removed;
  toString = () => `host edits ${TABLES[this.t].name}#${this.pick}.${Object.keys(TABLES[this.t].personal)[this.field % Object.keys(TABLES[this.t].personal).length]} of s${this.s}`;
  async run(m: Model, { ds }: Real): Promise<void> {
    const step = this.toString();
    // The host edits what its users see: rows that are not soft-deleted.
    const candidates = rowsOf(m, this.s, this.t).filter((r) => !isHidden(r));
    const expected = unchanged(m);
    if (candidates.length) {
      const row = candidates[this.pick % candidates.length];
      const cols = Object.keys(TABLES[this.t].personal);
      const col = cols[this.field % cols.length];
      const value = TABLES[this.t].personal[col](token(m));
      const metadata = ds.getMetadata(TABLES[this.t].entity);
      await ds.createQueryBuilder().update(metadata.target).set({ [col]: value }).where('id = :id', { id: Number(row.key) }).execute();
      expected.rows.get(rowId(this.t, row.key))!.rules[col] = { kind: 'eq', v: value, why: 'the host wrote it' };
    }
    const after = await dump(ds);
    compare(m, expected, after, step);
    checkInvariants(m, after, step);
  }
}

class EraseCmd implements Cmd {
  constructor(readonly s: number, readonly type: 'anonymize' | 'delete', readonly spelling: Spelling) {}
  check = () => true;
  toString = () => `${this.type}(s${this.s}${this.spelling === 'number' ? '' : `, id as ${this.spelling}`})`;
  async run(m: Model, { ds, engine }: Real): Promise<void> {
    const step = this.toString();
    const subject = m.subjects[this.s];
    const result = await settle(engine, () => engine[this.type]({ subjectId: spell(subject.id, this.spelling), actor: admin }));
    if (await refusedSpelling(m, ds, result, this.spelling, step)) return;
    if (subject.removed) {
      expectRefusal(result, ['NOT_FOUND'], step, 'the subject was removed by a purge');
      const after = await dump(ds);
      compare(m, unchanged(m), after, step);
      return checkInvariants(m, after, step);
    }
    const done = expectCompleted(result, step);
    const n = subject.erasures.length + 1;
    m.labels.set(done.id, `${this.type === 'anonymize' ? 'A' : 'D'}${n}(s${this.s}) ${done.id}`);
    const name = label(m, done.id);

    // What this erasure must do (rule b): everything its plan covers, minus what an erasure in force already did.
    const live = liveEffects(m, this.s);
    const hiddenByLive = new Set(live.filter((f) => f.kind === 'hide').map((f) => rowId(f.t, f.key)));
    const redactedByLive = new Map(live.filter((f) => f.kind === 'redact').map((f) => [`${rowId(f.t, f.key)}.${f.col}`, f.after]));
    const expected = unchanged(m);
    const required = new Map<T, number>();
    const optional = new Map<T, number>();
    const touchedRows = { required: new Set<string>(), optional: new Set<string>() };
    for (const row of rowsOf(m, this.s)) {
      const info = TABLES[row.t];
      const action = info.on[this.type];
      const id = rowId(row.t, row.key);
      const rules = expected.rows.get(id)!.rules;
      if (hiddenByLive.has(id) && action !== 'remove') {
        for (const rule of Object.values(rules)) rule.why = `hidden by an erasure in force: ${name} leaves the row alone`;
      }
      if (action === 'remove') {
        expected.rows.delete(id);
        expected.absent.set(id, `${name} removes it`);
        touchedRows.required.add(id);
      } else if (action === 'hide') {
        if (!isHidden(row)) {
          rules[info.deletedAt!] = { kind: 'set', why: `${name} hides it` };
          touchedRows.required.add(id);
        }
      } else if (action === 'redact' && !hiddenByLive.has(id)) {
        for (const col of Object.keys(info.personal)) {
          const value = row.cells[col];
          if (value === null) continue;
          if (hasToken(value)) {
            rules[col] = { kind: 'redacted', why: `${name} must redact a value no erasure in force covers` };
            touchedRows.required.add(id);
          } else if (redactedByLive.get(`${id}.${col}`) === value) {
            rules[col] = { kind: 'eq', v: value, why: `already redacted by an erasure in force: ${name} leaves it` };
          } else {
            // Redacted for good by a purged erasure: it may be redacted again or left.
            rules[col] = { kind: 'nonToken', why: `${name}: permanently redacted value` };
            touchedRows.optional.add(id);
          }
        }
      }
    }
    for (const id of touchedRows.required) required.set(id.split(':')[0] as T, (required.get(id.split(':')[0] as T) ?? 0) + 1);
    for (const id of touchedRows.optional) if (!touchedRows.required.has(id)) optional.set(id.split(':')[0] as T, (optional.get(id.split(':')[0] as T) ?? 0) + 1);

    const receipt = (done.outcome as { receipt?: any } | undefined)?.receipt ?? {};
    const noop = Boolean(receipt.alreadyErasedBy);
    if (noop && required.size) {
      const what = [...required].map(([t, k]) => `${k} ${TABLES[t].name} row(s)`).join(', ');
      throw new Error(`${step}: ${name} was a no-op (alreadyErasedBy ${label(m, receipt.alreadyErasedBy)}) although ${what} held personal data no erasure in force covers`);
    }
    const before = new Map([...m.rows].map(([id, r]) => [id, { ...r, cells: { ...r.cells } }]));
    const after = await dump(ds);
    compare(m, noop ? unchanged(m, `${name} is a no-op`) : expected, after, step);

    const erasure: Erasure = { id: done.id, type: this.type, noop, status: 'in force', effects: [] };
    if (!noop) {
      for (const [id, old] of before) {
        if (old.s !== this.s) continue;
        const now = m.rows.get(id);
        if (!now) {
          erasure.effects.push({ kind: 'remove', t: old.t, key: old.key, snapshot: old.cells, tokens: Object.values(old.cells).flatMap(tokensIn), restored: false });
          continue;
        }
        const deletedAt = TABLES[old.t].deletedAt;
        if (deletedAt && old.cells[deletedAt] === null && now.cells[deletedAt] !== null) {
          erasure.effects.push({ kind: 'hide', t: old.t, key: old.key, snapshot: old.cells, tokens: Object.values(old.cells).flatMap(tokensIn), restored: false });
        }
        for (const col of Object.keys(TABLES[old.t].personal)) {
          if (old.cells[col] !== now.cells[col]) {
            erasure.effects.push({ kind: 'redact', t: old.t, key: old.key, col, before: old.cells[col], after: now.cells[col], tokens: tokensIn(old.cells[col]), restored: false });
          }
        }
      }
      // The receipt counts what this erasure changed, per entity.
      for (const t of TABLE_ORDER) {
        const rows = Number(receipt.entities?.[TABLES[t].name]?.rows ?? 0);
        const min = required.get(t) ?? 0;
        const max = min + (optional.get(t) ?? 0);
        if (rows < min || rows > max) throw new Error(`${step}: the receipt of ${name} counts ${rows} ${TABLES[t].name} row(s), expected ${min === max ? min : `${min} to ${max}`}`);
      }
    }
    subject.erasures.push(erasure);
    checkInvariants(m, after, step);
  }
}

type RestoreFilter = { kind: 'all' } | { kind: 'categories'; tables: T[] } | { kind: 'records'; picks: number[] };

class RestoreCmd implements Cmd {
  constructor(readonly s: number, readonly pick: number, readonly filter: RestoreFilter, readonly numericIds: boolean) {}
  check = (m: Readonly<Model>) => m.subjects[this.s].erasures.length > 0;
  toString = () =>
    `restore(s${this.s}, erasure #${this.pick}, ${
      this.filter.kind === 'all' ? 'whole' : this.filter.kind === 'categories' ? `categories ${this.filter.tables.map((t) => TABLES[t].category).join('+')}` : `records #${this.filter.picks.join(',#')}`
    })`;
  async run(m: Model, { ds, engine }: Real): Promise<void> {
    const subject = m.subjects[this.s];
    const index = this.pick % subject.erasures.length;
    const e = subject.erasures[index];
    const step = `${this.toString()} = restore of ${label(m, e.id)}`;

    // The rows a record filter names: rows this erasure covers first, then any row of the subject.
    const covered = [...new Map(e.effects.map((f) => [rowId(f.t, f.key), { t: f.t, key: f.key }])).values()];
    const pool = [...covered, ...rowsOf(m, this.s).filter((r) => !covered.some((c) => c.t === r.t && c.key === r.key)).map((r) => ({ t: r.t, key: r.key }))];
    const records = this.filter.kind === 'records' && pool.length ? [...new Set(this.filter.picks.map((p) => pool[p % pool.length]))] : [];
    const filter =
      this.filter.kind === 'categories'
        ? { categories: [...new Set(this.filter.tables.map((t) => TABLES[t].category))] }
        : this.filter.kind === 'records' && records.length
          ? { records: records.map((r) => ({ entity: TABLES[r.t].name, id: this.numericIds ? Number(r.key) : r.key })) }
          : {};
    const partial = Object.keys(filter).length > 0;
    const result = await settle(engine, () => engine.restore({ requestId: e.id, actor: admin, ...filter }));

    // Rule (a), and the documented refusals.
    const later = subject.erasures.slice(index + 1).filter((x) => !x.noop);
    const laterInForce = later.filter((x) => x.status === 'in force');
    const laterPurged = later.filter((x) => x.status === 'purged');
    const codes = new Set<string>();
    const reasons: string[] = [];
    const refuse = (code: string, reason: string) => {
      codes.add(code);
      reasons.push(reason);
    };
    if (e.noop) refuse('CONFLICT', 'it changed nothing');
    if (e.status === 'restored') refuse('CONFLICT', 'it was restored already');
    if (e.status === 'purged') refuse('WINDOW_CLOSED', 'it was purged');
    if (laterInForce.length) refuse('CONFLICT', `a later erasure is in force: ${laterInForce.map((x) => label(m, x.id)).join(', ')}`);
    if (laterPurged.length) refuse('WINDOW_CLOSED', `a later erasure was purged: ${laterPurged.map((x) => label(m, x.id)).join(', ')}`);
    if (codes.size) {
      const onlyLater = reasons.length === 1 && laterInForce.length > 0;
      expectRefusal(result, [...codes], step, reasons.join('; '), onlyLater ? laterInForce.map((x) => x.id) : []);
      const after = await dump(ds);
      compare(m, unchanged(m, 'a refused restore changes nothing'), after, step);
      return checkInvariants(m, after, step);
    }

    const done = expectCompleted(result, step);
    const outcome = done.outcome as { partial?: boolean } | undefined;
    if (outcome?.partial !== partial) throw new Error(`${step}: outcome.partial is ${outcome?.partial}, expected ${partial}`);
    const selected = (f: Effect) =>
      this.filter.kind === 'all' || !partial
        ? true
        : 'categories' in filter
          ? filter.categories!.includes(TABLES[f.t].category)
          : records.some((r) => r.t === f.t && r.key === f.key);
    const expected = unchanged(m);
    const why = `restore of ${label(m, e.id)}: as before the erasure`;
    // Newest first, as the engine walks its vault: a row removed is back before its cells are written.
    for (const f of [...e.effects].reverse()) {
      const id = rowId(f.t, f.key);
      if (f.restored) {
        // Restored by an earlier partial restore; a whole restore may write the original again over a later host edit.
        if (!partial && f.kind === 'redact' && expected.rows.has(id)) {
          const rule = expected.rows.get(id)!.rules[f.col!];
          if (rule.kind === 'eq') expected.rows.get(id)!.rules[f.col!] = { kind: 'oneOf', vs: [rule.v, f.before!], why: `${why} (restored earlier)` };
        }
        continue;
      }
      if (!selected(f)) continue;
      if (f.kind === 'remove') {
        const snapshot = f.snapshot!;
        expected.absent.delete(id);
        expected.rows.set(id, { t: f.t, key: f.key, s: this.s, rules: Object.fromEntries(Object.entries(snapshot).map(([c, v]) => [c, { kind: 'eq', v, why } as Rule])) });
      } else if (f.kind === 'hide') {
        expected.rows.get(id)!.rules[TABLES[f.t].deletedAt!] = { kind: 'eq', v: null, why };
      } else {
        expected.rows.get(id)!.rules[f.col!] = { kind: 'eq', v: f.before!, why };
      }
      f.restored = true;
    }
    const after = await dump(ds);
    compare(m, expected, after, step);
    if (!partial) {
      e.status = 'restored';
      const left = await vaultRowsOf(ds, e.id);
      if (left) throw new Error(`${step}: after a whole restore the vault still holds ${left} row(s) of ${label(m, e.id)}`);
    }
    checkInvariants(m, after, step);
  }
}

class PurgeCmd implements Cmd {
  constructor(readonly s: number, readonly pick: number) {}
  check = (m: Readonly<Model>) => m.subjects[this.s].erasures.length > 0;
  toString = () => `purge(s${this.s}, erasure #${this.pick}, force)`;
  async run(m: Model, { ds, engine }: Real): Promise<void> {
    const subject = m.subjects[this.s];
    const e = subject.erasures[this.pick % subject.erasures.length];
    const step = `${this.toString()} = purge of ${label(m, e.id)}`;
    const result = await settle(engine, () => engine.purge({ requestId: e.id, actor: admin, force: true }));
    // Rows a later erasure still standing removed may need a parent this erasure hid: that one goes (or comes back) first.
    const later = subject.erasures.slice(subject.erasures.indexOf(e) + 1);
    const blocked = e.effects.some((f) => f.kind === 'hide') && later.some((x) => inForce(x) && x.effects.some((f) => f.kind === 'remove'));
    const reason = e.noop
      ? 'it changed nothing'
      : e.status === 'restored'
        ? 'it was restored'
        : e.status === 'purged'
          ? 'it was purged already'
          : blocked
            ? 'a later erasure still standing removed rows that may need rows it hid'
            : null;
    if (reason) {
      expectRefusal(result, ['CONFLICT'], step, reason);
      const after = await dump(ds);
      compare(m, unchanged(m, 'a refused purge changes nothing'), after, step);
      return checkInvariants(m, after, step);
    }
    const done = expectCompleted(result, step);
    if ((done.outcome as { keyDestroyed?: boolean } | undefined)?.keyDestroyed !== true) throw new Error(`${step}: outcome.keyDestroyed is not true`);

    // Rows it hid and that are still hidden go for good, children first; a row kept rows still reference stays
    // hidden with every personal column emptied. (Rows a later erasure removed cannot need them: such a purge is
    // refused above; earlier erasures can no longer be restored once a later one is purged.)
    const expected = unchanged(m, 'a purge changes nothing else');
    const hidden = e.effects.filter((f) => f.kind === 'hide' && !f.restored && m.rows.has(rowId(f.t, f.key)) && isHidden(m.rows.get(rowId(f.t, f.key))!));
    hidden.sort((a, b) => TABLE_ORDER.indexOf(a.t) - TABLE_ORDER.indexOf(b.t));
    const gone = new Set<string>();
    for (const f of hidden) {
      const id = rowId(f.t, f.key);
      const referenced =
        f.t === 'person' &&
        CHILD_TABLES.some((t) => rowsOf(m, this.s, t).some((r) => !gone.has(rowId(t, r.key)) && r.cells[PERSON_FK] === f.key));
      if (referenced) {
        for (const col of Object.keys(TABLES[f.t].personal)) expected.rows.get(id)!.rules[col] = { kind: 'nonToken', why: `purge of ${label(m, e.id)}: a kept row references it, so it is emptied` };
      } else {
        expected.rows.delete(id);
        expected.absent.set(id, `purge of ${label(m, e.id)} removes the rows it hid`);
        gone.add(id);
      }
    }
    const after = await dump(ds);
    compare(m, expected, after, step);
    e.status = 'purged';
    if (gone.has(rowId('person', subject.id))) subject.removed = true;

    // No original it took out of sight is left anywhere, the engine's tables included; the vault holds nothing of it.
    const originals = new Set(e.effects.filter((f) => !f.restored).flatMap((f) => f.tokens));
    const everywhere = new Set((await allTextValues(ds)).flatMap(tokensIn));
    const left = [...originals].filter((tk) => everywhere.has(tk));
    if (left.length) throw new Error(`${step}: originals of ${label(m, e.id)} are still in the database after its purge: ${left.join(', ')}`);
    const vaultRows = await vaultRowsOf(ds, e.id);
    if (vaultRows) throw new Error(`${step}: the vault still holds ${vaultRows} row(s) of ${label(m, e.id)} after its purge`);
    checkInvariants(m, after, step);
  }
}

// ---- data ---------------------------------------------------------------------------------------------------

async function insertRow(ds: DataSource, m: Model, t: Exclude<T, 'person'>, person: { id: number }): Promise<void> {
  const repo = ds.getRepository(TABLES[t].entity);
  if (t === 'note') await repo.insert({ kind: 'call', title: TABLES.note.personal.title(token(m)), body: TABLES.note.personal.body(token(m)), person });
  else if (t === 'visit') await repo.insert({ place: TABLES.visit.personal.place(token(m)), minutes: 30, person });
  else if (t === 'message') await repo.insert({ fromAddress: TABLES.message.personal.fromAddress(token(m)), body: TABLES.message.personal.body(token(m)), person });
  else await repo.insert({ number: `INV-${m.nextToken++}`, amount: '12.50', person });
}

interface InitialSubject {
  phone: boolean;
  notes: number;
  visits: number;
  messages: number;
  invoices: number;
}

const initialArb = fc.array(
  fc.record({ phone: fc.boolean(), notes: fc.nat({ max: 4 }), visits: fc.nat({ max: 3 }), messages: fc.nat({ max: 3 }), invoices: fc.nat({ max: 2 }) }),
  { minLength: SUBJECTS, maxLength: SUBJECTS },
);

async function seed(ds: DataSource, initial: InitialSubject[]): Promise<Model> {
  const m: Model = { rows: new Map(), subjects: [], nextToken: 1, invoices: new Set(), labels: new Map() };
  for (const spec of initial) {
    const p = TABLES.person.personal;
    const saved = await ds.getRepository(Person).save({ organizationId: TENANT, email: p.email(token(m)), name: p.name(token(m)), phone: spec.phone ? p.phone(token(m)) : null });
    m.subjects.push({ id: String(saved.id), removed: false, erasures: [] });
    for (const [t, n] of [['note', spec.notes], ['visit', spec.visits], ['message', spec.messages], ['invoice', spec.invoices]] as const) {
      for (let i = 0; i < n; i++) await insertRow(ds, m, t, { id: saved.id });
    }
  }
  const all = await dump(ds);
  const subjectOf = (id: string | null) => m.subjects.findIndex((s) => s.id === id);
  for (const t of TABLE_ORDER) {
    for (const [key, cells] of all[t]) {
      m.rows.set(rowId(t, key), { t, key, s: subjectOf(t === 'person' ? key : cells[PERSON_FK]), cells: { ...cells } });
      if (t === 'invoice') m.invoices.add(key);
    }
  }
  return m;
}

const subjectArb = fc.nat({ max: SUBJECTS - 1 });
const spellingArb = fc.constantFrom<Spelling>('number', 'string', 'padded');
const childArb = fc.constantFrom<Exclude<T, 'person'>>('note', 'visit', 'message', 'invoice');
const editableArb = fc.constantFrom<Exclude<T, 'invoice'>>('person', 'note', 'visit', 'message');
const filterArb: fc.Arbitrary<RestoreFilter> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'all' as const }) },
  { weight: 1, arbitrary: fc.uniqueArray(fc.constantFrom<T>(...TABLE_ORDER), { minLength: 1, maxLength: 2 }).map((tables) => ({ kind: 'categories' as const, tables })) },
  { weight: 1, arbitrary: fc.array(fc.nat({ max: 15 }), { minLength: 1, maxLength: 3 }).map((picks) => ({ kind: 'records' as const, picks })) },
);

const COMMANDS: Record<string, fc.Arbitrary<Cmd>> = {
  export: fc.tuple(subjectArb, spellingArb).map(([s, spelling]) => new ExportCmd(s, spelling)),
  anonymize: fc.tuple(subjectArb, spellingArb).map(([s, spelling]) => new EraseCmd(s, 'anonymize', spelling)),
  delete: fc.tuple(subjectArb, spellingArb).map(([s, spelling]) => new EraseCmd(s, 'delete', spelling)),
  restore: fc.tuple(subjectArb, fc.nat({ max: 7 }), filterArb, fc.boolean()).map(([s, pick, filter, numeric]) => new RestoreCmd(s, pick, filter, numeric)),
  purge: fc.tuple(subjectArb, fc.nat({ max: 7 })).map(([s, pick]) => new PurgeCmd(s, pick)),
  insert: fc.tuple(subjectArb, childArb).map(([s, t]) => new HostInsertCmd(s, t)),
  edit: fc.tuple(subjectArb, editableArb, fc.nat({ max: 7 }), fc.nat({ max: 3 })).map(([s, t, pick, field]) => new HostEditCmd(s, t, pick, field)),
};
// Erasures and restores weigh more: they are what the rules are about.
const WEIGHTS: Record<string, number> = { export: 1, anonymize: 3, delete: 3, restore: 4, purge: 2, insert: 2, edit: 3 };
const commandArbs = Object.entries(COMMANDS)
  .filter(([kind]) => !ONLY || ONLY.has(kind))
  .flatMap(([kind, arb]) => Array.from({ length: WEIGHTS[kind] }, () => arb));

/** Sequences every run tries first, whatever the seed: the rules' plainest cases. */
const full: InitialSubject = { phone: true, notes: 1, visits: 1, messages: 1, invoices: 1 };
const bare: InitialSubject = { phone: false, notes: 0, visits: 0, messages: 0, invoices: 0 };
const EXAMPLES: Array<[InitialSubject[], Cmd[]]> = [
  // Rule (a): A1 cannot come back, whole or in part, while D2 is in force; after D2 is restored it can.
  [
    [full, bare],
    [
      new EraseCmd(0, 'anonymize', 'number'),
      new EraseCmd(0, 'delete', 'number'),
      new RestoreCmd(0, 0, { kind: 'all' }, false),
      new RestoreCmd(0, 0, { kind: 'categories', tables: ['note'] }, false),
      new RestoreCmd(0, 0, { kind: 'records', picks: [0] }, true),
      new RestoreCmd(0, 1, { kind: 'all' }, false),
      new RestoreCmd(0, 0, { kind: 'all' }, false),
    ],
  ],
  // Rule (b): a second anonymize erases what was written since, and its restore puts back only that.
  [
    [full, bare],
    [
      new EraseCmd(0, 'anonymize', 'number'),
      new HostEditCmd(0, 'person', 0, 2),
      new HostInsertCmd(0, 'note'),
      new EraseCmd(0, 'anonymize', 'string'),
      new RestoreCmd(0, 1, { kind: 'all' }, false),
      new RestoreCmd(0, 0, { kind: 'all' }, false),
    ],
  ],
  // A second delete removes a message synced since; purging the first must leave the second restorable.
  [
    [full, bare],
    [
      new EraseCmd(0, 'delete', 'number'),
      new HostInsertCmd(0, 'message'),
      new EraseCmd(0, 'delete', 'number'),
      new PurgeCmd(0, 0),
      new RestoreCmd(0, 1, { kind: 'all' }, false),
      new PurgeCmd(0, 1),
      new ExportCmd(0, 'number'),
    ],
  ],
  // A partial restore, a host edit of the restored row, then the rest; a purged later erasure closes the earlier one.
  [
    [full, full],
    [
      new EraseCmd(1, 'delete', 'number'),
      new RestoreCmd(1, 0, { kind: 'records', picks: [1, 2] }, false),
      new HostEditCmd(1, 'note', 0, 1),
      new RestoreCmd(1, 0, { kind: 'all' }, false),
      new EraseCmd(1, 'anonymize', 'padded'),
      new EraseCmd(1, 'delete', 'number'),
      new PurgeCmd(1, 2),
      new RestoreCmd(1, 1, { kind: 'all' }, false),
      new ExportCmd(1, 'string'),
    ],
  ],
];

describeEachDatabase('erasure model (property)', (db) => {
  let ds: DataSource;
  let engine: PrivacyEngine;

  beforeAll(async () => {
    ds = await db.createDataSource(modelEntities);
    engine = new PrivacyEngine({
      dataSource: ds,
      subject: Person,
      tenantColumn: 'organizationId',
      secret: 'model-secret-model-secret-model-secret-01',
      storage: createLocalStorage({ directory: await mkdtemp(path.join(os.tmpdir(), 'pe-model-')) }),
      policy: { batchSize: 3, recoveryWindowDays: 30 },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    await engine.start();
  });
  afterAll(async () => engine?.stop());

  it(`keeps erased data out of sight, restores it byte for byte and purges it for good (${RUNS} random sequences)`, async () => {
    const metadata: EntityMetadata[] = TABLE_ORDER.map((t) => ds.getMetadata(TABLES[t].entity));
    await fc.assert(
      fc.asyncProperty(initialArb, fc.commands(commandArbs, { maxCommands: MAX_COMMANDS, size: 'max' }), async (initial, cmds) => {
        await resetTables(ds, metadata.map((md) => md.tableName));
        const model = await seed(ds, initial);
        await fc.asyncModelRun(() => ({ model, real: { ds, engine } }), cmds);
      }),
      { numRuns: RUNS, examples: EXAMPLES, ...(SEED === undefined ? {} : { seed: SEED }), plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS, { failOnInterrupt: true })] },
    );
  }, TIME_LIMIT_MS + 120_000);
});
