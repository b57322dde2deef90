package harness

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/ref"
	"github.com/dqnn/dqnn/gen/vectors"
	"github.com/dqnn/dqnn/target"
)

// The flag grid of issue #12: the library must give the same results under
// every compiler, optimisation level, C standard and the code-generation
// flags users set, with each compiler's default contraction (no
// -ffp-contract: GCC fuses across statements in gnu modes, clang within
// one). The full cross product is 3 x 6 x 4 x 2 x 2 x 2 = 1152 builds of 132
// kernels; the grid below covers every pair of factor values in 24 rows, and
// each row builds a rotating share of the kernels, so every kernel is built
// and checked under several different rows.
var (
	gridCompilers = []string{"gcc", "clang", "arm-none-eabi-gcc"}
	gridOpts      = []string{"-O0", "-O1", "-O2", "-O3", "-Os", "-Og"}
	gridStds      = []string{"-std=c99", "-std=gnu99", "-std=c11", "-std=gnu11"}
	gridChar      = []string{"", "-funsigned-char"}
	gridEnums     = []string{"", "-fshort-enums"}
	gridAliasing  = []string{"-fstrict-aliasing", "-fno-strict-aliasing"}
)

// gridRow is one sampled flag combination (indices into the factor lists).
type gridRow [6]int

func (r gridRow) compiler() string { return gridCompilers[r[0]] }

// flags are the row's compiler flags, warnings as errors included.
func (r gridRow) flags() []string {
	f := []string{gridOpts[r[1]], gridStds[r[2]], "-Wall", "-Wextra", "-Werror"}
	for _, s := range []string{gridChar[r[3]], gridEnums[r[4]], gridAliasing[r[5]]} {
		if s != "" {
			f = append(f, s)
		}
	}
	return f
}

var gridSizes = [6]int{len(gridCompilers), len(gridOpts), len(gridStds), len(gridChar), len(gridEnums), len(gridAliasing)}

// flagGrid returns rows covering every pair of values of any two factors.
// Optimisation level x standard (24 pairs) sets the row count; the compiler
// is a Latin-square column over them, and each two-valued flag is chosen
// greedily (deterministically) for the most pairs not yet covered.
func flagGrid() []gridRow {
	covered := map[[4]int]bool{}
	pairs := func(r gridRow) (ps [][4]int) {
		for a := 0; a < 6; a++ {
			for b := a + 1; b < 6; b++ {
				ps = append(ps, [4]int{a, r[a], b, r[b]})
			}
		}
		return ps
	}
	var rows []gridRow
	for i := 0; i < len(gridOpts)*len(gridStds); i++ {
		o, s := i%len(gridOpts), i/len(gridOpts)
		base := gridRow{(o + s) % len(gridCompilers), o, s}
		best, bestNew := base, -1
		for m := 0; m < 8; m++ {
			r := base
			r[3], r[4], r[5] = m&1, m>>1&1, m>>2&1
			n := 0
			for _, p := range pairs(r) {
				if !covered[p] {
					n++
				}
			}
			if n > bestNew {
				best, bestNew = r, n
			}
		}
		for _, p := range pairs(best) {
			covered[p] = true
		}
		rows = append(rows, best)
	}
	return rows
}

// TestFlagGridPairwise checks the sampling itself: every value of every
// factor appears, and every pair of values of two factors.
func TestFlagGridPairwise(t *testing.T) {
	rows := flagGrid()
	for a := 0; a < 6; a++ {
		for b := a + 1; b < 6; b++ {
			for va := 0; va < gridSizes[a]; va++ {
				for vb := 0; vb < gridSizes[b]; vb++ {
					if !slices.ContainsFunc(rows, func(r gridRow) bool { return r[a] == va && r[b] == vb }) {
						t.Errorf("no row has factor %d = %d and factor %d = %d", a, va, b, vb)
					}
				}
			}
		}
	}
}

// gridKernels assigns kernels to the rows of one compiler: kernel i goes to
// row i (mod n) of each compiler, so every kernel is built under three
// rows (one per compiler) and every row builds an eighth of the library:
// the grid costs about one library build per compiler.
func gridKernels(rowIdx, nRows int) []string {
	var out []string
	for i, k := range matrix.Table {
		if i%nRows == rowIdx {
			out = append(out, k.Name())
		}
	}
	return out
}

// TestKernelsFlagGrid builds the kernels under the sampled flag grid: on the
// host (gcc, clang) every row's kernels run all their vectors (s1 and s8
// outputs bit for bit, f32 as TestVectorsHostGCC); arm-none-eabi-gcc rows
// compile their kernels for Cortex-M4 and Cortex-M55 with -Werror (the
// QEMU runs use the compiler's defaults: TestVectorsCortexM).
func TestKernelsFlagGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("short: flag grid skipped")
	}
	rows := flagGrid()
	byCC := map[string][]gridRow{}
	for _, r := range rows {
		byCC[r.compiler()] = append(byCC[r.compiler()], r)
	}
	for cc, ccRows := range byCC {
		for i, r := range ccRows {
			kernels := gridKernels(i, len(ccRows))
			name := strings.ReplaceAll(cc+strings.Join(r.flags()[:2], ""), "-", "_")
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				haveTool(t, cc)
				if cc != "arm-none-eabi-gcc" {
					var cases []*ref.Case
					for _, c := range vectors.Cases {
						if slices.Contains(kernels, c.Kernel) {
							cases = append(cases, c)
						}
					}
					if n := runVectors(t, cases, target.Host, hostToolchain(cc, r.flags()...), 200, 1<<20, 1); n != len(cases) && !t.Failed() {
						t.Errorf("%d of %d cases ran", n, len(cases))
					}
					return
				}
				for _, cpu := range []target.CPU{target.CortexM4, target.CortexM55} {
					var files []string
					for _, k := range kernels {
						files = append(files, filepath.Join(kernelDir(t), k+".c"))
					}
					compileAll(t, armToolchain(cpu, r.flags()...), files)
				}
			})
		}
	}
}

