/**
 * Summarizes a V8 CPU profile written by `npm run bench -- --profile` (.tmp/bench-profiles/*.cpuprofile):
 * the functions and source files with the most self time, and the functions with the most inclusive time,
 * mapped back to bench/ and src/ through the child bundle's source map.
 *
 *   npx tsx bench/profile-summary.ts .tmp/bench-profiles/export-engine-postgres-100000.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const maps = new Map<string, SourceMap | null>();
function sourceMapOf(url: string): SourceMap | null {
  if (!maps.has(url)) {
    let map: SourceMap | null = null;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')));
    } catch {
      // not a bundle of ours
    }
    maps.set(url, map);
  }
  return maps.get(url)!;
}

/** "function (file:line)", with bundle positions mapped to the original file and node_modules shortened. */
function label(node: ProfileNode): { fn: string; file: string } {
  const { functionName, url, lineNumber, columnNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return { fn: name, file: name.startsWith('(') ? name : '(native)' };
  const entry = (url.startsWith('file:') ? sourceMapOf(url)?.findEntry(lineNumber, columnNumber) : undefined) as { originalSource?: string; originalLine?: number } | undefined;
  const line = entry?.originalLine === undefined ? lineNumber + 1 : entry.originalLine + 1;
  // The bundle's sources are relative to it; anything else is a node_modules or node: URL.
  const source = entry?.originalSource ? path.resolve(path.dirname(fileURLToPath(url)), entry.originalSource.replace(/^file:\/\//, '')) : url.replace(/^file:\/\//, '');
  const nm = source.lastIndexOf('node_modules/');
  const short = nm >= 0 ? source.slice(nm + 'node_modules/'.length) : source.startsWith('/') ? path.relative(process.cwd(), source) : source;
  return { fn: `${name} (${short}:${line})`, file: short };
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const labels = new Map(profile.nodes.map((n) => [n.id, label(n)]));

const self = new Map<string, number>();
const selfByFile = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const l = labels.get(id)!;
  self.set(l.fn, (self.get(l.fn) ?? 0) + dt);
  selfByFile.set(l.file, (selfByFile.get(l.file) ?? 0) + dt);
  const seen = new Set<string>();
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const fn = labels.get(n)!.fn;
    if (seen.has(fn) || !byId.has(n)) continue;
    seen.add(fn);
    inclusive.set(fn, (inclusive.get(fn) ?? 0) + dt);
  }
});

const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(7)} s  ${key}`);
  }
};
console.log(`${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled`);
print('self time by file', selfByFile);
print('self time by function', self);
print('inclusive time by function', inclusive);
