package target

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// rtFS holds the runtime every test image links: startup code, linker
// scripts, system calls and the benchmark markers (see rt/dq_rt.h).
//
//go:embed rt
var rtFS embed.FS

// BaseCFlags are the flags every dqnn test program is compiled with, on the
// host and on Cortex-M: C99, -O2, no fused multiply-add (the kernels must
// round like the reference interpreter) and warnings as errors.
var BaseCFlags = []string{"-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"}

// BuildOptions tunes Build.
type BuildOptions struct {
	CFlags   []string // extra compiler flags (e.g. -DDQNN_TRACE)
	Sanitize bool     // host only: -fsanitize=address,undefined, stopping at the first error
	Compiler string   // host only: "cc" (default), "gcc" or "clang"
	Output   string   // executable file name inside outDir; default "prog" (host) or "prog.elf"
}

// Build compiles and links srcs (C files; .S assembly is accepted too) with
// the runtime for cpu into one executable in outDir and returns its path.
// includeDirs are added with -I; the runtime's header dq_rt.h is always on
// the include path. Compiler diagnostics are returned in the error.
func Build(ctx context.Context, cpu CPU, srcs []string, includeDirs []string, outDir string, opt BuildOptions) (string, error) {
	if cpu != Host {
		if err := Available(cpu); err != nil {
			return "", err
		}
	} else if opt.Compiler != "" {
		if _, err := exec.LookPath(opt.Compiler); err != nil {
			return "", fmt.Errorf("target host: C compiler %q not found; install it (apt-get install gcc, or clang)", opt.Compiler)
		}
	} else if err := Available(Host); err != nil {
		return "", err
	}
	if len(srcs) == 0 {
		return "", fmt.Errorf("target %s: nothing to build (no source files)", cpu)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	rtDir := filepath.Join(outDir, "dqnn_rt")
	if err := writeRuntime(rtDir); err != nil {
		return "", fmt.Errorf("target %s: writing the runtime: %w", cpu, err)
	}
	args := append([]string(nil), BaseCFlags...)
	var cc, exe string
	if cpu == Host {
		cc = opt.Compiler
		if cc == "" {
			cc = "cc"
		}
		exe = filepath.Join(outDir, nonEmpty(opt.Output, "prog"))
		if opt.Sanitize {
			args = append(args, "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")
		}
	} else {
		if opt.Sanitize {
			return "", fmt.Errorf("target %s: --sanitize needs the host target (no sanitizers for bare-metal Arm)", cpu)
		}
		if opt.Compiler != "" && opt.Compiler != "arm-none-eabi-gcc" {
			return "", fmt.Errorf("target %s: compiler %q is not supported (only arm-none-eabi-gcc)", cpu, opt.Compiler)
		}
		cc = "arm-none-eabi-gcc"
		exe = filepath.Join(outDir, nonEmpty(opt.Output, "prog.elf"))
		b := boards[cpu]
		args = append(args, "-mthumb")
		args = append(args, b.flags...)
		args = append(args,
			"-ffunction-sections", "-fdata-sections",
			// newlib-nano: small printf; our own startup (startup.S) replaces crt0.
			"--specs=nano.specs", "-nostartfiles",
			"-T", filepath.Join(rtDir, "ld", b.script), "-L", filepath.Join(rtDir, "ld"),
			"-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments")
	}
	args = append(args, opt.CFlags...)
	for _, d := range includeDirs {
		args = append(args, "-I", d)
	}
	args = append(args, "-I", rtDir)
	args = append(args, srcs...)
	if cpu == Host {
		args = append(args, filepath.Join(rtDir, "dq_rt_host.c"))
	} else {
		args = append(args, filepath.Join(rtDir, "startup.S"), filepath.Join(rtDir, "dq_rt_arm.c"))
	}
	args = append(args, "-o", exe, "-lm")
	cmd := exec.CommandContext(ctx, cc, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("target %s: %s failed: %v\n%s\ncommand: %s %s", cpu, cc, err, strings.TrimSpace(out.String()), cc, strings.Join(args, " "))
	}
	return exe, nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeRuntime copies the embedded runtime into dir, skipping unchanged files.
func writeRuntime(dir string) error {
	return fs.WalkDir(rtFS, "rt", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, strings.TrimPrefix(p, "rt"))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := rtFS.ReadFile(p)
		if err != nil {
			return err
		}
		return writeIfChanged(dst, data)
	})
}

func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
