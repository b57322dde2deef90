"""go_proxy_module: a repository rule that takes a Bazel ruleset from the Go module proxy.

rules_go and Gazelle publish every tag as a Go module. Fetching them with the
host `go mod download` (instead of http_archive) lets a workspace resolve
without reaching any URL but the Go module proxy, or nothing at all once the
module cache holds them. The module's go.sum hash is checked, so the content is
pinned exactly as an http_archive sha256 would pin it.
"""

def _go_tool(ctx):
    goroot = ctx.os.environ.get("GOROOT", "")
    if goroot:
        go = ctx.path(goroot + "/bin/go")
        if go.exists:
            return go
    go = ctx.which("go")
    if not go:
        fail("go_proxy_module(%s): no `go` on PATH and GOROOT not set; install Go >= 1.20" % ctx.name)
    return go

def _go_proxy_module_impl(ctx):
    go = _go_tool(ctx)
    coord = "%s@%s" % (ctx.attr.path, ctx.attr.version)

    # Run outside any module so the workspace's go.mod is not consulted.
    # GOFLAGS=-mod=mod keeps a user's GOFLAGS=-mod=vendor from interfering.
    env = {"GOFLAGS": "-mod=mod", "GO111MODULE": "on", "GOWORK": "off"}
    res = ctx.execute([go, "mod", "download", "-json", coord], environment = env, working_directory = "/", timeout = 600)
    info = json.decode(res.stdout) if res.stdout.strip() else {}
    if res.return_code or info.get("Error"):
        fail("go_proxy_module(%s): `go mod download -json %s` failed: %s%s" % (
            ctx.name,
            coord,
            info.get("Error", ""),
            res.stderr,
        ))
    if ctx.attr.sum and info.get("Sum") != ctx.attr.sum:
        fail("go_proxy_module(%s): %s has sum %s, want %s" % (ctx.name, coord, info.get("Sum"), ctx.attr.sum))

    # The module zip holds every file under "<path>@<version>/"; extracting it
    # (a local file, no download) gives a writable tree that patches can edit.
    ctx.extract(info["Zip"], stripPrefix = coord)
    for patch in ctx.attr.patches:
        ctx.patch(patch, strip = 1)
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

go_proxy_module = repository_rule(
    implementation = _go_proxy_module_impl,
    doc = "Fetches a Go module (a Bazel ruleset tagged as a module) through `go mod download` and applies patches.",
    attrs = {
        "path": attr.string(mandatory = True, doc = "Module path, e.g. github.com/bazelbuild/rules_go."),
        "version": attr.string(mandatory = True, doc = "Module version (a tag), e.g. v0.34.0."),
        "sum": attr.string(doc = "Expected go.sum hash (h1:...) of the module zip."),
        "patches": attr.label_list(allow_files = True, doc = "Patch files (-p1) applied after extraction."),
    },
    environ = ["GOROOT", "GOPROXY", "GOMODCACHE", "GOPATH", "GONOSUMDB", "GOPRIVATE", "GOFLAGS"],
)
