// Package bench measures generated code on emulated Cortex-M cores: the
// executed instructions of every layer of a generated model, and of the
// generated kernels on a fixed suite of shapes.
//
// Instruction counts come from QEMU (package target's counting plugin): they
// are exact and repeatable, and a proxy for cycles, not cycles: on a
// Cortex-M4 a load takes 2 cycles, SMLAD does 2 MACs in one instruction, a
// Cortex-M7 dual-issues, and QEMU models no caches or wait states.
package bench

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir/dtype"
	kernelsc "github.com/dqnn/dqnn/kernels_c"
	"github.com/dqnn/dqnn/target"
)

// Shape is one benchmark shape.
type Shape struct {
	Name string
	Op   matrix.Op
	// Dense: InN -> OutN. Conv: InH x InW x InC -> OutC with a K x K kernel,
	// stride 1, valid padding.
	InN, OutN     int
	InH, InW, InC int
	OutC, K       int
}

// Shapes is the fixed suite: the shapes X-CUBE-AI and CMSIS-NN are usually
// compared on (docs/performance.md has the figures beside the CMSIS-NN ones).
var Shapes = []Shape{
	{Name: "dense 576->64", Op: matrix.Dense, InN: 576, OutN: 64},
	{Name: "conv 3x3 13x13x32->64 valid", Op: matrix.Conv2D, InH: 13, InW: 13, InC: 32, OutC: 64, K: 3},
	{Name: "pointwise 13x13x32->64", Op: matrix.PWConv2D, InH: 13, InW: 13, InC: 32, OutC: 64, K: 1},
	// a first layer (RGB image): what the f32-input x s1-weight kernels are for
	{Name: "conv 3x3 32x32x3->32 valid", Op: matrix.Conv2D, InH: 32, InW: 32, InC: 3, OutC: 32, K: 3},
}

// Types are the (input, weights, output) combinations of the suite.
var Types = [][3]dtype.DType{
	{dtype.S1, dtype.S1, dtype.S1},
	{dtype.S8, dtype.S8, dtype.S8},
	{dtype.F32, dtype.F32, dtype.F32},
	{dtype.F32, dtype.S1, dtype.F32},
	{dtype.S8, dtype.S1, dtype.S8},
}

// KernelResult is one kernel on one shape.
type KernelResult struct {
	Kernel       string  `json:"kernel"`
	Shape        string  `json:"shape"`
	MACs         uint64  `json:"macs"`
	Instructions uint64  `json:"instructions"` // net of the empty marker pair
	MACsPerInsn  float64 `json:"macs_per_instruction"`
	CodeBytes    uint64  `json:"code_bytes"` // size of the kernel function
	// Skipped says why the case was not measured: on a board with little
	// RAM (the micro:bit's 16 KB) a shape whose buffers do not fit.
	Skipped string `json:"skipped,omitempty"`
}

// KernelReport is the whole suite on one CPU.
type KernelReport struct {
	Target   string         `json:"target"`
	Overhead uint64         `json:"marker_overhead_instructions"` // subtracted from every count
	Results  []KernelResult `json:"results"`
	Note     string         `json:"note"`
	Elapsed  time.Duration  `json:"-"`
}

// ProxyNote is printed with every instruction count.
const ProxyNote = "instruction counts are a proxy for cycles (QEMU counts executed instructions; real cores differ in cycles per instruction, dual issue, wait states and caches)"

//go:embed kernels_bench.c.tmpl
var suiteTemplate string

type suiteCase struct {
	Index                     int
	Label, Kernel             string
	Dense                     bool
	InN, OutN                 int
	InH, InW, InC, OutH, OutW int
	OutC, K                   int
	InElems, WElems           int
	InKind, WKind             int
	Channels                  int
	InCType, WCType, OutCType string
	macs                      uint64
	shape                     string
}

type suiteData struct {
	Cases                           []suiteCase
	InWords, WWords, OutWords, MaxC int
	// Flash: the single case's inputs and weights are constant arrays
	// (the fill() data, computed here), so that on a board with little RAM
	// (the micro:bit) only the outputs take RAM.
	Flash         bool
	InData, WData []uint32
}

func kind(t dtype.DType) int {
	switch t {
	case dtype.F32:
		return 1
	case dtype.S8:
		return 2
	}
	return 3
}

