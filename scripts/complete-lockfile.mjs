#!/usr/bin/env node
/* global URL, console */
/**
 * The npm registry this project's machines reach lacks some platform-specific optional packages
 * (@swc/core-darwin-*, @rollup/rollup-win32-*, ...), so `npm install` here writes a lock without them and
 * `npm ci` then refuses it as out of sync. This adds a placeholder entry for every optional dependency the
 * lock does not list; npm ci accepts the lock, and skips those packages as optional on this platform.
 * Run it after every `npm install` that changes package-lock.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ''}node_modules/${name}`;
    if (lock.packages[nested] || lock.packages[`node_modules/${name}`]) continue;
    lock.packages[`node_modules/${name}`] = { version: String(range).replace(/^[\^~=]/, ''), dev: entry.dev ?? undefined, optional: true };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: ${added} placeholder(s) added`);
