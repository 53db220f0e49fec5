import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';

/** What kind of personal data a column looks like it holds. */
export type PersonalKind = 'email' | 'phone' | 'name' | 'address' | 'birth' | 'ip' | 'national-id' | 'financial' | 'geo' | 'free-text' | 'json';

/** Splits `firstName`, `first_name`, `FIRST-NAME` into lower-case words. */
export function nameTokens(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((t) => t.toLowerCase());
}

// Each rule matches the column's words (or the words joined, for `emailaddress`); plain `name` alone is left out on
// purpose: product, company and campaign names are far more common than bare person names.
const NAME_RULES: Array<{ kind: PersonalKind; words?: string[]; joined?: RegExp }> = [
  { kind: 'email', words: ['email', 'mail'], joined: /e?mail(address)?$/ },
  { kind: 'phone', words: ['phone', 'mobile', 'telephone', 'tel', 'fax', 'msisdn'], joined: /phone(number)?$/ },
  { kind: 'name', joined: /^(first|last|full|sur|given|middle|family|display|maiden|nick|user)name$|^surname$|^forename$/ },
  { kind: 'address', words: ['address', 'street', 'city', 'zip', 'zipcode', 'postcode', 'postal', 'postalcode'] },
  { kind: 'birth', words: ['birth', 'birthday', 'birthdate', 'dob'], joined: /^dateofbirth$|^birth/ },
  { kind: 'ip', words: ['ip', 'ipaddress', 'ipv4', 'ipv6'] },
  { kind: 'national-id', words: ['ssn', 'passport', 'nin', 'nino'], joined: /^(national|tax|social)(id|number|security)|^(socialsecuritynumber|taxid)$/ },
  { kind: 'financial', words: ['iban', 'card', 'cardnumber', 'pan', 'bic'], joined: /^(credit|debit)?card(number)?$|^iban$|^accountnumber$/ },
  { kind: 'geo', words: ['lat', 'latitude', 'lng', 'lon', 'longitude', 'geo', 'geolocation', 'location', 'coordinates'] },
  { kind: 'free-text', words: ['note', 'notes', 'body', 'comment', 'comments', 'description', 'message', 'bio', 'remarks'] },
];

const JSON_TYPES = new Set(['json', 'jsonb', 'simple-json', 'simple-array']);
const IP_TYPES = new Set(['inet', 'cidr']);
const GEO_TYPES = new Set(['point', 'geography', 'geometry']);

/** Why a column looks personal from its name or its type, or null. */
export function lookPersonal(column: ColumnMetadata): { kind: PersonalKind; reason: string } | null {
  const name = column.propertyName || column.databaseName;
  const tokens = nameTokens(name);
  const joined = tokens.join('');
  for (const rule of NAME_RULES) {
    if (rule.words?.some((w) => tokens.includes(w)) || rule.joined?.test(joined)) {
      return { kind: rule.kind, reason: `name '${name}' suggests ${rule.kind}` };
    }
  }
  const type = typeof column.type === 'string' ? column.type.toLowerCase() : '';
  if (JSON_TYPES.has(type)) return { kind: 'json', reason: `${type} column may hold personal data` };
  if (IP_TYPES.has(type)) return { kind: 'ip', reason: `${type} column holds network addresses` };
  if (GEO_TYPES.has(type)) return { kind: 'geo', reason: `${type} column holds locations` };
  return null;
}

const VALUE_RULES: Array<{ kind: PersonalKind; test: RegExp }> = [
  { kind: 'email', test: /^[^\s@]+@[^\s@]+\.[A-Za-z]{2,}$/ },
  { kind: 'ip', test: /^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$/i },
  { kind: 'financial', test: /^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/ },
  { kind: 'phone', test: /^\+?[\d\s().-]{7,20}$/ },
];

/** The kind of personal data a sampled value looks like; only the kind is kept, never the value. */
export function valueLooksPersonal(value: unknown): PersonalKind | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  if (v.length < 5 || v.length > 254) return null;
  // A phone-shaped value needs enough digits; dates and amounts are phone-shaped too.
  for (const rule of VALUE_RULES) {
    if (!rule.test.test(v)) continue;
    if (rule.kind === 'phone' && (v.replace(/\D/g, '').length < 7 || /^\d{4}-\d{2}-\d{2}/.test(v) || /^\d+(\.\d+)?$/.test(v))) continue;
    return rule.kind;
  }
  return null;
}
