#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a given time (default 30s),
# all at once with one fuzzing worker each: the targets are small, and on a
# 2-core machine the whole run then takes the fuzz time once instead of once
# per few targets (issue #18). Each package's instrumented test binary is
# built once (go test -c -fuzz) and started once per target, in the package
# directory, with go test's fuzz cache. Targets are discovered with
# `go test -list`, so a new FuzzXxx is picked up without editing this script.
# Seed corpora live in each package's testdata/fuzz/FuzzXxx/; inputs that
# fail are written there too and should be committed with the fix.
#
#   scripts/fuzz.sh [-fuzztime 30s] [PACKAGE...]   (default ./...)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=30s
while [ $# -gt 0 ]; do
  case "$1" in
    -fuzztime|--fuzztime) fuzztime=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fuzzcache="$(go env GOCACHE)/fuzz"

# Build: one instrumented test binary per package with a fuzz target.
targets=() # "DIR IMPORTPATH BINARY TARGET"
npkg=0
for line in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}|{{.ImportPath}}{{end}}' "${pkgs[@]}"); do
  dir=${line%%|*} ip=${line#*|}
  grep -qs '^func Fuzz' "$dir"/*_test.go || continue
  npkg=$((npkg + 1))
  bin="$work/$npkg.test"
  echo "== fuzz: building $ip"
  go test -c -fuzz=. -o "$bin" "$ip"
  for name in $(cd "$dir" && "$bin" -test.list '^Fuzz' | grep '^Fuzz' || true); do
    targets+=("$dir $ip $bin $name")
  done
done
if [ ${#targets[@]} -eq 0 ]; then echo "no fuzz targets found"; exit 1; fi

echo "== fuzz: ${#targets[@]} targets in $npkg packages, all at once for $fuzztime"
pids=()
i=0
for t in "${targets[@]}"; do
  set -- $t
  i=$((i + 1))
  (cd "$1" && exec "$3" -test.run '^$' -test.fuzz "^$4\$" -test.fuzztime "$fuzztime" -test.parallel 1 \
    -test.fuzzcachedir "$fuzzcache/$2") >"$work/$i.log" 2>&1 &
  pids+=($!)
done
# A line at least every 20 s while they run.
(
  start=$SECONDS
  while sleep 20; do
    left=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
    echo "== fuzz: $((SECONDS - start)) s, $left of ${#targets[@]} targets still running"
  done
) &
ticker=$!
failed=0
i=0
for t in "${targets[@]}"; do
  set -- $t
  rc=0
  wait "${pids[$i]}" || rc=$?
  i=$((i + 1))
  echo "== [$i/${#targets[@]}] $2 $4: $([ $rc -eq 0 ] && echo ok || echo FAILED)"
  if [ $rc -eq 0 ]; then grep '^fuzz: elapsed' "$work/$i.log" | tail -n 1; else cat "$work/$i.log"; failed=1; fi
done
kill "$ticker" 2>/dev/null || true
wait "$ticker" 2>/dev/null || true
if [ $failed -ne 0 ]; then echo "fuzz: a target failed (its input is under testdata/fuzz/)"; exit 1; fi
echo "fuzz: ${#targets[@]} targets ok"