// fusedOp matches the floating-point fused multiply-add family of the Arm
// ISA (scalar VFP and MVE): one rounding for a*b+c. VMLA/VMLS/VNMLA/VNMLS
// are not in it: on VFP they round the product and the sum separately, as
// the reference does.
var fusedOp = regexp.MustCompile(`^\s*(vfma|vfms|vfnma|vfnms)(\.|\s)`)

// asmBlock matches the markers GCC puts around inline assembly in its -S
// output for Arm ('@ LINE "FILE" 1' before, '@ 0 "" 2' after).
var asmStart, asmEnd = regexp.MustCompile(`^@ \d+ ".*" 1$`), regexp.MustCompile(`^@ 0 "" 2$`)

// compilerFused counts the fused multiply-adds in the compiler's own code of
// an assembly file (outside inline assembly blocks) and in the hand-written blocks.
func compilerFused(path string) (compiler, handWritten int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case asmStart.MatchString(l):
			in = true
		case asmEnd.MatchString(l):
			in = false
		case fusedOp.MatchString(l):
			if in {
				handWritten++
			} else {
				compiler++
			}
		}
	}
	return compiler, handWritten, sc.Err()
}

// TestNoCompilerFusedMultiplyAdd compiles the kernels for M4, M7, M33 and
// M55 with arm-none-eabi-gcc's defaults (-O2, no -ffp-contract, so GCC would
// contract) and finds no fused multiply-add outside the hand-written
// assembly and explicit fmaf calls (both only multiply by +-1.0f: exact
// products, so the one rounding is the sum's). M4 and M55 (the builds the
// vectors run) take every kernel; M7 and M33, the other FPv5 cores, which
// compile the same C paths as the M4, take every other kernel each.
func TestNoCompilerFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("short: 396 cross compilations")
	}
	haveTool(t, "arm-none-eabi-gcc")
	all, _ := filepath.Glob(filepath.Join(kernelDir(t), "*.c"))
	for _, cpu := range []target.CPU{target.CortexM4, target.CortexM7, target.CortexM33, target.CortexM55} {
		files := all
		if cpu == target.CortexM7 || cpu == target.CortexM33 {
			files = nil
			for i, f := range all {
				if (i%2 == 0) == (cpu == target.CortexM7) {
					files = append(files, f)
				}
			}
		}
		t.Run(string(cpu), func(t *testing.T) {
			t.Parallel()
			asms := compileAll(t, armToolchain(cpu, defaultARMFlags...), files)
			var mu sync.Mutex
			hand, explicit := 0, 0
			var wg sync.WaitGroup
			for name, a := range asms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, h, err := compilerFused(a)
					if err != nil {
						t.Error(err)
						return
					}
					if c != 0 {
						// explicit fmaf (DQ_FMA_PM1: x * +-1 is exact) stays
						// under -ffp-contract=off; contraction does not
						off, err := shared.cache.assembly(context.Background(), armToolchain(cpu, append(slices.Clone(defaultARMFlags), "-ffp-contract=off")...), filepath.Join(kernelDir(t), name))
						if err != nil {
							t.Error(err)
							return
						}
						if cOff, _, err := compilerFused(off); err != nil || cOff != c {
							t.Errorf("%s: %d fused multiply-adds generated by the compiler, %d of them written as fmaf (err %v): contraction not stopped", name, c, cOff, err)
						}
					}
					mu.Lock()
					hand += h
					explicit += c
					mu.Unlock()
				}()
			}
			wg.Wait()
			t.Logf("%s: %d files, no contracted multiply-add; %d fused in hand-written assembly, %d written as fmaf", cpu, len(asms), hand, explicit)
		})
	}
}

// TestFusedCounterSeesContraction checks the counter on code GCC does
// contract: without the kernels' pragma, -O2 for Cortex-M4 fuses a*b+c.
func TestFusedCounterSeesContraction(t *testing.T) {
	haveTool(t, "arm-none-eabi-gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "fma.c")
	if err := os.WriteFile(src, []byte("float f(float a, float b, float c) { return a * b + c; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	asm, err := shared.cache.assembly(context.Background(), armToolchain(target.CortexM4, defaultARMFlags...), src)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := compilerFused(asm)
	if err != nil || c != 1 {
		t.Fatalf("plain a*b+c: %d compiler-fused multiply-adds (err %v), want 1", c, err)
	}
}

// TestFastMathRefused checks that a kernel file stops with the #error that
// explains why under -ffast-math, -Ofast and -ffinite-math-only.
func TestFastMathRefused(t *testing.T) {
	src := filepath.Join(kernelDir(t), "dq_dense_f32_f32_s8.c")
	for _, cc := range []string{"gcc", "clang", "arm-none-eabi-gcc"} {
		for _, flag := range []string{"-ffast-math", "-Ofast", "-ffinite-math-only"} {
			t.Run(cc+flag, func(t *testing.T) {
				t.Parallel()
				haveTool(t, cc)
				out, err := exec.Command(cc, flag, "-I", kernelDir(t), "-fsyntax-only", src).CombinedOutput()
				if err == nil || !strings.Contains(string(out), "dqnn kernels need IEEE float32 semantics") {
					t.Errorf("%s %s: err %v, want the #error; output:\n%s", cc, flag, err, out)
				}
			})
		}
	}
}
