#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a given time each (default
# 30s), -jobs of them at once (default 4, one fuzzing worker each: the
# targets are small and a 2-core machine stays busy): targets are
# discovered with `go test -list`, so a new FuzzXxx is picked up without
# editing this script. Seed corpora live in each package's
# testdata/fuzz/FuzzXxx/; inputs that fail are written there too and should
# be committed with the fix.
#
#   scripts/fuzz.sh [-fuzztime 30s] [-jobs 4] [PACKAGE...]   (default ./...)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=30s
jobs=4
while [ $# -gt 0 ]; do
  case "$1" in
    -fuzztime|--fuzztime) fuzztime=$2; shift 2 ;;
    -jobs|--jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

# Only packages that have a fuzz target in their test files.
targets=()
for pkg in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' "${pkgs[@]}"); do
  grep -qs '^func Fuzz' "$pkg"/*_test.go || continue
  rel=./${pkg#"$PWD"/}
  for name in $(go test -list '^Fuzz' "$rel" | grep '^Fuzz' || true); do
    targets+=("$rel $name")
  done
done
if [ ${#targets[@]} -eq 0 ]; then echo "no fuzz targets found"; exit 1; fi

echo "${#targets[@]} fuzz targets, $fuzztime each, $jobs at a time"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# run_one PACKAGE TARGET INDEX: fuzz one target, its output in a log that is
# printed when it ends (so concurrent runs do not interleave).
run_one() {
  local log="$logs/$3.log" rc=0
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -parallel 1 >"$log" 2>&1 || rc=$?
  echo "== [$3/${#targets[@]}] $1 $2: $([ $rc -eq 0 ] && echo ok || echo FAILED)"
  [ $rc -eq 0 ] && tail -n 2 "$log" || cat "$log"
  return $rc
}
failed=0
pids=()
i=0
for t in "${targets[@]}"; do
  set -- $t
  i=$((i + 1))
  echo "== [$i/${#targets[@]}] $1 $2: fuzzing for $fuzztime"
  run_one "$1" "$2" "$i" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ $failed -ne 0 ]; then echo "fuzz: a target failed (its input is under testdata/fuzz/)"; exit 1; fi
echo "fuzz: ${#targets[@]} targets ok"
