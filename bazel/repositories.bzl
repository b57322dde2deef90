"""dqnn_dependencies(): the external repositories dqnn's Bazel rules need.

Everything here resolves without Bazel downloading anything: rules_go and
Gazelle come from the Go module proxy (or the local module cache) through
go_proxy_module, bazel_skylib and rules_java from Debian's bazel-skylib and
bazel-rules-java packages, and two
repositories that Bazel 4 itself asks for (rules_cc, remote_coverage_tools)
are small stand-ins generated here. Call it first in WORKSPACE, then load
dqnn_setup from //bazel:setup.bzl.
"""

load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")
load("//bazel:go_proxy_module.bzl", "go_proxy_module")

RULES_GO_VERSION = "v0.34.0"
GAZELLE_VERSION = "v0.26.0"

# Bazel 4's own tools (@bazel_tools//tools/cpp, //tools/jdk) load
# @rules_cc//cc:defs.bzl; the released rules_cc either needs a download or,
# as Debian packages it, a newer Bazel. These are the native rules it wraps.
_RULES_CC_DEFS = '''"""Stand-in for rules_cc: re-exports Bazel's native C++ rules."""

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def fdo_prefetch_hints(**kwargs):
    native.fdo_prefetch_hints(**kwargs)

def fdo_profile(**kwargs):
    native.fdo_profile(**kwargs)

def objc_import(**kwargs):
    native.objc_import(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)
'''

_RULES_CC_BUILD = '''package(default_visibility = ["//visibility:public"])

exports_files(["defs.bzl"])

alias(
    name = "toolchain_type",
    actual = "@bazel_tools//tools/cpp:toolchain_type",
)
'''

# `bazel test` adds the coverage tools to every test's implicit inputs even
# when coverage is off. They are only run by `bazel coverage`, which dqnn
# does not support offline, so these fail loudly instead of pretending.
_COVERAGE_SCRIPT = '''#!/bin/sh
echo "remote_coverage_tools is a stand-in (dqnn builds offline): bazel coverage is not supported" >&2
exit 1
'''

_COVERAGE_BUILD = '''package(default_visibility = ["//visibility:public"])

sh_binary(
    name = "coverage_report_generator",
    srcs = ["unsupported.sh"],
)

sh_binary(
    name = "lcov_merger",
    srcs = ["unsupported.sh"],
)
'''

def _files_repository_impl(ctx):
    for path, content in ctx.attr.files.items():
        ctx.file(path, content, executable = path.endswith(".sh"))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

_files_repository = repository_rule(
    implementation = _files_repository_impl,
    doc = "A repository made of the given files (path -> content).",
    attrs = {"files": attr.string_dict(mandatory = True)},
)

def _debian_repository_impl(ctx):
    root = ctx.path(ctx.attr.path)
    if not root.get_child("WORKSPACE").exists:
        fail("%s: %s not found; install Debian's %s (apt-get install %s)" % (
            ctx.name,
            ctx.attr.path,
            ctx.attr.package,
            ctx.attr.package,
        ))
    for child in root.readdir():
        ctx.symlink(child, child.basename)

_debian_repository = repository_rule(
    implementation = _debian_repository_impl,
    doc = "A Bazel ruleset installed by a Debian package, with a clear error when it is missing.",
    attrs = {
        "path": attr.string(mandatory = True),
        "package": attr.string(mandatory = True),
    },
    local = True,
)

def dqnn_dependencies():
    """Declares the repositories dqnn's rules need; existing ones are kept."""
    maybe(_debian_repository, name = "bazel_skylib", path = "/usr/share/bazel/tools/skylib", package = "bazel-skylib")
    maybe(_debian_repository, name = "rules_java", path = "/usr/share/bazel/rules/java", package = "bazel-rules-java")
    maybe(
        _files_repository,
        name = "rules_cc",
        files = {"cc/BUILD": _RULES_CC_BUILD, "cc/defs.bzl": _RULES_CC_DEFS, "BUILD": ""},
    )
    maybe(
        _files_repository,
        name = "remote_coverage_tools",
        files = {"BUILD": _COVERAGE_BUILD, "unsupported.sh": _COVERAGE_SCRIPT},
    )
    maybe(
        go_proxy_module,
        name = "io_bazel_rules_go",
        path = "github.com/bazelbuild/rules_go",
        version = RULES_GO_VERSION,
        sum = "h1:cmObMtgIOaEU944SqXtJ9DnlS8IPGGa7pdRnsrpQzXM=",
        patches = [Label("//bazel/patches:rules_go-v0.34.0-go1.26.patch")],
    )
    maybe(
        go_proxy_module,
        name = "bazel_gazelle",
        path = "github.com/bazelbuild/bazel-gazelle",
        version = GAZELLE_VERSION,
        sum = "h1:/gh8S450+nfr3wYI6bTYEi297obbVcMObavhPuB7LVo=",
        patches = [Label("//bazel/patches:bazel-gazelle-v0.26.0-go1.26.patch")],
    )
