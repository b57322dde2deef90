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
var BaseCFlags = append(append([]string(nil), CodeCFlags...), WarnCFlags...)

// CodeCFlags are dqnn's language, optimisation and contraction flags: the
// part of BaseCFlags that BuildOptions.UserCFlags replace.
var CodeCFlags = []string{"-std=c99", "-O2", "-ffp-contract=off"}

// WarnCFlags are always given: generated code compiles without warnings
// under any flags, and the test runner and runtime do too.
var WarnCFlags = []string{"-Wall", "-Wextra", "-Werror"}

// BuildOptions tunes Build.
type BuildOptions struct {
	CFlags []string // extra compiler flags, appended (e.g. -DDQNN_TRACE)
	// UserCFlags, when UseUserCFlags is set, replace CodeCFlags: the program
	// is compiled with the user's own optimisation, language standard and
	// contraction flags (none at all: the compiler's defaults). The CPU
	// selection of a Cortex-M target, WarnCFlags, CFlags and the link
	// options stay.
	UserCFlags    []string
	UseUserCFlags bool
	Sanitize      bool // host only: -fsanitize=address,undefined, stopping at the first error
	// Compiler is the C compiler, a name on PATH or a path. Host: "cc" by
	// default (gcc, clang, ...); Cortex-M: "arm-none-eabi-gcc" by default, or
	// another arm-none-eabi-gcc by path (the runtime needs newlib).
	Compiler string
	Output   string // executable file name inside outDir; default "prog" (host) or "prog.elf"
	// LargeBoard links a Cortex-M0/M0+ image for the board with more memory
	// (see largeBoards); run it with RunOptions.LargeBoard.
	LargeBoard bool
}

// Command is the compiler and compile flags Build uses for a CPU and
// options (sources, include directories and link options left out), for
// reports that say how a program was built.
type Command struct {
	CC     string   `json:"cc"`     // as given (name or path)
	Path   string   `json:"path"`   // resolved on PATH
	CFlags []string `json:"cflags"` // in command-line order
}

// String returns the command as a shell line.
func (c Command) String() string { return strings.TrimSpace(c.CC + " " + strings.Join(c.CFlags, " ")) }

// CompileCommand returns the compiler and compile flags Build would use, or
// an error naming what is missing or unsupported.
func CompileCommand(cpu CPU, opt BuildOptions) (Command, error) {
	var cc string
	if cpu == Host {
		cc = nonEmpty(opt.Compiler, "cc")
	} else if cpu.IsCortexM() {
		if err := Available(cpu); err != nil {
			return Command{}, err
		}
		if opt.Sanitize {
			return Command{}, fmt.Errorf("target %s: --sanitize needs the host target (no sanitizers for bare-metal Arm)", cpu)
		}
		cc = nonEmpty(opt.Compiler, "arm-none-eabi-gcc")
		if b := filepath.Base(cc); !strings.HasPrefix(b, "arm-none-eabi-") || !strings.Contains(b, "gcc") {
			return Command{}, fmt.Errorf("target %s: compiler %q is not supported (an arm-none-eabi-gcc, by name or path: the runtime links newlib)", cpu, opt.Compiler)
		}
	} else {
		_, err := ParseCPU(string(cpu))
		return Command{}, err
	}
	path, err := exec.LookPath(cc)
	if err != nil {
		if cpu == Host && opt.Compiler == "" {
			return Command{}, Available(Host)
		}
		return Command{}, fmt.Errorf("target %s: C compiler %q not found; install it (apt-get install gcc, clang or gcc-arm-none-eabi) or give its path", cpu, cc)
	}
	var args []string
	if cpu != Host {
		args = append(args, "-mthumb")
		args = append(args, boards[cpu].flags...)
	}
	if opt.UseUserCFlags {
		args = append(args, opt.UserCFlags...)
	} else {
		args = append(args, CodeCFlags...)
	}
	args = append(args, WarnCFlags...)
	if opt.Sanitize {
		args = append(args, "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")
	}
	if cpu != Host {
		args = append(args, "-ffunction-sections", "-fdata-sections")
	}
	args = append(args, opt.CFlags...)
	return Command{CC: cc, Path: path, CFlags: args}, nil
}

// Build compiles and links srcs (C files; .S assembly is accepted too) with
// the runtime for cpu into one executable in outDir and returns its path.
// includeDirs are added with -I; the runtime's header dq_rt.h is always on
// the include path. Compiler diagnostics are returned in the error; an image
// too large for the board's FLASH or RAM is a *FitError.
func Build(ctx context.Context, cpu CPU, srcs []string, includeDirs []string, outDir string, opt BuildOptions) (string, error) {
	c, err := CompileCommand(cpu, opt)
	if err != nil {
		return "", err
	}
	if len(srcs) == 0 {
		return "", fmt.Errorf("target %s: nothing to build (no source files)", cpu)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	rtDir := filepath.Join(outDir, "dqnn_rt")
	if err := WriteRuntime(rtDir); err != nil {
		return "", fmt.Errorf("target %s: writing the runtime: %w", cpu, err)
	}
	cc, args := c.CC, c.CFlags
	var exe string
	if cpu == Host {
		exe = filepath.Join(outDir, nonEmpty(opt.Output, "prog"))
	} else {
		exe = filepath.Join(outDir, nonEmpty(opt.Output, "prog.elf"))
		b, err := cpu.board(opt.LargeBoard)
		if err != nil {
			return "", err
		}
		args = append(args,
			// newlib-nano: small printf; our own startup (startup.S) replaces crt0.
			"--specs=nano.specs", "-nostartfiles",
			"-T", filepath.Join(rtDir, "ld", b.script), "-L", filepath.Join(rtDir, "ld"),
			"-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments")
	}
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
		log := fmt.Sprintf("%s failed: %v\n%s\ncommand: %s %s", cc, err, strings.TrimSpace(out.String()), cc, strings.Join(args, " "))
		if cpu != Host {
			if fe := fitError(cpu, out.String(), log); fe != nil {
				return "", fe
			}
		}
		return "", fmt.Errorf("target %s: %s", cpu, log)
	}
	return exe, nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// WriteRuntime copies the runtime every test image links into dir,
// skipping unchanged files: dq_rt.h, dq_rt_host.c, and for Cortex-M
// startup.S, dq_rt_arm.c and the linker scripts ld/<board>.ld (which
// INCLUDE ld/dq_sections.ld: link with -L dir/ld). For programs built by
// another build system (a CMake consumer under QEMU).
func WriteRuntime(dir string) error {
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