// storageWords is how many 32-bit words n rows of c elements of t take.
func storageWords(t dtype.DType, rows, c int) int { return (rows*t.RowBytes(c) + 3) / 4 }

// F32ModelShapes are the layers of examples/mnist_bnn with every layer kept
// in float32 (3x3 convolutions before their 2x2 max-pools, then the dense
// layers): docs/performance.md (bench/perfdoc) compares the
// quantized model with the sum of these kernels (max-pool, batch-norm and
// softmax, a few thousand instructions, are left out, which favours f32).
var F32ModelShapes = []Shape{
	{Name: "conv 3x3 28x28x1->32 valid", Op: matrix.Conv2D, InH: 28, InW: 28, InC: 1, OutC: 32, K: 3},
	{Name: "conv 3x3 13x13x32->64 valid", Op: matrix.Conv2D, InH: 13, InW: 13, InC: 32, OutC: 64, K: 3},
	{Name: "conv 3x3 5x5x64->64 valid", Op: matrix.Conv2D, InH: 5, InW: 5, InC: 64, OutC: 64, K: 3},
	{Name: "dense 576->64", Op: matrix.Dense, InN: 576, OutN: 64},
	{Name: "dense 64->10", Op: matrix.Dense, InN: 64, OutN: 10},
}

// F32Types is the one type combination of the f32 model comparison.
var F32Types = [][3]dtype.DType{{dtype.F32, dtype.F32, dtype.F32}}

func buildSuite() (suiteData, []string, error) { return buildSuiteOf(Shapes, Types) }

func buildSuiteOf(shapes []Shape, types [][3]dtype.DType) (suiteData, []string, error) {
	var d suiteData
	var names []string
	for _, sh := range shapes {
		for _, ty := range types {
			k, ok := matrix.Find(sh.Op, ty[0], ty[1], ty[2])
			if !ok {
				return d, nil, fmt.Errorf("bench: no kernel %s %s/%s/%s in gen/matrix", sh.Op, ty[0], ty[1], ty[2])
			}
			c := suiteCase{Index: len(d.Cases), Kernel: k.Name(), Label: k.Name() + ", " + sh.Name, shape: sh.Name,
				InKind: kind(ty[0]), WKind: kind(ty[1]), InCType: ty[0].CType(), WCType: ty[1].CType(), OutCType: ty[2].CType()}
			var inWords, wWords, outWords int
			if sh.Op == matrix.Dense {
				c.Dense, c.InN, c.OutN, c.Channels = true, sh.InN, sh.OutN, sh.OutN
				c.InElems = ty[0].RowElems(sh.InN)
				c.WElems = sh.OutN * ty[1].RowElems(sh.InN)
				inWords, wWords, outWords = storageWords(ty[0], 1, sh.InN), storageWords(ty[1], sh.OutN, sh.InN), storageWords(ty[2], 1, sh.OutN)
				c.macs = uint64(sh.InN * sh.OutN)
			} else {
				c.InH, c.InW, c.InC, c.OutC, c.K = sh.InH, sh.InW, sh.InC, sh.OutC, sh.K
				c.OutH, c.OutW = sh.InH-sh.K+1, sh.InW-sh.K+1
				c.Channels = sh.OutC
				c.InElems = sh.InH * sh.InW * ty[0].RowElems(sh.InC)
				c.WElems = sh.OutC * sh.K * sh.K * ty[1].RowElems(sh.InC)
				inWords = storageWords(ty[0], sh.InH*sh.InW, sh.InC)
				wWords = storageWords(ty[1], sh.OutC*sh.K*sh.K, sh.InC)
				outWords = storageWords(ty[2], c.OutH*c.OutW, sh.OutC)
				c.macs = uint64(c.OutH * c.OutW * sh.OutC * sh.K * sh.K * sh.InC)
			}
			d.InWords, d.WWords, d.OutWords = max(d.InWords, inWords), max(d.WWords, wWords), max(d.OutWords, outWords)
			d.MaxC = max(d.MaxC, c.Channels)
			d.Cases = append(d.Cases, c)
			names = append(names, k.Name())
		}
	}
	return d, names, nil
}

// SuiteSource returns the benchmark program's C source and the kernels it calls.
func SuiteSource() ([]byte, []string, error) { return suiteSourceOf(Shapes, Types) }

