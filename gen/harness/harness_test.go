package harness

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dqnn/dqnn/gen/kernelgen"
	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/ref"
	"github.com/dqnn/dqnn/gen/vectorgen"
	"github.com/dqnn/dqnn/gen/vectors"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/target"
)

// runVectors builds every batch of vectors with tc for cpu and checks that
// each program reports all its cases passed. It returns the number of kernel
// x vector cases that ran.
func runVectors(t *testing.T, cases []*ref.Case, cpu target.CPU, tc toolchain, maxCases, maxBytes, parallel int) int {
	cases = onlyKernels(t, cases)
	testenv.Need(t, "a runner for "+string(cpu), target.Available(cpu))
	haveTool(t, tc.cc)
	batches := Batches(cases, maxCases, maxBytes)
	progress.programs.Add(int64(len(batches)))
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
			defer progress.programsRun.Add(1)
			name := fmt.Sprintf("%s batch %d (%s .. %s)", cpu, bi, batch[0].Kernel, batch[len(batch)-1].Kernel)
			prog, err := NewProgram(batch)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			dir := filepath.Join(t.TempDir(), fmt.Sprint(bi))
			exe, err := buildProgram(ctx, cpu, tc, dir, prog)
			if err != nil {
				t.Errorf("%s: build (%s): %v", name, tc, err)
				return
			}
			setCurrent(name)
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
				t.Errorf("%s (%s; kept in %s): exit %d: %v", name, tc, dir, res.ExitCode, err)
				return
			}
			mu.Lock()
			ran += len(batch)
			mu.Unlock()
		}(bi, batch)
	}
	wg.Wait()
	t.Logf("%s (%s): %d kernel x vector cases passed in %d programs", cpu, tc, ran, len(batches))
	return ran
}

// hostGCC and hostClang are the flags dqnn validate builds with (the clang
// build adds -Wpedantic): the strict compile and the vector runs share them,
// so each kernel is compiled once per compiler.
var (
	hostGCC   = hostToolchain("gcc", target.BaseCFlags...)
	hostClang = hostToolchain("clang", append(append([]string{}, target.BaseCFlags...), "-Wpedantic")...)
)

func TestVectorsHostGCC(t *testing.T) {
	runVectors(t, vectors.Cases, target.Host, hostGCC, 120, 1<<20, 2)
}

func TestVectorsHostClang(t *testing.T) {
	if testing.Short() {
		t.Skip("short: gcc covers the host")
	}
	runVectors(t, vectors.Cases, target.Host, hostClang, 120, 1<<20, 2)
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
// TestVectorsCortexM runs the same programs on Cortex-M4 and Cortex-M55 (hard
// float), Cortex-M0 and Cortex-M3 (no DSP, no FPU: the portable C with
// soft-float and DQ_SMALL_STACK) under QEMU, and on the cores named by -cpus;
// smaller batches keep each image well inside the board's flash (the
// micro:bit's M0: 256 KB flash, 16 KB RAM, which holds only the largest
// output). The kernels are built with
// arm-none-eabi-gcc's defaults (core flags and -O2, no -std, no
// -ffp-contract: GCC contracts by default), as a user's firmware build
// compiles them (issue #12).
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
			// The cases share one output buffer (Program), so a batch's
			// size is its constants, which live in flash.
			maxBytes := 400 << 10
			if c.Machine() == "microbit" {
				maxBytes = 160 << 10
			}
			runVectors(t, vectors.Cases, c, armToolchain(c, defaultARMFlags...), 60, maxBytes, 2)
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
	runVectors(t, cases, target.Host, hostGCC, 120, 1<<20, 2)
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

// strictToolchains are the compilers and flags every kernel must build with
// under -Werror: the host compilers as validate uses them, the Cortex-M4
// (DSP, VFP) and Cortex-M55 (Helium) fast paths, and the portable C on
// Cortex-M0 (ARMv6-M) and Cortex-M3 (ARMv7-M: the assembler rejects any
// v7E-M instruction that leaks out of its feature guard), all with the
// compiler's default flags. The vector tests run the same objects.
func strictToolchains() map[string]toolchain {
	return map[string]toolchain{
		"gcc":                   hostGCC,
		"clang":                 hostClang,
		"arm-none-eabi-gcc-m4":  armToolchain(target.CortexM4, defaultARMFlags...),
		"arm-none-eabi-gcc-m55": armToolchain(target.CortexM55, defaultARMFlags...),
		"arm-none-eabi-gcc-m0":  armToolchain(target.CortexM0, defaultARMFlags...),
		"arm-none-eabi-gcc-m3":  armToolchain(target.CortexM3, defaultARMFlags...),
	}
}

// TestKernelsAmalgamated compiles all kernels as one translation unit, as
// dqnn generate --amalgamate writes a library: helpers shared by several
// kernels must not be defined twice. dq_internal.h is inlined once, at the
// first kernel's include of it, as emit does. Only the front end matters here
// (the per-file objects check code generation), so -fsyntax-only.
func TestKernelsAmalgamated(t *testing.T) {
	kdir := kernelDir(t)
	files, _ := filepath.Glob(filepath.Join(kdir, "*.c"))
	slices.Sort(files)
	internal, err := os.ReadFile(filepath.Join(kdir, kernelgen.InternalHeader))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("#include \"dq_kernels.h\"\n")
	// write copies src without its dqnn includes and build constraint,
	// inlining the internal header at its first include.
	var write func(src string)
	inlined := false
	write = func(src string) {
		for _, l := range strings.SplitAfter(src, "\n") {
			if strings.TrimSpace(l) == "#include \""+kernelgen.InternalHeader+"\"" && !inlined {
				inlined = true
				write(string(internal))
				continue
			}
			if strings.HasPrefix(l, "#include \"dq_") || strings.HasPrefix(l, "//go:build") {
				continue
			}
			b.WriteString(l)
		}
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		write(string(src))
	}
	if !inlined {
		t.Fatalf("no kernel includes %s", kernelgen.InternalHeader)
	}
	all := filepath.Join(t.TempDir(), "all_kernels.c")
	if err := os.WriteFile(all, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range strictToolchains() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			skipInShort(t, tc)
			haveTool(t, tc.cc)
			args := append(append([]string{}, tc.flags...), "-I", kdir, "-fsyntax-only", all)
			if msg, err := exec.Command(tc.cc, args...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, msg)
			}
		})
	}
}

