import { isIPv4, isIPv6 } from 'node:net';
import { needsLength, refusesUnique, type RedactionStrategy } from './strategy.js';

const FALLBACK = '0.0.0.0';

/** 192.168.1.77 → 192.168.1.0 (a /24 network). */
function truncateV4(ip: string): string {
  return `${ip.split('.').slice(0, 3).join('.')}.0`;
}

/** The eight 16-bit groups of a valid IPv6 address (zone id dropped, embedded IPv4 tail converted). */
function groupsV6(ip: string): number[] {
  let text = ip.split('%')[0];
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number);
    text = text.slice(0, tail.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const middle = rest === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((group) => parseInt(group, 16));
}

/** RFC 5952 text: lowercase, no leading zeros, the first longest run of two or more zero groups as '::'. */
function formatV6(groups: number[]): string {
  let start = -1;
  let length = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > length && j - i >= 2) [start, length] = [i, j - i];
    i = j;
  }
  const hex = (part: number[]) => part.map((g) => g.toString(16)).join(':');
  return start < 0 ? hex(groups) : `${hex(groups.slice(0, start))}::${hex(groups.slice(start + length))}`;
}

/**
 * Keeps the /48 (a site), zeroes the rest. IPv4-mapped addresses are truncated as IPv4 (::ffff:1.2.3.0), in the
 * notation they came in, so the output is never longer than the input.
 */
function truncateV6(ip: string): string {
  const groups = groupsV6(ip);
  if (!(groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)) return formatV6([...groups.slice(0, 3), 0, 0, 0, 0, 0]);
  if (ip.includes('.')) return `::ffff:${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.0`;
  return formatV6([...groups.slice(0, 7), groups[7] & 0xff00]);
}

export const ipStrategy: RedactionStrategy = {
  name: 'ip',
  check: (column) => [
    ...(['string', 'text', 'other'].includes(column.kind) ? [] : [`strategy 'ip' needs a text column but column is ${column.kind}`]),
    ...refusesUnique('ip', column),
    ...needsLength('ip', column, FALLBACK.length),
  ],
  create(_options, column) {
    const invalid = column.nullable ? null : FALLBACK;
    return (value) => {
      if (typeof value !== 'string') return invalid;
      if (isIPv4(value)) return truncateV4(value);
      if (isIPv6(value)) return truncateV6(value);
      return invalid;
    };
  },
};
