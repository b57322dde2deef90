"""dqnn_setup(): the second WORKSPACE step, after dqnn_dependencies().

It needs the repositories dqnn_dependencies() declared, so it lives in its own
file (a WORKSPACE can load from a repository only after declaring it).
"""

load("@bazel_gazelle//:deps.bzl", "gazelle_dependencies")
load("@io_bazel_rules_go//go:deps.bzl", "go_register_toolchains", "go_rules_dependencies")
load("//bazel:go_deps.bzl", "go_dependencies")

def dqnn_setup(go_version = "host", register_go_toolchains = True, go_repository_config = None):
    """Declares dqnn's Go module dependencies and registers its toolchains.

    Args:
      go_version: the Go SDK for go_register_toolchains; "host" uses the
        installed Go (Bazel cannot download one offline).
      register_go_toolchains: False when the workspace registers its own Go SDK.
      go_repository_config: the WORKSPACE file whose `# gazelle:repository_macro`
        directives tell go_repository which repository provides which import
        path; default: dqnn's, which names bazel/go_deps.bzl. A workspace with
        Go dependencies of its own points it at a WORKSPACE that lists both.
    """

    # Our go.mod versions first: rules_go and Gazelle only declare the
    # repositories that do not exist yet.
    go_dependencies()
    go_rules_dependencies()
    if register_go_toolchains:
        go_register_toolchains(version = go_version)
    gazelle_dependencies(
        go_repository_default_config = go_repository_config or str(Label("//:WORKSPACE")),
    )

    # Cortex-M C toolchains; selected only by the platforms in
    # //bazel/platforms (see the cortex_m* configs in .bazelrc).
    native.register_toolchains(str(Label("//bazel/toolchains/arm:all")))
