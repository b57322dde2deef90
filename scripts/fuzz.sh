#!/usr/bin/env bash
# Runs every Go fuzz target in the module, one after another, each for a
# given time (default 30s): targets are discovered with `go test -list`, so
# a new FuzzXxx is picked up without editing this script. Seed corpora live
# in each package's testdata/fuzz/FuzzXxx/; inputs that fail are written
# there too and should be committed with the fix.
#
#   scripts/fuzz.sh [-fuzztime 30s] [-parallel 2] [PACKAGE...]   (default ./...)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=30s
parallel=2
while [ $# -gt 0 ]; do
  case "$1" in
    -fuzztime|--fuzztime) fuzztime=$2; shift 2 ;;
    -parallel|--parallel) parallel=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
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

echo "${#targets[@]} fuzz targets, $fuzztime each, -parallel=$parallel"
i=0
for t in "${targets[@]}"; do
  set -- $t
  i=$((i + 1))
  echo "== [$i/${#targets[@]}] $1 $2 ($fuzztime)"
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -parallel "$parallel"
done
