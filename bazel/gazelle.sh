#!/usr/bin/env bash
# bazel/gazelle.sh [-check]
#
# Regenerates what Gazelle owns: bazel/go_deps.bzl (go_repository rules for
# every module in go.mod's build list) and the BUILD.bazel file of every Go
# package. Run it after adding a package, an import or a dependency.
# With -check it changes nothing and exits 1 (printing a diff) when any of
# those files is stale; CI runs that.
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
case "${1:-}" in
"") ;;
-check | --check) check=true ;;
*)
	echo "usage: bazel/gazelle.sh [-check]" >&2
	exit 2
	;;
esac

repos=(update-repos -from_file=go.mod -to_macro=bazel/go_deps.bzl%go_dependencies -prune)

if ! $check; then
	bazel run --ui_event_filters=-info,-stdout --noshow_progress //:gazelle -- "${repos[@]}"
	bazel run --ui_event_filters=-info,-stdout --noshow_progress //:gazelle
	exit 0
fi

# update-repos has no diff mode: run it on a copy of the files it edits and
# compare.
tmp=$(mktemp -d)
trap 'cp "$tmp/go_deps.bzl" bazel/go_deps.bzl; cp "$tmp/WORKSPACE" WORKSPACE; rm -rf "$tmp"' EXIT
cp bazel/go_deps.bzl WORKSPACE "$tmp/"
bazel run --ui_event_filters=-info,-stdout --noshow_progress //:gazelle -- "${repos[@]}"
stale=false
for f in bazel/go_deps.bzl WORKSPACE; do
	if ! diff -u "$tmp/$(basename "$f")" "$f"; then
		stale=true
	fi
done
if ! bazel run --ui_event_filters=-info,-stdout --noshow_progress //:gazelle -- -mode=diff; then
	stale=true
fi
if $stale; then
	echo "gazelle.sh: generated Bazel files are stale (diff above); run bazel/gazelle.sh and commit the result" >&2
	exit 1
fi
echo "gazelle.sh: BUILD.bazel files and bazel/go_deps.bzl are up to date"
