package harness

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/ref"
	"github.com/dqnn/dqnn/gen/vectorgen"
	"github.com/dqnn/dqnn/gen/vectors"
	"github.com/dqnn/dqnn/ir/dtype"
	kernelsc "github.com/dqnn/dqnn/kernels_c"
	"github.com/dqnn/dqnn/target"
)

// kernelDir writes the embedded kernel library into a temporary directory.
func kernelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(kernelsc.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := kernelsc.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), src, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// runVectors builds every batch of vectors for cpu (with compiler on the
// host) and checks that each program reports all its cases passed. It
// returns the number of kernel x vector cases that ran.
func runVectors(t *testing.T, cases []*ref.Case, cpu target.CPU, compiler string, maxCases, maxBytes, parallel int) int {
	cases = onlyKernels(t, cases)
	if err := target.Available(cpu); err != nil {
		t.Skipf("%s not available: %v", cpu, err)
	}
	if compiler != "" {
		if _, err := exec.LookPath(compiler); err != nil {
			t.Skipf("%s not installed", compiler)
		}
	}
	kdir := kernelDir(t)
	batches := Batches(cases, maxCases, maxBytes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var mu sync.Mutex
	ran := 0
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for bi, batch := range batches {
		wg.Add(1)
		sem <- struct{}{}
		go func(bi int, batch []*ref.Case) {
			defer wg.Done()
			defer func() { <-sem }()
			name := fmt.Sprintf("batch %d (%s .. %s)", bi, batch[0].Kernel, batch[len(batch)-1].Kernel)
			src, kernels, err := Program(batch)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			dir := filepath.Join(t.TempDir(), fmt.Sprint(bi))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Error(err)
				return
			}
			mainC := filepath.Join(dir, "main.c")
			if err := os.WriteFile(mainC, src, 0o644); err != nil {
				t.Error(err)
				return
			}
			srcs := []string{mainC}
			for _, f := range KernelFiles(kernels) {
				srcs = append(srcs, filepath.Join(kdir, f))
			}
			exe, err := target.Build(ctx, cpu, srcs, []string{kdir}, dir, target.BuildOptions{Compiler: compiler})
			if err != nil {
				t.Errorf("%s: build: %v", name, err)
				return
			}
			res, err := target.Run(ctx, cpu, exe, target.RunOptions{Timeout: 5 * time.Minute})
			if err != nil {
				t.Errorf("%s: run: %v", name, err)
				return
			}
			if res.Fault != "" || res.TimedOut {
				t.Errorf("%s: fault %q %s, timed out %v\n%s", name, res.Fault, res.FaultMsg, res.TimedOut, res.Stdout)
				return
			}
			if err := Check(res.Stdout, len(batch)); err != nil || res.ExitCode != 0 {
				t.Errorf("%s (kept in %s): exit %d: %v", name, dir, res.ExitCode, err)
				return
			}
			mu.Lock()
			ran += len(batch)
			mu.Unlock()
		}(bi, batch)
	}
	wg.Wait()
	t.Logf("%s: %d kernel x vector cases passed in %d programs", cpu, ran, len(batches))
	return ran
}

func TestVectorsHostGCC(t *testing.T) {
	runVectors(t, vectors.Cases, target.Host, "gcc", 120, 1<<20, 2)
}

func TestVectorsHostClang(t *testing.T) {
	if testing.Short() {
		t.Skip("short: gcc covers the host")
	}
	runVectors(t, vectors.Cases, target.Host, "clang", 120, 1<<20, 2)
}

// kernelFilter narrows the vector tests to some kernels while working on
// them, e.g. go test ./gen/harness -run CortexM -kernels dq_dense_s1_s1_s1
var kernelFilter = flag.String("kernels", "", "comma-separated kernel names: run only their vectors")

// onlyKernels returns the cases of the kernels named by -kernels (all without it).
func onlyKernels(t *testing.T, cases []*ref.Case) []*ref.Case {
	if *kernelFilter == "" {
		return cases
	}
	names := strings.Split(*kernelFilter, ",")
	var out []*ref.Case
	for _, c := range cases {
		if slices.Contains(names, c.Kernel) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("-kernels %q matches no vectors", *kernelFilter)
	}
	return out
}