// compileAll compiles every kernel file with tc through the shared cache and
// returns the objects' assembly files by kernel file name.
func compileAll(t *testing.T, tc toolchain, files []string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := make(map[string]string, len(files))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			asm, err := shared.cache.assembly(ctx, tc, f)
			if err != nil {
				t.Errorf("%s: %v", tc.cc, err)
				return
			}
			mu.Lock()
			out[filepath.Base(f)] = asm
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// TestKernelsCompileStrict compiles every kernel file on its own with
// -Werror under each strict toolchain.
func TestKernelsCompileStrict(t *testing.T) {
	kdir := kernelDir(t)
	files, _ := filepath.Glob(filepath.Join(kdir, "*.c"))
	if len(files) != len(matrix.Table) {
		t.Fatalf("%d kernel files, want %d", len(files), len(matrix.Table))
	}
	for name, tc := range strictToolchains() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			skipInShort(t, tc)
			haveTool(t, tc.cc)
			if got := compileAll(t, tc, files); len(got) != len(files) && !t.Failed() {
				t.Errorf("%s compiled %d of %d files", name, len(got), len(files))
			}
		})
	}
}

// skipInShort skips every toolchain but the host gcc under -short (as Bazel
// runs the tests): the README's go test, which CI runs too, builds every
// kernel with every compiler for every core.
func skipInShort(t *testing.T, tc toolchain) {
	t.Helper()
	if testing.Short() && tc.cc != hostGCC.cc {
		t.Skipf("short: %s skipped", tc.cc)
	}
}

// TestHarnessDetectsMismatch corrupts one expected element of an s1, an s8
// and an f32 case, and cuts one f32 expectation short (the kernel then
// writes past the output the program knows: the overrun check), and checks
// that the program reports each as a failure.
func TestHarnessDetectsMismatch(t *testing.T) {
	testenv.Need(t, "a runner for host", target.Available(target.Host))
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
	// An expectation one element short: the kernel's last element lands
	// past the output the program knows of, which the overrun check sees.
	var short ref.Case
	for _, c := range vectors.Cases {
		if c.Dense != nil && c.Want.T == dtype.F32 && c.Want.Len() > 1 {
			short = *c
			short.Want = ref.Buf{T: dtype.F32, F32: c.Want.F32[:c.Want.Len()-1]}
			break
		}
	}
	batch := []*ref.Case{picked[dtype.F32], picked[dtype.S8], picked[dtype.S1], &short}
	prog, err := NewProgram(batch)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	haveTool(t, hostGCC.cc)
	exe, err := buildProgram(ctx, target.Host, hostGCC, t.TempDir(), prog)
	if err != nil {
		t.Fatal(err)
	}
	res, err := target.Run(ctx, target.Host, exe, target.RunOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 4 || strings.Count(res.Stdout, "FAIL case") != 4 || !strings.Contains(res.Stdout, "byte 0 past the ") || Check(res.Stdout, 4) == nil {
		t.Errorf("corrupted expectations: exit %d, output:\n%s", res.ExitCode, res.Stdout)
	}
}
