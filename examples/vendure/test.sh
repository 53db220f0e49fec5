#!/usr/bin/env bash
# The Vendure example, end to end: packs privacy-engine from this repository (as npm would publish it), installs
# the example with it, creates a fresh PostgreSQL database with Vendure's schema, starts a Vendure server and
# worker with the privacy plugin, populates the shop through its Shop and Admin APIs, and runs test/e2e.test.ts.
# Exits non-zero on any failure. Needs PostgreSQL (DB_HOST/DB_PORT/DB_USER/DB_PASSWORD, default 127.0.0.1:5432
# postgres, no password) and a built library (dist/; it runs `npm run build` at the root when dist/ is missing).
set -euo pipefail
exec </dev/null

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${PRIVACY_ENGINE_DIR:-$HERE/../..}" && pwd)"   # the privacy-engine checkout to pack (this repository)
cd "$HERE"
START=$SECONDS

export DB_NAME="${DB_NAME:-vendure_privacy_e2e}"
export PORT="${PORT:-3055}"
export VENDURE_DATA_DIR="${VENDURE_DATA_DIR:-$HERE/.data}"
export VENDURE_DISABLE_TELEMETRY=true
export PRIVACY_SECRET="${PRIVACY_SECRET:-$(node -e "console.log(require('crypto').randomBytes(32).toString('base64'))")}"
LOGS="$VENDURE_DATA_DIR/logs"

step() { printf '\n--> vendure example: %s (%ss)\n' "$*" "$((SECONDS - START))"; }
fail() { echo "vendure example: FAILED: $*" >&2; exit 1; }

PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((status != 0)) && [[ -d "$LOGS" ]]; then
    for log in "$LOGS"/*.log; do echo "----- last lines of $log" >&2; tail -n 40 "$log" >&2; done
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

step "packing privacy-engine"
[[ -f "$ROOT/dist/index.js" ]] || (cd "$ROOT" && npm run build >/dev/null)
rm -rf .pack && mkdir -p .pack
(cd "$ROOT" && npm pack --silent --pack-destination "$HERE/.pack" >/dev/null)
mv .pack/privacy-engine-*.tgz .pack/privacy-engine.tgz

step "installing the example (npm ci)"
# The lockfile records the local tarball without an integrity hash on purpose: the tarball is rebuilt from the
# working tree, and with a hash npm would refuse it (or reuse a cached copy of an older build).
node -e '
  const fs = require("fs"); const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  const entry = lock.packages["node_modules/privacy-engine"];
  if (entry && entry.integrity) { delete entry.integrity; fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n"); }'
if [[ "${VENDURE_EXAMPLE_SKIP_INSTALL:-}" == 1 && -d node_modules ]]; then
  # For a quick loop while editing the example: reinstall only the freshly packed library.
  rm -rf node_modules/privacy-engine && mkdir -p node_modules/privacy-engine && tar -xzf .pack/privacy-engine.tgz -C node_modules/privacy-engine --strip-components=1
else
  timeout 600 npm ci --prefer-offline --no-audit --no-fund --loglevel=error >"${TMPDIR:-/tmp}/vendure-example-npm-ci.log" 2>&1 ||
    { tail -n 40 "${TMPDIR:-/tmp}/vendure-example-npm-ci.log" >&2; fail "npm ci"; }
fi
TYPEORM_VERSION="$(node -p "JSON.parse(require('fs').readFileSync('node_modules/typeorm/package.json', 'utf8')).version")"
[[ "$TYPEORM_VERSION" == 0.3.* ]] || fail "the example's typeorm is $TYPEORM_VERSION, not 0.3"
echo "typeorm $TYPEORM_VERSION, @vendure/core $(node -p "JSON.parse(require('fs').readFileSync('node_modules/@vendure/core/package.json', 'utf8')).version")"
rm -rf "$VENDURE_DATA_DIR" && mkdir -p "$LOGS"
npm run --silent build

step "creating database $DB_NAME with Vendure's schema and initial data"
timeout 180 node dist/scripts/setup-db.js >"$LOGS/setup-db.log" 2>&1 || fail "setup-db (see $LOGS/setup-db.log)"

wait_for_http() {
  local url="$1" pid="$2" label="$3" waited=0
  until curl -sf -o /dev/null "$url"; do
    kill -0 "$pid" 2>/dev/null || fail "$label exited during start-up"
    ((waited < 120)) || fail "$label did not answer within 120 s"
    sleep 1
    waited=$((waited + 1))
  done
}

step "starting the Vendure server"
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then fail "something already listens on port $PORT (set PORT to another one)"; fi
node dist/src/index.js >"$LOGS/server.log" 2>&1 &
PIDS+=("$!")
wait_for_http "http://127.0.0.1:$PORT/health" "$!" "the server"

step "starting the Vendure worker"
node dist/src/index-worker.js >"$LOGS/worker.log" 2>&1 &
WORKER=$!
PIDS+=("$WORKER")
waited=0
until grep -qs 'Starting queue: privacy-requests' "$LOGS/worker.log"; do
  kill -0 "$WORKER" 2>/dev/null || fail "the worker exited during start-up"
  ((waited < 120)) || fail "the worker did not start within 120 s"
  sleep 1
  waited=$((waited + 1))
done

step "populating the shop through the Shop and Admin APIs"
timeout 300 node dist/scripts/populate.js || fail "populate"

step "export, anonymize, restore, delete, purge"
timeout 300 node --test --test-reporter=spec dist/test/e2e.test.js

if grep -E 'MISSING_KEYSET_INDEX' "$LOGS/server.log"; then fail "the server warned about missing keyset indexes (above)"; fi

step "passed"
