/**
 * What hosts declare, as plain records. Decorators and the define* functions push these into the
 * registry; the builder resolves them against a DataSource at engine.start().
 */

/** A class, or an entity name as TypeORM knows it (for EntitySchema hosts). */
export type EntityTarget = Function | string;

/** The facts GDPR Art. 15(1) asks for besides the data itself; written into the export's README.md. */
export interface CategoryFacts {
  /** What the data is used for (Art. 15(1)(a)). */
  purpose?: string;
  /** Lawful basis of processing, e.g. 'Contract (Art. 6(1)(b))'. */
  legalBasis?: string;
  /** Recipients or categories of recipients (Art. 15(1)(c)). */
  recipients?: string[];
  /** How long the data is kept, or the criteria for it (Art. 15(1)(d)). */
  retention?: string;
  /** Where the data came from when not from the subject (Art. 15(1)(g)). */
  source?: string;
  /** One line describing the category for the README. */
  description?: string;
}

export interface CategoryDefinition extends CategoryFacts {
  name: string;
}

/** A polymorphic reference: rows point at the subject through a (type, id) column pair. */
export interface PolymorphicLink {
  type: string;
  typeColumn: string;
  idColumn: string;
}

/** A relation path from the entity to the subject ('contact', 'quote.opportunity.primaryContact'), or a polymorphic reference. */
export type LinkSpec = string | PolymorphicLink;

export type EraseAction = 'anonymize' | 'delete' | 'retain';

export interface RetentionRule<T = any> {
  /** The legal basis for keeping the data after an erasure request, e.g. 'Tax law: 10 years'. */
  basis: string;
  /** The date until which a given row must be kept. */
  until?: (row: T) => Date;
  /**
   * Keep only these fields under the basis (property paths or column names): erasure redacts the entity's other
   * @Redact fields and keeps the rows. Without it the whole row is kept as it is.
   */
  fields?: string[];
}

/** A value a soft-delete column holds: a flag, a status code or text. */
export type SoftDeleteValue = boolean | number | string;

/**
 * A column the host already hides rows with, when it is not a TypeORM @DeleteDateColumn: a plain `deletedAt`
 * timestamp, or a flag such as `isDeleted`. Erasure hides a row by setting it, restore unsets it, purge removes the row.
 */
export interface SoftDeleteOptions {
  /** Property path or column name. */
  column: string;
  /** What hides a row: 'now' (default: the time of the erasure, for a timestamp column) or a fixed value (`true`). */
  value?: 'now' | SoftDeleteValue;
  /** What a visible row holds: null by default, `false` by default when `value` is `true`. */
  live?: SoftDeleteValue | null;
}

export interface DataSubjectOptions<T = any> {
  /** Category of the subject's own record; defaults to 'profile'. */
  category?: string | CategoryDefinition;
  /** A human name for notifications and the export; never written to logs or audit. */
  displayName?: (row: T) => string;
  /** What `engine.delete()` does to the subject's own row: 'anonymize' (default) keeps a redacted row, 'delete' hides it (soft delete with a @DeleteDateColumn) then removes it at purge. `engine.anonymize()` always redacts. */
  onErase?: 'anonymize' | 'delete';
  /** The subject's own columns left out of exports (a password hash, an API token); erasure still redacts them when they carry @Redact. */
  exclude?: string[];
  /** A column that hides the subject's row when it has no @DeleteDateColumn: a column name (a timestamp), or its options. */
  softDelete?: string | SoftDeleteOptions;
  /** Hidden columns (`select: false`) and credential-like ones exported anyway; see docs/data-map.md. */
  include?: string[];
}

export interface PersonalDataOptions<T = any> {
  category: string | CategoryDefinition;
  /** One link, or several (a ticket linked as requester or as CC): their rows are unioned without duplicates. */
  link: LinkSpec | LinkSpec[];
  /** What erasure does to the rows; defaults to 'anonymize'. */
  onErase?: EraseAction;
  /** Required when onErase is 'retain'. */
  retention?: RetentionRule<T>;
  /** Properties left out of exports (secrets such as password hashes). */
  exclude?: string[];
  /** A column that hides rows when the entity has no @DeleteDateColumn: a column name (a timestamp), or its options. */
  softDelete?: string | SoftDeleteOptions;
  /** Hidden columns (`select: false`) and credential-like ones exported anyway; see docs/data-map.md. */
  include?: string[];
  /**
   * Rows reached only through a shared link (one crossing a one-to-many or many-to-many hop: a ticket the person
   * is only CC'd on) may hold other people's data. 'review' (default): erasure keeps them and lists them for
   * review; 'erase': erasure redacts, hides or removes them like the person's own rows. Export always includes them.
   */
  shared?: 'review' | 'erase';
}