func suiteSourceOf(shapes []Shape, types [][3]dtype.DType) ([]byte, []string, error) {
	d, names, err := buildSuiteOf(shapes, types)
	if err != nil {
		return nil, nil, err
	}
	return renderSuite(d, names)
}

func renderSuite(d suiteData, names []string) ([]byte, []string, error) {
	t, err := template.New("kernels_bench.c").Funcs(sprig.HermeticTxtFuncMap()).Option("missingkey=error").Parse(suiteTemplate)
	if err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, nil, err
	}
	return b.Bytes(), names, nil
}

// WriteKernels copies the kernel library's headers and the named kernels'
// sources from kernelsc.FS into dir and returns the paths of the .c files.
func WriteKernels(dir string, names []string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	hdrs, err := fs.Glob(kernelsc.FS, "*.h")
	if err != nil {
		return nil, err
	}
	for _, h := range hdrs {
		data, err := kernelsc.FS.ReadFile(h)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, h), data, 0o644); err != nil {
			return nil, err
		}
	}
	var srcs []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		data, err := kernelsc.FS.ReadFile(n + ".c")
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", n, err)
		}
		p := filepath.Join(dir, n+".c")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, err
		}
		srcs = append(srcs, p)
	}
	return srcs, nil
}

var caseLine = regexp.MustCompile(`(?m)^case (\d+) status (-?\d+)$`)

// Kernels runs the kernel suite on cpu (a Cortex-M) in workDir.
func Kernels(ctx context.Context, cpu target.CPU, workDir string) (*KernelReport, error) {
	return KernelsOf(ctx, cpu, workDir, Shapes, Types)
}

// smallRAM reports whether cpu's board has too little RAM for the whole
// suite in one program (the buffers are sized for its largest case): the
// micro:bit (16 KB) runs one program per case instead.
func smallRAM(cpu target.CPU) bool { return cpu.Machine() == "microbit" }