// moreCPUs adds Cortex-M cores to TestVectorsCortexM, e.g.
// go test ./gen/harness -run CortexM -cpus cortex-m7,cortex-m33,cortex-m55
var moreCPUs = flag.String("cpus", "", "comma-separated extra Cortex-M cores for TestVectorsCortexM")

// TestVectorsCortexM runs the same programs on Cortex-M4 and Cortex-M55 (hard
// float), Cortex-M0 and Cortex-M3 (no DSP, no FPU: the portable C with
// soft-float and DQ_SMALL_STACK) under QEMU, and on the cores named by -cpus;
// smaller batches keep each image well inside the board's memory (the
// micro:bit's M0: 256 KB flash, 16 KB RAM).
func TestVectorsCortexM(t *testing.T) {
	if testing.Short() {
		t.Skip("short: QEMU run skipped")
	}
	// M4 (DSP, FPv4) and M55 (Armv8.1-M, MVE, FPv5): the kernels' ISA-conditional
	// paths (USADA8/LDM popcount, VFMA) differ in the compiler's code for each
	cpus := []target.CPU{target.CortexM4, target.CortexM55, target.CortexM0, target.CortexM3}
	for _, s := range strings.Split(*moreCPUs, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		c, err := target.ParseCPU(s)
		if err != nil || !c.IsCortexM() {
			t.Fatalf("-cpus: %q is not a Cortex-M core (%v)", s, err)
		}
		if !slices.Contains(cpus, c) {
			cpus = append(cpus, c)
		}
	}
	for _, c := range cpus {
		t.Run(string(c), func(t *testing.T) {
			maxBytes := 400 << 10
			if c.Machine() == "microbit" {
				maxBytes = 12 << 10
			}
			runVectors(t, vectors.Cases, c, "", 60, maxBytes, 2)
		})
	}
}

// TestFreshSeedHost draws vectors with another seed than the committed ones
// (same edge-case shapes, new data) and runs them with gcc: the kernels must
// agree with the reference beyond the data they were checked on.
func TestFreshSeedHost(t *testing.T) {
	if testing.Short() {
		t.Skip("short: committed vectors only")
	}
	cases, err := vectorgen.Cases(vectorgen.DefaultSeed+1, matrix.Rows)
	if err != nil {
		t.Fatal(err)
	}
	runVectors(t, cases, target.Host, "gcc", 120, 1<<20, 2)
}

// TestEveryVectorKernelCovered checks that every kernel of the table has vectors.
func TestEveryVectorKernelCovered(t *testing.T) {
	count := map[string]int{}
	for _, c := range vectors.Cases {
		count[c.Kernel]++
	}
	for _, k := range matrix.Table {
		if count[k.Name()] < 3 {
			t.Errorf("%s has %d vectors, want >= 3", k.Name(), count[k.Name()])
		}
	}
}

// TestKernelsCompileStrict compiles every kernel file on its own with
// -Werror under gcc, clang and arm-none-eabi-gcc (Cortex-M4, hard float).
// strictCompiler is a compiler command and its flags.
type strictCompiler struct {
	cc    string
	flags []string
}

// strictCompilers are the compilers and flags every kernel must build with
// under -Werror: the host compilers, the Cortex-M4 (DSP, VFP) and
// Cortex-M55 (Helium) fast paths, and the portable C on Cortex-M0 (ARMv6-M)
// and Cortex-M3 (ARMv7-M).
func strictCompilers() map[string]strictCompiler {
	base := append([]string{}, target.BaseCFlags...)
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	return map[string]strictCompiler{
		"gcc":                   {"gcc", base},
		"clang":                 {"clang", with("-Wpedantic")},
		"arm-none-eabi-gcc-m4":  {"arm-none-eabi-gcc", with("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-mthumb")},
		"arm-none-eabi-gcc-m55": {"arm-none-eabi-gcc", with("-mcpu=cortex-m55", "-mfloat-abi=hard")},
		// no DSP, no FPU: the assembler rejects any v7E-M instruction that
		// leaks out of its feature guard
		"arm-none-eabi-gcc-m0": {"arm-none-eabi-gcc", with("-mcpu=cortex-m0", "-mfloat-abi=soft", "-mthumb")},
		"arm-none-eabi-gcc-m3": {"arm-none-eabi-gcc", with("-mcpu=cortex-m3", "-mfloat-abi=soft", "-mthumb")},
	}
}

