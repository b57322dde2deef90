#!/usr/bin/env bash
# Runs every check CI runs: formatting, vet, generated files up to date,
# the Bazel build (when bazel is installed or --bazel is given), all Go tests,
# and every Go fuzz target, all at once for 30 s (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== go generate leaves the tree unchanged"
before=$(git status --porcelain)
go generate ./...
after=$(git status --porcelain)
if [ "$before" != "$after" ]; then
  echo "go generate ./... changed files:"; diff <(echo "$before") <(echo "$after") || true
  git --no-pager diff --stat
  exit 1
fi

if [ -x .ci/bazel.sh ] && { [ "${1:-}" = "--bazel" ] || [ -n "${CI:-}" ]; }; then
  echo "== bazel"
  .ci/bazel.sh
fi

echo "== fuzz: every Go fuzz target, all at once for ${DQNN_FUZZTIME:-30s} (scripts/fuzz.sh; DQNN_FUZZTIME changes it)"
scripts/fuzz.sh -fuzztime "${DQNN_FUZZTIME:-30s}"

# go test -json through internal/testprogress: each package's result as it
# ends, "N of M packages done, running: ..." every 20 s, the slowest at the end.
echo "== go test"
progress=$(mktemp)
trap 'rm -f "$progress"' EXIT
go build -o "$progress" ./internal/testprogress
# The longest packages first: go test starts them in command-line order, so
# the short ones fill the second core to the end instead of leaving it idle
# (their times: the "slowest" line go test prints last).
go test -json -count=1 -timeout 40m ./gen/harness ./compiler ./validate ./board ./bench ./cmd/dqnn ./report ./target ./... 2>&1 |
  "$progress" -total "$(go list ./... | wc -l)" -trim "$(go list -m)/"

