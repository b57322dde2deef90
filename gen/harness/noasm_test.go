package harness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dqnn/dqnn/gen/kernelgen"
	"github.com/dqnn/dqnn/gen/ref"
	"github.com/dqnn/dqnn/gen/vectors"
	"github.com/dqnn/dqnn/target"
)

// DQ_NO_ASM (issue #17): every hand-written assembly block of the kernels
// has a C twin computing the same thing, selected by this one macro. The
// twins keep the fast paths around the assembly (same shapes, same buffers),
// so the vectors that reach an assembly block on M4 or M55 reach its twin
// with the macro.
const noAsm = "-DDQ_NO_ASM"

// noAsmToolchains are the builds the twins are checked with: the host
// compilers and the cores that have assembly paths (M4: DSP and VFP, M55:
// Helium, M3: Thumb-2 without DSP, M0: ARMv6-M), each with the flags of its
// default build plus DQ_NO_ASM.
func noAsmToolchains() map[target.CPU][]toolchain {
	return map[target.CPU][]toolchain{
		target.Host:      {hostToolchain(hostGCC.cc, append(slices.Clone(hostGCC.flags), noAsm)...), hostToolchain(hostClang.cc, append(slices.Clone(hostClang.flags), noAsm)...)},
		target.CortexM4:  {armToolchain(target.CortexM4, append(slices.Clone(defaultARMFlags), noAsm)...)},
		target.CortexM55: {armToolchain(target.CortexM55, append(slices.Clone(defaultARMFlags), noAsm)...)},
		target.CortexM3:  {armToolchain(target.CortexM3, append(slices.Clone(defaultARMFlags), noAsm)...)},
		target.CortexM0:  {armToolchain(target.CortexM0, append(slices.Clone(defaultARMFlags), noAsm)...)},
	}
}

// usesAsm matches a kernel file that holds inline assembly or calls a
// dq_types.h helper written in assembly.
var usesAsm = regexp.MustCompile(`__asm__|dq_xor_popcount|dq_bin_`)

// internalDef matches the definition of a helper in dq_internal.h.
var internalDef = regexp.MustCompile(`(?m)^static [^;{]*?\b(dq_\w+)\(`)

