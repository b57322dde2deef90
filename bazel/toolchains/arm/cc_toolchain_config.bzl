"""cc_toolchain_config for Debian's gcc-arm-none-eabi (GCC 12, newlib), per Cortex-M CPU."""

load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")
load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
    "with_feature_set",
)

# Per-CPU code generation flags (/work/shared/notes/toolchain-facts.md).
# cortex-m55 takes its FPU and MVE from -mcpu (+mve.fp is the default);
# the cores without an FPU (M0, M0+, M3) use the soft-float ABI.
CPU_FLAGS = {
    "cortex-m0": ["-mcpu=cortex-m0", "-mfloat-abi=soft"],
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mfloat-abi=soft"],
    "cortex-m3": ["-mcpu=cortex-m3", "-mfloat-abi=soft"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"],
    "cortex-m33": ["-mcpu=cortex-m33", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mfloat-abi=hard"],
}

_COMPILE_ACTIONS = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
    ACTION_NAMES.cpp_module_codegen,
    ACTION_NAMES.linkstamp_compile,
]

_LINK_ACTIONS = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _impl(ctx):
    prefix = ctx.attr.gcc_prefix
    tools = {
        "gcc": prefix + "gcc",
        "cpp": prefix + "cpp",
        "ld": prefix + "ld",
        "ar": prefix + "ar",
        "nm": prefix + "nm",
        "objcopy": prefix + "objcopy",
        "objdump": prefix + "objdump",
        "strip": prefix + "strip",
        "gcov": prefix + "gcov",
        "dwp": "/bin/false",
    }
    cpu_flags = CPU_FLAGS[ctx.attr.cpu] + ["-mthumb"]

    features = [
        feature(
            name = "cortex_m_flags",
            enabled = True,
            flag_sets = [
                flag_set(
                    actions = _COMPILE_ACTIONS + _LINK_ACTIONS,
                    flag_groups = [flag_group(flags = cpu_flags)],
                ),
                flag_set(
                    actions = _COMPILE_ACTIONS,
                    flag_groups = [flag_group(flags = [
                        # Bit-exact float results need unfused multiply-adds.
                        "-ffp-contract=off",
                        "-O2",
                        "-g",
                        "-Wall",
                        "-ffunction-sections",
                        "-fdata-sections",
                        # Reproducible outputs.
                        "-no-canonical-prefixes",
                        "-fno-canonical-system-headers",
                        "-Wno-builtin-macro-redefined",
                        "-D__DATE__=\"redacted\"",
                        "-D__TIMESTAMP__=\"redacted\"",
                        "-D__TIME__=\"redacted\"",
                    ])],
                ),
                flag_set(
                    actions = _LINK_ACTIONS,
                    flag_groups = [flag_group(flags = ["-Wl,--gc-sections", "-no-canonical-prefixes"])],
                ),
            ],
        ),
        # -c dbg drops the optimisation for stepping in a debugger.
        feature(name = "dbg"),
        feature(name = "opt"),
        feature(
            name = "dbg_flags",
            enabled = True,
            flag_sets = [flag_set(
                actions = _COMPILE_ACTIONS,
                flag_groups = [flag_group(flags = ["-O0"])],
                with_features = [with_feature_set(features = ["dbg"])],
            )],
        ),
    ]

    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        toolchain_identifier = "arm-none-eabi-" + ctx.attr.cpu,
        host_system_name = "x86_64-unknown-linux-gnu",
        target_system_name = "arm-none-eabi",
        target_cpu = ctx.attr.cpu,
        target_libc = "newlib",
        compiler = "gcc",
        abi_version = "eabi",
        abi_libc_version = "newlib",
        tool_paths = [tool_path(name = k, path = v) for k, v in tools.items()],
        cxx_builtin_include_directories = ctx.attr.include_directories,
        features = features,
    )

cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {
        "cpu": attr.string(mandatory = True, values = CPU_FLAGS.keys()),
        "gcc_prefix": attr.string(default = "/usr/bin/arm-none-eabi-"),
        "include_directories": attr.string_list(default = [
            "/usr/lib/gcc/arm-none-eabi",
            "/usr/lib/arm-none-eabi/include",
            "/usr/include/newlib",
        ]),
    },
    provides = [CcToolchainConfigInfo],
)
