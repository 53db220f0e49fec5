#!/usr/bin/env bash
# Packs the library as npm would publish it, installs the tarball into a scratch project next to typeorm and
# reflect-metadata (the peer dependencies, at the versions this repo uses) and checks that it loads as a host
# loads it: require() (CommonJS), import (ESM), the TypeScript types of both (nodenext resolution, strict, library
# declarations checked too), and the "./package.json" subpath. Needs a fresh `npm run build` (dist/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

fail() {
  echo "pack smoke: FAILED: $*" >&2
  exit 1
}

[[ -f dist/index.js && -f dist/index.cjs && -f dist/index.d.ts && -f dist/index.d.cts ]] ||
  fail "dist/ is missing or incomplete (dist/index.{js,cjs,d.ts,d.cts}): run 'npm run build' first"

TSC="$ROOT/node_modules/typescript/bin/tsc"
[[ -f "$TSC" ]] || fail "no TypeScript in $ROOT/node_modules: run 'npm ci' first"

installed_version() { node -p "require('$ROOT/node_modules/$1/package.json').version"; }
PKG_NAME="$(node -p "require('$ROOT/package.json').name")"
PKG_VERSION="$(node -p "require('$ROOT/package.json').version")"
TYPEORM_VERSION="$(installed_version typeorm)"
REFLECT_VERSION="$(installed_version reflect-metadata)"
TYPES_NODE_VERSION="$(installed_version @types/node)"
EXPRESS_VERSION="$(installed_version express)"
NEST_VERSION="$(installed_version @nestjs/core)"
RXJS_VERSION="$(installed_version rxjs)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pack-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "pack smoke: packing $PKG_NAME@$PKG_VERSION into $WORK"
npm pack --pack-destination "$WORK" </dev/null >&2
shopt -s nullglob
TARBALLS=("$WORK"/*.tgz)
shopt -u nullglob
[[ ${#TARBALLS[@]} -eq 1 ]] || fail "npm pack did not produce exactly one tarball in $WORK"
TARBALL="${TARBALLS[0]}"

# The tarball holds the build and no sources, tests or local files.
tar -tzf "$TARBALL" | sort >"$WORK/contents.txt"
for required in package/package.json package/dist/index.js package/dist/index.cjs package/dist/index.d.ts package/dist/index.d.cts; do
  grep -qx "$required" "$WORK/contents.txt" || fail "$required is not in the tarball"
done
if grep -E '^package/(src|test|scripts|\.ci|node_modules|coverage)/|^package/\.env' "$WORK/contents.txt"; then
  fail "the tarball contains files that should not be published (above)"
fi
echo "pack smoke: $(wc -l <"$WORK/contents.txt") files in $(basename "$TARBALL") ($(du -k "$TARBALL" | cut -f1) kB)"

APP="$WORK/app"
mkdir -p "$APP"
cd "$APP"
cat >package.json <<'JSON'
{ "name": "pack-smoke-app", "version": "0.0.0", "private": true, "type": "commonjs" }
JSON

echo "pack smoke: installing the tarball, typeorm@$TYPEORM_VERSION, reflect-metadata@$REFLECT_VERSION, @types/node@$TYPES_NODE_VERSION, express@$EXPRESS_VERSION"
npm install --no-audit --no-fund --loglevel=error \
  "$TARBALL" "typeorm@$TYPEORM_VERSION" "reflect-metadata@$REFLECT_VERSION" "@types/node@$TYPES_NODE_VERSION" "express@$EXPRESS_VERSION" \
  "@nestjs/common@$NEST_VERSION" "@nestjs/core@$NEST_VERSION" "rxjs@$RXJS_VERSION" </dev/null

# 1. CommonJS: require() resolves the "require" condition (dist/index.cjs).
cat >check.cjs <<JS
const m = require('$PKG_NAME');
if (typeof m.PrivacyEngine !== 'function' || typeof m.PrivacyEngineError !== 'function') {
  console.error('require(): PrivacyEngine/PrivacyEngineError are not both functions; exports:', Object.keys(m));
  process.exit(1);
}
const resolved = require.resolve('$PKG_NAME');
if (!resolved.endsWith('index.cjs')) { console.error('require() resolved to', resolved); process.exit(1); }
const pkg = require('$PKG_NAME/package.json');
if (pkg.name !== '$PKG_NAME' || pkg.version !== '$PKG_VERSION') { console.error('package.json subpath:', pkg.name, pkg.version); process.exit(1); }
console.log('pack smoke: require() OK (' + Object.keys(m).length + ' exports)');
JS
node check.cjs || fail "CommonJS require('$PKG_NAME')"

# 2. ESM: static named imports and import() resolve the "import" condition (dist/index.js).
cat >check.mjs <<JS
import { PrivacyEngine, PrivacyEngineError } from '$PKG_NAME';
const m = await import('$PKG_NAME');
if (typeof m.PrivacyEngine !== 'function' || typeof m.PrivacyEngineError !== 'function') {
  console.error('import(): PrivacyEngine/PrivacyEngineError are not both functions; exports:', Object.keys(m));
  process.exit(1);
}
if (PrivacyEngine !== m.PrivacyEngine || PrivacyEngineError !== m.PrivacyEngineError) { console.error('static and dynamic imports differ'); process.exit(1); }
const resolved = import.meta.resolve('$PKG_NAME');
if (!resolved.endsWith('/dist/index.js')) { console.error('import resolved to', resolved); process.exit(1); }
if (!import.meta.resolve('$PKG_NAME/package.json').endsWith('/package.json')) { console.error('package.json subpath does not resolve'); process.exit(1); }
console.log('pack smoke: import OK (' + Object.keys(m).length + ' exports)');
JS
node check.mjs || fail "ESM import('$PKG_NAME')"

# 3. Subpath exports: an adapter, the conformance suites, the Express router and the HTTP core, under both conditions.
cat >subpaths.cjs <<JS
const { createLocalStorage } = require('$PKG_NAME/adapters/local-storage');
const { storageConformance } = require('$PKG_NAME/testing');
const { createPrivacyRouter } = require('$PKG_NAME/express');
const { createPrivacyHttpHandler } = require('$PKG_NAME/http');
if (typeof createLocalStorage !== 'function' || typeof storageConformance !== 'function') { console.error('CJS subpaths lack their exports'); process.exit(1); }
if (typeof createPrivacyRouter !== 'function' || typeof createPrivacyHttpHandler !== 'function') { console.error('CJS express/http subpaths lack their exports'); process.exit(1); }
if (typeof createPrivacyRouter({}, { getActor: () => undefined }).use !== 'function') { console.error('createPrivacyRouter did not return an Express router'); process.exit(1); }
JS
cat >subpaths.mjs <<JS
const adapter = await import('$PKG_NAME/adapters/local-storage');
const testing = await import('$PKG_NAME/testing');
const expressEntry = await import('$PKG_NAME/express');
const httpEntry = await import('$PKG_NAME/http');
if (typeof adapter.createLocalStorage !== 'function' || typeof testing.storageConformance !== 'function') { console.error('ESM subpaths lack their exports'); process.exit(1); }
if (typeof expressEntry.createPrivacyRouter !== 'function' || typeof httpEntry.createPrivacyHttpHandler !== 'function') { console.error('ESM express/http subpaths lack their exports'); process.exit(1); }
JS
cat >nestjs.cjs <<JS
const { PrivacyModule } = require('$PKG_NAME/nestjs');
if (typeof PrivacyModule?.forRoot !== 'function' || typeof PrivacyModule.forRootAsync !== 'function') { console.error('CJS nestjs subpath lacks PrivacyModule'); process.exit(1); }
JS
cat >nestjs.mjs <<JS
const { PrivacyModule } = await import('$PKG_NAME/nestjs');
if (typeof PrivacyModule?.forRoot !== 'function' || typeof PrivacyModule.forRootAsync !== 'function') { console.error('ESM nestjs subpath lacks PrivacyModule'); process.exit(1); }
JS
node nestjs.cjs || fail "CommonJS nestjs subpath"
node nestjs.mjs || fail "ESM nestjs subpath"
node subpaths.cjs || fail "CommonJS subpath exports"
node subpaths.mjs || fail "ESM subpath exports"
echo "pack smoke: subpaths OK (adapters/*, testing, express, http, nestjs)"

# 3b. The in-process queue bundles p-limit (ESM-only): it must load and run a job under require() too. The other
# queue and notifier adapters load without their optional peers (bullmq, nodemailer are imported lazily).
cat >queues.cjs <<JS
const { createInProcessQueue } = require('$PKG_NAME/adapters/in-process-queue');
for (const [path, name] of [['typeorm-queue', 'createTypeOrmQueue'], ['bullmq', 'createBullMqQueue'], ['log-notifier', 'createLogNotifier'],
  ['smtp-notifier', 'createSmtpNotifier'], ['webhook-notifier', 'verifyWebhookSignature']]) {
  if (typeof require('$PKG_NAME/adapters/' + path)[name] !== 'function') { console.error('adapters/' + path + ' lacks ' + name); process.exit(1); }
}
const { queueConformance, notifierConformance } = require('$PKG_NAME/testing');
if (typeof queueConformance !== 'function' || typeof notifierConformance !== 'function') { console.error('testing lacks the queue/notifier suites'); process.exit(1); }
const queue = createInProcessQueue({ concurrency: 2 });
const seen = [];
queue.start(async (job) => { seen.push(job.requestId); })
  .then(() => Promise.all(['a', 'b', 'c'].map((requestId) => queue.enqueue({ requestId }))))
  .then(() => queue.drain())
  .then(() => queue.close())
  .then(() => { if (seen.sort().join() !== 'a,b,c') { console.error('in-process queue ran', seen); process.exit(1); } });
JS
node queues.cjs || fail "queue and notifier adapters under require()"
echo "pack smoke: queue and notifier adapters OK (p-limit bundled for CommonJS)"

# 3c. The admin dashboard ships as strings inside the JavaScript (no file lookups): the same three files under
# require() and import, the page referencing only its own script and stylesheet (CSP without inline code).
cat >dashboard.cjs <<JS
const assets = require('$PKG_NAME/dashboard').dashboardAssets();
import('$PKG_NAME/dashboard').then(({ dashboardAssets }) => {
  const esm = dashboardAssets();
  for (const name of ['index.html', 'app.js', 'app.css']) {
    if (typeof assets[name] !== 'string' || assets[name].length < 100 || esm[name] !== assets[name]) { console.error('dashboard asset', name, 'missing or differs'); process.exit(1); }
  }
  if (!assets['index.html'].includes('src="dashboard/app.js"') || /<script>|<style|style=/.test(assets['index.html'])) { console.error('dashboard page has inline code'); process.exit(1); }
});
JS
node dashboard.cjs || fail "privacy-engine/dashboard assets"
echo "pack smoke: dashboard assets OK (CommonJS and ESM)"

# 4. Types, as a strict TypeScript host sees them: check.ts is CommonJS here (index.d.cts), check.mts is ESM (index.d.ts).
for file in check.ts check.mts; do
  cat >"$file" <<TS
import { PrivacyEngine, PrivacyEngineError } from '$PKG_NAME';

const engineClass: abstract new (...args: any[]) => unknown = PrivacyEngine;
const asError = (error: InstanceType<typeof PrivacyEngineError>): Error => error;
export { engineClass, asError };
TS
done
node "$TSC" --version
node "$TSC" --module nodenext --moduleResolution nodenext --target es2022 --noEmit --strict --skipLibCheck false \
  --types node check.ts check.mts || fail "TypeScript could not type-check imports of '$PKG_NAME' (see above)"
echo "pack smoke: types OK (CommonJS and ESM)"

# 5. A host that already runs TypeORM 0.3 (most of the ecosystem: NestJS, Vendure...) installs the package with a
# plain `npm install`, keeps its own typeorm (no 1.x beside it) and type-checks against 0.3's declarations.
APP03="$WORK/app-typeorm-0.3"
mkdir -p "$APP03"
cd "$APP03"
cat >package.json <<'JSON'
{ "name": "pack-smoke-typeorm-03", "version": "0.0.0", "private": true, "type": "commonjs" }
JSON
npm install --no-audit --no-fund --loglevel=error "typeorm@0.3" "reflect-metadata@$REFLECT_VERSION" "@types/node@$TYPES_NODE_VERSION" </dev/null
npm install --no-audit --no-fund --loglevel=error "$TARBALL" </dev/null || fail "npm install of the tarball next to typeorm 0.3 failed"
TYPEORM03="$(node -p "require('./node_modules/typeorm/package.json').version")"
[[ "$TYPEORM03" == 0.3.* ]] || fail "the host's typeorm is $TYPEORM03 after installing the package, not 0.3"
if find node_modules -path '*/node_modules/typeorm/package.json' | xargs -r grep -l '"version": "1\.' | grep -q .; then
  fail "a typeorm 1.x copy was installed beside the host's 0.3"
fi
cp "$APP/check.cjs" "$APP/check.ts" "$APP/check.mts" .
node check.cjs || fail "CommonJS require('$PKG_NAME') next to typeorm $TYPEORM03"
node "$TSC" --module nodenext --moduleResolution nodenext --target es2022 --noEmit --strict --skipLibCheck false \
  --experimentalDecorators --types node check.ts check.mts || fail "the package's types do not check against typeorm $TYPEORM03"
echo "pack smoke: typeorm $TYPEORM03 host OK (plain npm install, one typeorm, types)"

echo "pack smoke: OK"