// KernelsOf runs every shape in every type combination on cpu in workDir.
// On a board with little RAM every case is its own program, and a case
// whose buffers do not fit the RAM is reported as skipped.
func KernelsOf(ctx context.Context, cpu target.CPU, workDir string, shapes []Shape, types [][3]dtype.DType) (*KernelReport, error) {
	if !cpu.IsCortexM() {
		return nil, fmt.Errorf("bench --kernels: target %s: instruction counting needs a Cortex-M target (it runs under QEMU)", cpu)
	}
	if err := target.Available(cpu); err != nil {
		return nil, err
	}
	if !smallRAM(cpu) {
		return kernelsOnce(ctx, cpu, workDir, shapes, types, false)
	}
	start := time.Now()
	rep := &KernelReport{Target: string(cpu), Note: ProxyNote}
	for _, sh := range shapes {
		for _, ty := range types {
			dir := filepath.Join(workDir, fmt.Sprint(len(rep.Results)))
			one, err := kernelsOnce(ctx, cpu, dir, []Shape{sh}, [][3]dtype.DType{ty}, true)
			if err != nil && strings.Contains(err.Error(), "will not fit in region `RAM'") {
				d, _, err := buildSuiteOf([]Shape{sh}, [][3]dtype.DType{ty})
				if err != nil {
					return nil, err
				}
				c := d.Cases[0]
				rep.Results = append(rep.Results, KernelResult{Kernel: c.Kernel, Shape: c.shape, MACs: c.macs,
					Skipped: fmt.Sprintf("outputs of %d B do not fit the %s's RAM (inputs and weights in flash)", 4*d.OutWords, cpu.Machine())})
				continue
			}
			if err != nil {
				return nil, err
			}
			rep.Overhead = one.Overhead
			rep.Results = append(rep.Results, one.Results...)
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// kernelsOnce runs the cases of shapes x types in one program; flash: the
// one case's inputs and weights as constants (flashData).
func kernelsOnce(ctx context.Context, cpu target.CPU, workDir string, shapes []Shape, types [][3]dtype.DType, flash bool) (*KernelReport, error) {
	start := time.Now()
	d, names, err := buildSuiteOf(shapes, types)
	if err != nil {
		return nil, err
	}
	if flash {
		if len(d.Cases) != 1 {
			return nil, fmt.Errorf("bench: constant inputs for %d cases, want one", len(d.Cases))
		}
		c := d.Cases[0]
		d.Flash = true
		d.InData, d.WData = flashData(c.InElems, c.InKind, c.WElems, c.WKind)
	}
	src, names, err := renderSuite(d, names)
	if err != nil {
		return nil, err
	}
	srcs, err := WriteKernels(workDir, names)
	if err != nil {
		return nil, err
	}
	main := filepath.Join(workDir, "kernels_bench.c")
	if err := os.WriteFile(main, src, 0o644); err != nil {
		return nil, err
	}
	exe, err := target.Build(ctx, cpu, append([]string{main}, srcs...), []string{workDir}, workDir, target.BuildOptions{})
	if err != nil {
		return nil, err
	}
	res, err := target.Run(ctx, cpu, exe, target.RunOptions{Timeout: 5 * time.Minute, CountBetween: [][2]string{{"dq_bench_begin", "dq_bench_end"}}})
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("bench --kernels on %s: %w\n%s", cpu, err, res.Stdout)
	}
	for _, m := range caseLine.FindAllStringSubmatch(res.Stdout, -1) {
		if m[2] != "0" {
			i, _ := strconv.Atoi(m[1])
			return nil, fmt.Errorf("bench --kernels: %s returned status %s", d.Cases[i].Label, m[2])
		}
	}
	spans := spansOf(res.Marks, "dq_bench_begin", "dq_bench_end")
	if len(spans) != len(d.Cases)+1 {
		return nil, fmt.Errorf("bench --kernels: %d measured intervals, want %d", len(spans), len(d.Cases)+1)
	}
	sizes, _, err := target.SymbolSizes(ctx, exe, func(s string) bool { return len(s) > 3 && s[:3] == "dq_" })
	if err != nil {
		return nil, err
	}
	rep := &KernelReport{Target: string(cpu), Overhead: spans[0], Note: ProxyNote}
	for i, c := range d.Cases {
		n := spans[i+1] - spans[0]
		r := KernelResult{Kernel: c.Kernel, Shape: c.shape, MACs: c.macs, Instructions: n, CodeBytes: sizes[c.Kernel]}
		if n > 0 {
			r.MACsPerInsn = float64(c.macs) / float64(n)
		}
		rep.Results = append(rep.Results, r)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// spansOf returns the length of every a..b interval in marks, in order.
func spansOf(marks []target.Mark, a, b string) []uint64 {
	var out []uint64
	var start uint64
	open := false
	for _, m := range marks {
		switch {
		case m.Symbol == a:
			open, start = true, m.Count
		case m.Symbol == b && open:
			out = append(out, m.Count-start)
			open = false
		}
	}
	return out
}

// SuiteSummary names the suite's shapes and type combinations in one line,
// for help texts (so they never drift from the suite).
func SuiteSummary() string {
	var shapes, types []string
	for _, s := range Shapes {
		shapes = append(shapes, s.Name)
	}
	for _, t := range Types {
		types = append(types, t[0].Tag()+"×"+t[1].Tag()+"→"+t[2].Tag())
	}
	return strings.Join(shapes, ", ") + "; types (input×weights→output) " + strings.Join(types, ", ")
}

// flashData returns the words fill() writes into in_buf and then w_buf for
// one case, from the runner's first seed: the same LCG and conversions
// (kind 1 f32 in [-1, 1), 2 s8, 3 packed s1 words), so a constant case
// computes what the filled one does.
func flashData(inN, inKind, wN, wKind int) ([]uint32, []uint32) {
	seed := uint32(0x2545F491)
	rnd := func() uint32 {
		seed = seed*1664525 + 1013904223
		return seed
	}
	fill := func(n, kind int) []uint32 {
		switch kind {
		case 1:
			w := make([]uint32, n)
			for i := range w {
				v := float32(int32(rnd() >> 8))
				v /= 8388608
				v -= 1
				w[i] = math.Float32bits(v)
			}
			return w
		case 2:
			w := make([]uint32, (n+3)/4)
			for i := 0; i < n; i++ {
				w[i/4] |= (rnd() >> 24) << (8 * (i % 4))
			}
			return w
		default:
			w := make([]uint32, n)
			for i := range w {
				w[i] = rnd()
			}
			return w
		}
	}
	in := fill(inN, inKind)
	return in, fill(wN, wKind)
}
