package compiler_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	kernelsc "github.com/dqnn/dqnn/kernels_c"
	"github.com/dqnn/dqnn/target"
)

// smallCores are the cores of issue #15: no DSP, no FPU, 8-32 KB of RAM.
var smallCores = []target.CPU{target.CortexM0, target.CortexM3}

// TestStackExampleSmallCores: on the M0 the example's ram (total),
// stack included, fits the 5,120 B, and on M0 and M3 its deepest
// call chain needs at most 1 KB.
func TestStackExampleSmallCores(t *testing.T) {
	t.Parallel()
	for _, cpu := range smallCores {
		t.Run(string(cpu), func(t *testing.T) {
			testenv.Need(t, "arm-none-eabi-gcc", target.Available(cpu))
			t.Parallel()
			res, err := compiler.Compile(example(t), compiler.Options{Name: "mnist_bnn", Target: string(cpu)})
			if err != nil {
				t.Fatal(err)
			}
			st, err := compiler.Stack(context.Background(), res, "mnist_bnn", cpu)
			if err != nil {
				t.Fatal(err)
			}
			before := res.Report.RAMTotalBytes
			res.Report.AddStack(st)
			t.Logf("%s: stack %d B along %s; ram (total) %d B", cpu, st.Bytes, strings.Join(st.Path, " > "), res.Report.RAMTotalBytes)
			if st.Bytes <= 0 || st.Bytes > 1024 || st.Path[0] != "mnist_bnn_run" || len(st.Path) < 2 {
				t.Errorf("stack %d B along %v, want 1..1,024 B from mnist_bnn_run into a kernel", st.Bytes, st.Path)
			}
			if res.Report.RAMTotalBytes != before+st.Bytes || res.Report.StackBytes != st.Bytes {
				t.Errorf("ram (total) %d, want %d + stack %d", res.Report.RAMTotalBytes, before, st.Bytes)
			}
			if cpu == target.CortexM0 && res.Report.RAMTotalBytes > 5120 {
				t.Errorf("ram (total) on %s = %d B, want <= 5,120", cpu, res.Report.RAMTotalBytes)
			}
		})
	}
}

// TestKernelStackSmallCores: every kernel, with everything it calls, needs
// at most 1 KB of stack on the M0 and the M3.
func TestKernelStackSmallCores(t *testing.T) {
	if testing.Short() {
		t.Skip("short: 264 cross compilations")
	}
	t.Parallel()
	dir := t.TempDir()
	ents, err := fs.ReadDir(kernelsc.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := fs.ReadFile(kernelsc.FS, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, cpu := range smallCores {
		t.Run(string(cpu), func(t *testing.T) {
			testenv.Need(t, "arm-none-eabi-gcc", target.Available(cpu))
			frames, calls, err := compiler.CallGraph(context.Background(), dir, cpu)
			if err != nil {
				t.Fatal(err)
			}
			n, worst := 0, 0
			for fn := range frames {
				if !strings.HasPrefix(fn, "dq_") || strings.Contains(fn, ":") {
					continue // static helpers are counted in their callers' chains
				}
				n++
				b, path, err := compiler.Deepest(fn, frames, calls)
				if err != nil {
					t.Errorf("%s: %v", fn, err)
					continue
				}
				worst = max(worst, b)
				if b > 1024 {
					t.Errorf("%s needs %d B of stack on %s (%s), want <= 1,024", fn, b, cpu, strings.Join(path, " > "))
				}
			}
			if n < 50 {
				t.Fatalf("only %d kernels found", n)
			}
			t.Logf("%s: %d kernels, deepest %d B", cpu, n, worst)
		})
	}
}

// TestStackRefusesUnbounded: recursion and variable-length frames have no
// static bound and are reported, never guessed.
func TestStackRefusesUnbounded(t *testing.T) {
	t.Parallel()
	testenv.Need(t, "arm-none-eabi-gcc", target.Available(target.CortexM0))
	for name, src := range map[string]string{
		"recursive": "int f(int n);\nint f(int n) { return n < 2 ? n : f(n - 1) * 3 + f(n - 2); }\n",
		"indirect":  "int h(int (*p)(int), int n);\nint h(int (*p)(int), int n) { return p(n) + 1; }\n",
		"vla":       "int g(int n);\nint g(int n) { volatile char b[n]; b[0] = 1; return b[0]; }\n",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.c"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		frames, calls, err := compiler.CallGraph(context.Background(), dir, target.CortexM0)
		if err == nil {
			for fn := range frames {
				if _, _, err = compiler.Deepest(fn, frames, calls); err != nil {
					break
				}
			}
		}
		if err == nil {
			t.Errorf("%s: no error, want one (frames %v)", name, frames)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestStackCountsNakedFrames: GCC reports a naked function's frame as 0
// bytes; the analysis counts what its assembly pushes and reserves (here
// nine registers and 24 bytes on the M3, five + four registers and 16
// bytes on the M0), and a plain leaf stays at 0.
func TestStackCountsNakedFrames(t *testing.T) {
	t.Parallel()
	for cpu, tc := range map[target.CPU]struct {
		asm  string
		want int
	}{
		target.CortexM3: {`"push {r4-r11, lr}\n\t" "sub sp, sp, #24\n\t" "add sp, sp, #24\n\t" "pop {r4-r11, pc}\n\t"`, 9*4 + 24},
		target.CortexM0: {`"push {r4-r7, lr}\n\t" "mov r4, r8\n\t" "push {r4-r7}\n\t" "sub sp, #16\n\t" "add sp, #16\n\t" "pop {r4-r7}\n\t" "pop {r4-r7, pc}\n\t"`, 9*4 + 16},
	} {
		t.Run(string(cpu), func(t *testing.T) {
			testenv.Need(t, "arm-none-eabi-gcc", target.Available(cpu))
			t.Parallel()
			src := "__attribute__((naked, noinline)) static void nk(void) { __asm__ volatile(" + tc.asm + "); }\n" +
				"__attribute__((noinline)) static int leaf(int a) { return a * 3; }\n" +
				"int top(int a);\nint top(int a) { nk(); return leaf(a); }\n"
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x.c"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			frames, calls, err := compiler.CallGraph(context.Background(), dir, cpu)
			if err != nil {
				t.Fatal(err)
			}
			if got := frames["x.c:nk"]; got != tc.want {
				t.Errorf("naked frame %d B, want %d (frames %v)", got, tc.want, frames)
			}
			if got := frames["x.c:leaf"]; got != 0 {
				t.Errorf("leaf frame %d B, want 0", got)
			}
			n, path, err := compiler.Deepest("top", frames, calls)
			if err != nil {
				t.Fatal(err)
			}
			if n < frames["top"]+tc.want || path[len(path)-1] != "x.c:nk" {
				t.Errorf("deepest %d B along %v, want top's frame + %d through nk", n, path, tc.want)
			}
		})
	}
}