// TestKernelsAmalgamated compiles all kernels as one translation unit, as
// dqnn generate --amalgamate writes a library: helpers shared by several
// kernels must not be defined twice.
func TestKernelsAmalgamated(t *testing.T) {
	kdir := kernelDir(t)
	files, _ := filepath.Glob(filepath.Join(kdir, "*.c"))
	slices.Sort(files)
	var b strings.Builder
	b.WriteString("#include \"dq_kernels.h\"\n")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.SplitAfter(string(src), "\n") {
			if strings.HasPrefix(l, "#include \"dq_") || strings.HasPrefix(l, "//go:build") {
				continue
			}
			b.WriteString(l)
		}
	}
	all := filepath.Join(t.TempDir(), "all_kernels.c")
	if err := os.WriteFile(all, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range strictCompilers() {
		cc, flags := c.cc, c.flags
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(cc); err != nil {
				t.Skipf("%s not installed", cc)
			}
			args := append(append([]string{}, flags...), "-I", kdir, "-c", all, "-o", filepath.Join(t.TempDir(), "all.o"))
			if msg, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, msg)
			}
		})
	}
}

func TestKernelsCompileStrict(t *testing.T) {
	kdir := kernelDir(t)
	files, _ := filepath.Glob(filepath.Join(kdir, "*.c"))
	if len(files) != len(matrix.Table) {
		t.Fatalf("%d kernel files, want %d", len(files), len(matrix.Table))
	}
	for name, c := range strictCompilers() {
		cc, flags := c.cc, c.flags
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(cc); err != nil {
				t.Skipf("%s not installed", cc)
			}
			out := t.TempDir()
			// one compiler invocation for all files keeps this fast
			args := append(append([]string{}, flags...), "-I", kdir, "-c")
			args = append(args, files...)
			cmd := exec.Command(cc, args...)
			cmd.Dir = out
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", cc, err, msg)
			}
			objs, _ := filepath.Glob(filepath.Join(out, "*.o"))
			if len(objs) != len(files) {
				t.Errorf("%s produced %d objects for %d files", cc, len(objs), len(files))
			}
		})
	}
}

// TestHarnessDetectsMismatch corrupts one expected element of an s1, an s8
// and an f32 case and checks that the program reports each as a failure.
func TestHarnessDetectsMismatch(t *testing.T) {
	if err := target.Available(target.Host); err != nil {
		t.Skip(err)
	}
	picked := map[dtype.DType]*ref.Case{}
	for _, c := range vectors.Cases {
		if picked[c.Want.T] == nil && c.Dense != nil {
			cp := *c
			cp.Want = ref.Buf{T: c.Want.T, F32: append([]float32(nil), c.Want.F32...), S8: append([]int8(nil), c.Want.S8...), S1: append([]uint32(nil), c.Want.S1...)}
			switch cp.Want.T {
			case dtype.F32:
				cp.Want.F32[0] = cp.Want.F32[0]*1.001 + 0.01
			case dtype.S8:
				cp.Want.S8[0] ^= 1
			case dtype.S1:
				cp.Want.S1[0] ^= 1
			}
			picked[c.Want.T] = &cp
		}
	}
	batch := []*ref.Case{picked[dtype.F32], picked[dtype.S8], picked[dtype.S1]}
	src, kernels, err := Program(batch)
	if err != nil {
		t.Fatal(err)
	}
	kdir := kernelDir(t)
	dir := t.TempDir()
	mainC := filepath.Join(dir, "main.c")
	if err := os.WriteFile(mainC, src, 0o644); err != nil {
		t.Fatal(err)
	}
	srcs := []string{mainC}
	for _, f := range KernelFiles(kernels) {
		srcs = append(srcs, filepath.Join(kdir, f))
	}
	ctx := context.Background()
	exe, err := target.Build(ctx, target.Host, srcs, []string{kdir}, dir, target.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := target.Run(ctx, target.Host, exe, target.RunOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || strings.Count(res.Stdout, "FAIL case") != 3 || Check(res.Stdout, 3) == nil {
		t.Errorf("corrupted expectations: exit %d, output:\n%s", res.ExitCode, res.Stdout)
	}
}
