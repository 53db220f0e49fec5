#!/usr/bin/env bash
# A/B of uncommitted src changes on a shared machine: the working tree ("new") against HEAD ("old"), each
# snapshotted to a temporary directory and benchmarked alternately, twice, so that both see the same load.
#   bench/ab.sh <label> <bench flags…>     e.g. bench/ab.sh prefetch --rows 100000 --db postgres --cases export
# Results: .tmp/ab-<label>-<new|old>-<round>.json; compare ratios and engine seconds within a round.
set -euo pipefail
label=$1
shift
root=$(git rev-parse --show-toplevel)
modules=$(readlink -f "$root/node_modules")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/old" "$work/new" "$root/.tmp"
git -C "$root" archive HEAD | tar -x -C "$work/old"
(cd "$root" && git ls-files -co --exclude-standard -z | grep -zv '^node_modules' | xargs -0 cp --parents -t "$work/new")
ln -s "$modules" "$work/old/node_modules"
ln -s "$modules" "$work/new/node_modules"
for round in 1 2; do
  for v in new old; do
    echo "== $v round $round: $(uptime)"
    (cd "$work/$v" && npx tsx bench/run.ts "$@" --out "$root/.tmp/ab-$label-$v-$round.json" 2>&1 | grep '^\[bench\]  ')
  done
done
