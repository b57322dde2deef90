"""Bazel rules for dqnn: turn a Keras model into a C library at build time.

    load("@dqnn//bazel:defs.bzl", "dqnn_model", "dqnn_validate_test")

    dqnn_model(
        name = "mnist_bnn",
        model = "//examples/mnist_bnn:mnist_bnn.h5",
    )

    cc_binary(name = "app", srcs = ["main.c"], deps = [":mnist_bnn"])

main.c includes "mnist_bnn.h" and calls `int mnist_bnn_run(const float *input,
float *output)`; MNIST_BNN_IN_SIZE / MNIST_BNN_OUT_SIZE give the float counts,
MNIST_BNN_ARENA_SIZE the static arena. The library brings -lm; a bare-metal
cc_binary also needs the C library's system calls (--specs=nosys.specs, or its
own) and, to run on a board, its startup code and linker script (docs/bazel.md).
"""

# dqnn --target for each CPU constraint of //bazel/platforms; any other
# platform (the host) gets portable C.
_TARGET_BY_CPU = {
    "cortex_m0": "cortex-m0",
    "cortex_m0plus": "cortex-m0plus",
    "cortex_m3": "cortex-m3",
    "cortex_m4": "cortex-m4",
    "cortex_m7": "cortex-m7",
    "cortex_m33": "cortex-m33",
    "cortex_m55": "cortex-m55",
}

TARGETS = ["host"] + sorted(_TARGET_BY_CPU.values())

def _dqnn_generate_impl(ctx):
    if ctx.attr.target not in TARGETS:
        fail("dqnn_model(%s): target %r is not one of %s" % (ctx.label.name, ctx.attr.target, ", ".join(TARGETS)))
    c_name = ctx.attr.c_name
    hdr = ctx.actions.declare_file("%s_dqnn/%s.h" % (ctx.label.name, c_name))
    src = ctx.actions.declare_file("%s_dqnn/%s.c" % (ctx.label.name, c_name))
    args = ctx.actions.args()
    args.add("generate")
    args.add(ctx.file.model)
    args.add("-o", hdr.dirname)
    args.add("--name", c_name)
    args.add("--target", ctx.attr.target)
    args.add("--amalgamate")
    args.add("--no-build-files")
    args.add("-q")
    inputs = [ctx.file.model]
    if ctx.file.weights:
        args.add("--weights", ctx.file.weights)
        inputs.append(ctx.file.weights)
    if ctx.attr.quantized_io:
        args.add("--quantized-io")
    ctx.actions.run(
        executable = ctx.executable._dqnn,
        arguments = [args],
        inputs = inputs,
        outputs = [hdr, src],
        mnemonic = "DqnnGenerate",
        progress_message = "Generating C library %s from %s (%s)" % (c_name, ctx.file.model.short_path, ctx.attr.target),
    )
    return [DefaultInfo(files = depset([hdr, src]))]

dqnn_generate = rule(
    implementation = _dqnn_generate_impl,
    doc = "Runs `dqnn generate MODEL --amalgamate --no-build-files`; outputs <name>_dqnn/<c_name>.h and .c.",
    attrs = {
        "model": attr.label(mandatory = True, allow_single_file = [".h5", ".hdf5", ".keras", ".json"], doc = "The Keras model file."),
        "weights": attr.label(allow_single_file = True, doc = "Weights file of a .json model."),
        "c_name": attr.string(mandatory = True, doc = "C prefix and file stem."),
        "target": attr.string(mandatory = True, doc = "dqnn --target: " + ", ".join(TARGETS)),
        "quantized_io": attr.bool(default = False, doc = "Pass --quantized-io."),
        "_dqnn": attr.label(
            default = Label("//cmd/dqnn"),
            executable = True,
            cfg = "exec",
        ),
    },
)

def target_select():
    """A select() of the dqnn --target that matches the configured platform."""
    branches = {
        str(Label("//bazel/platforms:is_" + cpu)): target
        for cpu, target in _TARGET_BY_CPU.items()
    }
    branches["//conditions:default"] = "host"
    return select(branches)

def dqnn_model(
        name,
        model,
        target = None,
        weights = None,
        quantized_io = False,
        copts = [],
        linkopts = [],
        visibility = None,
        tags = [],
        **kwargs):
    """A cc_library holding the C code `dqnn generate` writes for a model.

    Args:
      name: the cc_library's name, also the C prefix (NAME_run, NAME.h).
      model: label of the .h5/.keras/.json model.
      target: dqnn --target; None picks it from the platform (cortex-m4 under
        --config=cortex_m4, ..., "host" otherwise).
      weights: label of the weights file of a .json model.
      quantized_io: NAME_run takes and returns the model's quantized types.
      copts: extra C compiler options.
      linkopts: extra link options for whatever links the library (-lm is
        always given).
      visibility: visibility of the cc_library.
      tags: tags of both targets.
      **kwargs: further cc_library arguments (e.g. target_compatible_with).
    """
    gen = name + "_gen"
    dqnn_generate(
        name = gen,
        model = model,
        weights = weights,
        c_name = name,
        target = target if target else target_select(),
        quantized_io = quantized_io,
        tags = tags,
        visibility = ["//visibility:private"],
    )
    native.cc_library(
        name = name,
        srcs = [":" + gen],
        hdrs = [":" + gen],
        includes = [gen + "_dqnn"],
        # Bit-exactness with the reference interpreter needs unfused
        # multiply-adds; generated code is C99.
        copts = ["-std=c99", "-ffp-contract=off"] + copts,
        # The kernels call expf, roundf, ...: whatever links the library
        # links libm.
        linkopts = ["-lm"] + linkopts,
        tags = tags,
        visibility = visibility,
        **kwargs
    )

def dqnn_validate_test(name, model, target = "host", weights = None, args = [], data = [], size = "medium", tags = [], **kwargs):
    """A test that runs `dqnn validate MODEL --target TARGET` (C output vs the reference interpreter).

    Args:
      name: the test's name.
      model: label of the model file.
      target: dqnn validate --target (host, or cortex-m* through QEMU).
      weights: label of the weights file of a .json model.
      args: further `dqnn validate` flags, e.g. ["--samples", "100"]; files
        they name go in data and are referred to as $(rootpath ...).
      data: files the flags refer to.
      size: test size.
      tags: test tags ("host_only" is added: the tool runs on the host).
      **kwargs: further sh_test arguments.
    """
    data = [Label("//cmd/dqnn"), model] + data
    cmd = ["$(rootpath %s)" % Label("//cmd/dqnn"), "validate", "$(rootpath %s)" % model, "--target", target]
    if weights:
        data.append(weights)
        cmd += ["--weights", "$(rootpath %s)" % weights]
    native.sh_test(
        name = name,
        srcs = [Label("//bazel:run_test.sh")],
        args = cmd + args,
        data = data,
        size = size,
        tags = tags + ["host_only"],
        **kwargs
    )