// asmKernels returns the kernels whose files match usesAsm or call a helper
// of dq_internal.h (whose helpers hold most of the shared assembly): the
// ones whose code DQ_NO_ASM may change.
func asmKernels(t *testing.T) map[string]bool {
	t.Helper()
	hdr, err := os.ReadFile(filepath.Join(kernelDir(t), kernelgen.InternalHeader))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range internalDef.FindAllSubmatch(hdr, -1) {
		names = append(names, regexp.QuoteMeta(string(m[1])))
	}
	if len(names) == 0 {
		t.Fatalf("no helper definitions found in %s: internalDef is stale", kernelgen.InternalHeader)
	}
	callsInternal := regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\(`)
	files, _ := filepath.Glob(filepath.Join(kernelDir(t), "dq_*.c"))
	out := map[string]bool{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if usesAsm.Match(src) || callsInternal.Match(src) {
			out[strings.TrimSuffix(filepath.Base(f), ".c")] = true
		}
	}
	if len(out) == 0 {
		t.Fatal("no kernel uses assembly: usesAsm is stale")
	}
	return out
}

// changedKernels returns which of kernels (file base names without .c) have a
// preprocessed source that the extra flags change under base: the others
// compile to what base builds, which the tests with base's flags run
// already.
func changedKernels(t *testing.T, base toolchain, extra []string, kernels map[string]bool) map[string]bool {
	t.Helper()
	pre := func(flags []string, file string) ([]byte, error) {
		shared.cache.sem <- struct{}{}
		defer func() { <-shared.cache.sem }()
		args := append(append(slices.Clone(flags), "-I", shared.kdir, "-E", "-P"), file)
		out, err := exec.Command(base.cc, args...).Output()
		if err != nil {
			return nil, fmt.Errorf("%s -E %s: %v", base.cc, filepath.Base(file), err)
		}
		return out, nil
	}
	withExtra := append(slices.Clone(base.flags), extra...)
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]bool{}
	for k := range kernels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := filepath.Join(shared.kdir, k+".c")
			a, err := pre(base.flags, f)
			if err == nil {
				var b []byte
				if b, err = pre(withExtra, f); err == nil && !bytes.Equal(a, b) {
					mu.Lock()
					out[k] = true
					mu.Unlock()
				}
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return out
}

// inlineAsm matches GCC's marker around an inline assembly statement in its
// assembly output ("@ <line> "<file>" 1").
var inlineAsm = regexp.MustCompile(`(?m)^@ \d+ ".*" 1$`)

// TestNoAsmTwins compiles every kernel that has assembly with DQ_NO_ASM for
// M4, M55, M3 and M0 (-Werror) and fails for any file whose code still
// holds inline assembly.
func TestNoAsmTwins(t *testing.T) {
	if testing.Short() {
		t.Skip("short: 528 cross compilations; the README's go test runs them")
	}
	// Only the files with assembly: DQ_NO_ASM cannot add any to the others
	// (TestKernelsCompileStrict builds those for every core).
	keep := asmKernels(t)
	all, _ := filepath.Glob(filepath.Join(kernelDir(t), "dq_*.c"))
	var files []string
	for _, f := range all {
		if keep[strings.TrimSuffix(filepath.Base(f), ".c")] {
			files = append(files, f)
		}
	}
	tcs := noAsmToolchains()
	for _, cpu := range []target.CPU{target.CortexM4, target.CortexM55, target.CortexM3, target.CortexM0} {
		t.Run(string(cpu), func(t *testing.T) {
			tc := tcs[cpu][0]
			haveTool(t, tc.cc)
			n := 0
			for f, asmFile := range compileAll(t, tc, files) {
				src, err := os.ReadFile(asmFile)
				if err != nil {
					t.Fatal(err)
				}
				if m := inlineAsm.FindAll(src, -1); len(m) > 0 {
					t.Errorf("%s: %d inline assembly statements left with %s", f, len(m), noAsm)
				}
				n++
			}
			if n != len(files) {
				t.Errorf("compiled %d of %d kernel files", n, len(files))
			}
		})
	}
}

// TestVectorsNoAsm runs the vectors of every kernel that has assembly with
// DQ_NO_ASM on the host (gcc, clang), Cortex-M4, M55, M3 and M0 (QEMU; 60
// cases per boot, as TestVectorsCortexM).
func TestVectorsNoAsm(t *testing.T) {
	keep := asmKernels(t)
	var cases []*ref.Case
	for _, c := range vectors.Cases {
		if keep[c.Kernel] {
			cases = append(cases, c)
		}
	}
	tcs := noAsmToolchains()
	for _, cpu := range []target.CPU{target.Host, target.CortexM4, target.CortexM55, target.CortexM3, target.CortexM0} {
		for _, tc := range tcs[cpu] {
			t.Run(string(cpu)+"/"+tc.cc, func(t *testing.T) {
				if testing.Short() {
					t.Skip("short: the portable twins run in the full suite")
				}
				maxBytes := 400 << 10
				if cpu.Machine() == "microbit" {
					maxBytes = 160 << 10 // as TestVectorsCortexM
				}
				run := cases
				if cpu == target.Host {
					// The host compiles no assembly, so DQ_NO_ASM should
					// change no kernel's preprocessed source: then these
					// builds are the ones TestVectorsHost* ran. (On the
					// cores every kernel changes: dq_internal.h's helpers.)
					base := toolchain{cc: tc.cc, flags: slices.DeleteFunc(slices.Clone(tc.flags), func(f string) bool { return f == noAsm })}
					changed := changedKernels(t, base, []string{noAsm}, keep)
					run = slices.DeleteFunc(slices.Clone(cases), func(c *ref.Case) bool { return !changed[c.Kernel] })
					if len(run) == 0 {
						t.Logf("DQ_NO_ASM changes none of the %d kernels with assembly on the host", len(keep))
						return
					}
				}
				if n := runVectors(t, run, cpu, tc, 60, maxBytes, 2); n == 0 && !t.Skipped() && !t.Failed() {
					t.Error("no case ran")
				}
			})
		}
	}
}
