"""rules_go's Go rules with the "go" tag, used by Gazelle through map_kind.

Bazel 4 resolves a Go toolchain for a target before it checks
target_compatible_with, so a Cortex-M build of //... would fail on every Go
target. The tag lets the cortex_m configs skip them with
--build_tag_filters=-go (see .bazelrc).
"""

load(
    "@io_bazel_rules_go//go:def.bzl",
    _go_binary = "go_binary",
    _go_library = "go_library",
    _go_test = "go_test",
)

def _tags(tags):
    return tags if "go" in tags else tags + ["go"]

def go_library(name, tags = [], **kwargs):
    """rules_go's go_library, tagged "go"."""
    _go_library(name = name, tags = _tags(tags), **kwargs)

def go_binary(name, tags = [], **kwargs):
    """rules_go's go_binary, tagged "go"."""
    _go_binary(name = name, tags = _tags(tags), **kwargs)

def go_test(name, tags = [], args = [], **kwargs):
    """rules_go's go_test, tagged "go", run with -test.short.

    The README's test command runs every Go test in full (`go test ./...`:
    the QEMU vector grids, every model end to end, the browser test). Under
    Bazel the same tests run in short mode, with their declared data, to
    prove that the packages build and test hermetically without paying for
    the long runs twice.
    """
    _go_test(name = name, tags = _tags(tags), args = args + ["-test.short"], **kwargs)