/** Built-in redaction strategies; see docs/data-map.md. */
export type RedactStrategyName =
  | 'null'
  | 'fixed'
  | 'email'
  | 'phone'
  | 'name'
  | 'text'
  | 'hash'
  | 'hmac'
  | 'date'
  | 'ip'
  | 'json';

export interface RedactContext {
  /** Entity and property being redacted. */
  entity: string;
  property: string;
  /** The whole row as read from the database (property names). */
  row: Record<string, unknown>;
  /** Deterministic keyed hash of a value (the 'hmac' strategy), for custom functions that pseudonymize. */
  hmac(value: string): string;
  /** A random string of the given length from [a-z0-9]. */
  random(length: number): string;
}

export type RedactFunction = (value: unknown, context: RedactContext) => unknown;

export interface RedactOptions {
  /** For 'fixed': the replacement, '[REDACTED]' by default. */
  value?: unknown;
  /** For 'json': keys whose values are redacted wherever they occur inside the document. */
  keys?: string[];
  /** Whether the original value identifies the person (checked for in the verification pass after erasure). Defaults to true for email, phone and name. */
  identifying?: boolean;
}

export interface RedactDeclaration {
  target: EntityTarget;
  property: string;
  strategy: RedactStrategyName | RedactFunction;
  options: RedactOptions;
}

/** A property left out of exports (@NotExported), on the subject or a @PersonalData entity. */
export interface ExclusionDeclaration {
  target: EntityTarget;
  property: string;
}

/** An entity (no property) or a column declared as holding no personal data (@NotPersonal): the coverage check skips it. */
export interface NotPersonalDeclaration {
  target: EntityTarget;
  property?: string;
}

export interface SubjectDeclaration {
  target: EntityTarget;
  options: DataSubjectOptions;
}

export interface PersonalDataDeclaration {
  target: EntityTarget;
  options: PersonalDataOptions;
}

/** Data held outside TypeORM (mail server, file store, a third-party API). */
export interface DataCategoryProvider {
  /** Yields the subject's records; each record is a flat or nested JSON-able object with an `id`. */
  export(subject: ProviderSubject): AsyncIterable<Record<string, unknown>>;
  /** Erases the subject's records; `context.vault.seal()` keeps the originals in the engine's vault for restore. */
  anonymize?(subject: ProviderSubject, context: ProviderContext): Promise<ProviderErasureResult | void>;
  delete?(subject: ProviderSubject, context: ProviderContext): Promise<ProviderErasureResult | void>;
  /** Puts back what the erasure changed; `context.vault.open()` yields what it sealed. `subject.requestId` is the erasure's id. */
  restore?(subject: ProviderSubject, context: ProviderContext): Promise<void>;
  /** Destroys for good what the erasure hid; the vault is already shredded (open() yields nothing). */
  purge?(subject: ProviderSubject, context: ProviderContext): Promise<void>;
}

/** What a provider's erasure, restore and purge get from the engine besides the subject. */
export interface ProviderContext {
  operation: 'anonymize' | 'delete' | 'restore' | 'purge';
  /** The erasure's encrypted vault, scoped to this provider. */
  vault: ProviderVault;
}

/**
 * The engine's vault, for a provider's originals: encrypted with the erasure request's own key, restored from inside
 * the recovery window, crypto-shredded at purge with the rest of the request's originals.
 */
export interface ProviderVault {
  /**
   * Seals JSON-able data under a kind of the provider's choosing ('login', 'mailbox'), during anonymize or delete,
   * before the provider changes what it describes. A provider called again after a failure may seal again: open()
   * yields every entry, oldest first.
   */
  seal(kind: string, data: unknown): Promise<void>;
  /** During restore: the entries this provider sealed for the erasure being restored (of one kind, or all), oldest first. */
  open(kind?: string): AsyncIterable<{ kind: string; data: unknown }>;
}

export interface ProviderSubject {
  id: string | number;
  tenantId: string | null;
  /** Id of the request being run, for idempotency on the provider's side. */
  requestId: string;
}

export interface ProviderErasureResult {
  /** How many records the provider changed. */
  affected?: number;
}

export interface ProviderRegistration {
  /** A stable name for the provider (used in the data map, exports and receipts). */
  name: string;
  category: string | CategoryDefinition;
  /** An instance, or a class the engine constructs with no arguments. */
  provider: DataCategoryProvider | (new () => DataCategoryProvider);
}
