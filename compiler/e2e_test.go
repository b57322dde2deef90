package compiler_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/testenv"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/passes/passestest"
	"github.com/dqnn/dqnn/validate"
)

// root is the module root, relative to this package's directory.
const root = ".."

type fixture struct {
	Name     string   `json:"name"`
	Model    string   `json:"model"`
	Weights  *string  `json:"weights"`
	Inputs   []string `json:"inputs"`
	Expected []string `json:"expected"`
	Exact    bool     `json:"exact"`
	Error    *string  `json:"error"`
}

func fixtures(t *testing.T) []fixture {
	b, err := os.ReadFile(filepath.Join(root, "testdata/models/MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Fixtures []fixture }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	ex := "examples/mnist_bnn/samples.inputs.npy"
	m.Fixtures = append(m.Fixtures, fixture{Name: "mnist_bnn", Model: "examples/mnist_bnn/mnist_bnn.h5", Inputs: []string{ex}, Exact: false})
	return m.Fixtures
}

// harness is a C main that runs NAME_run over raw float32 samples and
// writes raw float32 outputs; with -DDQNN_TRACE it also dumps every traced
// tensor of the first sample.
const harness = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "MODEL.h"
#ifdef DQNN_TRACE
static FILE *tf; static int first = 1;
void dqnn_trace(const char *tensor, int dtype, const void *data, int32_t bytes) {
  int32_t n = (int32_t)strlen(tensor);
  if (!first) return;
  fwrite(&n, 4, 1, tf); fwrite(tensor, 1, (size_t)n, tf);
  fwrite(&dtype, 4, 1, tf); fwrite(&bytes, 4, 1, tf); fwrite(data, 1, (size_t)bytes, tf);
}
#endif
int main(int argc, char **argv) {
  static const int in_n[NIN] = { INSIZES }, out_n[NOUT] = { OUTSIZES };
  float *in[NIN], *out[NOUT];
  (void)argc;
  int s, i, samples = atoi(argv[1]);
  FILE *fi = fopen(argv[2], "rb"), *fo = fopen(argv[3], "wb");
#ifdef DQNN_TRACE
  tf = fopen(argv[4], "wb");
#endif
  for (i = 0; i < NIN; i++) in[i] = malloc(sizeof(float) * (size_t)in_n[i]);
  for (i = 0; i < NOUT; i++) out[i] = malloc(sizeof(float) * (size_t)out_n[i]);
  for (s = 0; s < samples; s++) {
    int rc;
    for (i = 0; i < NIN; i++) if (fread(in[i], sizeof(float), (size_t)in_n[i], fi) != (size_t)in_n[i]) return 3;
    rc = CALL;
    if (rc != 0) { fprintf(stderr, "run: %d\n", rc); return 4; }
    for (i = 0; i < NOUT; i++) fwrite(out[i], sizeof(float), (size_t)out_n[i], fo);
#ifdef DQNN_TRACE
    first = 0;
#endif
  }
  fclose(fo);
  return 0;
}
`

// buildAndRun compiles the generated files in dir with the harness and runs
// the samples; it returns outputs [output][sample*size] and the trace.
func buildAndRun(t *testing.T, dir, name string, g *ir.Graph, ins [][]float32, samples int, trace bool) ([][]float32, map[string]traced) {
	t.Helper()
	var inSizes, outSizes []string
	for _, x := range g.Inputs {
		inSizes = append(inSizes, fmt.Sprint(ir.NumElements(x.Shape)))
	}
	for _, x := range g.Outputs {
		outSizes = append(outSizes, fmt.Sprint(ir.NumElements(x.Shape)))
	}
	call := fmt.Sprintf("%s_run(in[0], out[0])", name)
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		call = fmt.Sprintf("%s_run((const float *const *)in, out)", name)
	}
	src := strings.NewReplacer("MODEL", name, "NIN", fmt.Sprint(len(g.Inputs)), "NOUT", fmt.Sprint(len(g.Outputs)),
		"INSIZES", strings.Join(inSizes, ", "), "OUTSIZES", strings.Join(outSizes, ", "), "CALL", call).Replace(harness)
	if err := os.WriteFile(filepath.Join(dir, "main_harness.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-std=c99", "-O1", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"}
	if trace {
		flags = append(flags, "-DDQNN_TRACE")
	}
	objs, err := compileDir("gcc", flags, dir) // kernel objects shared between tests
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"-o", filepath.Join(dir, "run")}, objs...), "-lm")
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	var inb bytes.Buffer
	for s := 0; s < samples; s++ {
		for i, x := range g.Inputs {
			n := ir.NumElements(x.Shape)
			binary.Write(&inb, binary.LittleEndian, ins[i][s*n:(s+1)*n])
		}
	}
	inf, outf, trf := filepath.Join(dir, "in.bin"), filepath.Join(dir, "out.bin"), filepath.Join(dir, "trace.bin")
	os.WriteFile(inf, inb.Bytes(), 0o644)
	if out, err := exec.Command(filepath.Join(dir, "run"), fmt.Sprint(samples), inf, outf, trf).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(outf)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]float32, len(raw)/4)
	binary.Read(bytes.NewReader(raw), binary.LittleEndian, all)
	outs := make([][]float32, len(g.Outputs))
	pos := 0
	for s := 0; s < samples; s++ {
		for i, x := range g.Outputs {
			n := ir.NumElements(x.Shape)
			outs[i] = append(outs[i], all[pos:pos+n]...)
			pos += n
		}
	}
	var tr map[string]traced
	if trace {
		tr = readTrace(t, trf)
	}
	return outs, tr
}

type traced struct {
	dtype int
	data  []byte
}

func readTrace(t *testing.T, path string) map[string]traced {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]traced{}
	for len(b) > 0 {
		n := int(binary.LittleEndian.Uint32(b))
		name := string(b[4 : 4+n])
		b = b[4+n:]
		dt := int(binary.LittleEndian.Uint32(b))
		sz := int(binary.LittleEndian.Uint32(b[4:]))
		m[name] = traced{dt, append([]byte(nil), b[8:8+sz]...)}
		b = b[8+sz:]
	}
	return m
}

// decode turns traced bytes into real values using the tensor's quant.
func decode(tr traced, t *ir.Tensor) []float32 {
	n := ir.NumElements(t.Shape)
	out := make([]float32, n)
	c := t.Shape[len(t.Shape)-1]
	q := t.Quant
	scale := func(ch int) float32 {
		if len(q.Scale) == 0 {
			return 1
		}
		return q.Scale[ch%len(q.Scale)]
	}
	switch tr.dtype {
	case 1:
		binary.Read(bytes.NewReader(tr.data), binary.LittleEndian, out)
	case 2:
		for i := range out {
			out[i] = scale(i%c) * float32(int32(int8(tr.data[i]))-q.ZeroPoint)
		}
	case 3:
		words := dtype.Words(c)
		for i := range out {
			r, ch := i/c, i%c
			w := binary.LittleEndian.Uint32(tr.data[4*(r*words+ch/32):])
			v := scale(ch)
			if w>>(ch%32)&1 == 1 {
				v = -v
			}
			out[i] = v
		}
	}
	return out
}

func close32(got, want float32, exact bool) bool {
	if exact {
		return got == want || (math.IsNaN(float64(got)) && math.IsNaN(float64(want)))
	}
	d := math.Abs(float64(got - want))
	return d <= 1e-6+1e-5*math.Abs(float64(want))
}

// TestEndToEnd compiles every importable fixture (and the bundled example),
// builds the generated library with gcc on the host, runs the samples and
// compares with the reference interpreter: bit-exact where the fixture's
// outputs lie on a quantized grid, else within 1e-5 relative. With the
// first sample traced (-DDQNN_TRACE), every s1/s8 intermediate tensor the
// interpreter also has must match exactly, f32 ones within tolerance.
func TestEndToEnd(t *testing.T) {
	testenv.NeedCmd(t, "gcc")
	for i, f := range fixtures(t) {
		if f.Error != nil {
			continue
		}
		if testing.Short() && f.Name != "mnist_bnn" && f.Name != "lq_conv" && f.Name != "qk_dense_bits" && f.Name != "k_multi_io" {
			continue // -short: the example and one fixture per family
		}
		t.Run(f.Name, func(t *testing.T) {
			opt := keras.Options{}
			if f.Weights != nil {
				opt.Weights = filepath.Join(root, *f.Weights)
			}
			g, err := keras.Load(filepath.Join(root, f.Model), opt)
			if err != nil {
				t.Skipf("the importer rejects this fixture (its tests cover it): %v", err)
			}
			ins := make([][]float32, len(f.Inputs))
			samples := 0
			for j, p := range f.Inputs {
				d, shape, err := validate.ReadNPY(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				ins[j], samples = d, shape[0]
			}
			samples = min(samples, 8)
			name := compiler.CName(f.Name)
			res, err := compiler.Compile(g, compiler.Options{Name: name, Amalgamate: i%2 == 1})
			if err != nil {
				if strings.Contains(err.Error(), "no C kernel computes") || strings.Contains(err.Error(), "not supported") {
					t.Skipf("not compilable (reported): %v", err)
				}
				t.Fatalf("compile: %v", err)
			}
			dir := t.TempDir()
			for n, b := range res.Files {
				os.WriteFile(filepath.Join(dir, n), b, 0o644)
			}
			got, tr := buildAndRun(t, dir, name, g, ins, samples, true)
			// Reference outputs, sample by sample.
			exact := f.Exact && len(res.Report.Inexact) == 0
			for s := 0; s < samples; s++ {
				x := make([][]float32, len(ins))
				for j, in := range g.Inputs {
					n := ir.NumElements(in.Shape)
					x[j] = ins[j][s*n : (s+1)*n]
				}
				want, err := interp.Run(g, x)
				if err != nil {
					t.Fatalf("interp: %v", err)
				}
				for o := range want {
					n := len(want[o])
					for e := 0; e < n; e++ {
						if !close32(got[o][s*n+e], want[o][e], exact) {
							t.Errorf("sample %d output %d element %d: C %v, interp %v (exact=%v)", s, o, e, got[o][s*n+e], want[o][e], exact)
							break
						}
					}
				}
				if s == 0 {
					compareTrace(t, res.Graph, g, x, tr)
				}
			}
		})
	}
}

func compareTrace(t *testing.T, lowered, g *ir.Graph, x [][]float32, tr map[string]traced) {
	t.Helper()
	compareTraceTol(t, lowered, g, x, tr, 0)
}

// compareTraceTol is compareTrace with f32 tensors compared to within
// rel·max|tensor| when rel > 0 (models whose lowering is reported
// inexact: the error of a rescaled sum grows with the tensor's magnitude).
func compareTraceTol(t *testing.T, lowered, g *ir.Graph, x [][]float32, tr map[string]traced, rel float64) {
	t.Helper()
	ref, err := interp.RunTrace(g, x)
	if err != nil {
		t.Fatalf("interp trace: %v", err)
	}
	tensors := map[string]*ir.Tensor{}
	for _, n := range lowered.Nodes {
		for _, o := range n.Outputs {
			tensors[o.Name] = o
		}
	}
	// Every traced name must be a tensor of the lowered graph, and every
	// lowered tensor the interpreter also computes must have been traced and
	// compared: a renamed or dropped trace fails here instead of being
	// skipped.
	for name := range tr {
		if tensors[name] == nil {
			t.Errorf("the C traced %q, which is no tensor of the lowered graph", name)
		}
	}
	compared := 0
	for name := range tensors {
		if _, ok := ref[name]; ok {
			if _, traced := tr[name]; !traced {
				t.Errorf("tensor %q is computed by the interpreter but was not traced by the C", name)
			}
		}
	}
	for name, tv := range tr {
		want, ok := ref[name]
		tt := tensors[name]
		if !ok || tt == nil {
			continue
		}
		compared++
		got := decode(tv, tt)
		exact := tv.dtype != 1
		for i := range want {
			w := want[i]
			if tv.dtype == 3 { // s1 compares signs: the interpreter holds the quantizer's values
				if (w >= 0) != (got[i] >= 0) {
					t.Errorf("trace %s (s1) element %d: C %v, interp %v", name, i, got[i], w)
					break
				}
				continue
			}
			if tv.dtype == 2 { // s8 compares grid codes: real = scale·q may differ from Keras's q/n by an ulp
				if c, wc := decodeCode(tv, tt, i), int32(math.RoundToEven(float64(w)/float64(scaleOf(tt)))); c != wc {
					t.Errorf("trace %s (s8) element %d: C code %d, interp %v (code %d)", name, i, c, w, wc)
					break
				}
				continue
			}
			if rel > 0 && !exact {
				if d := math.Abs(float64(got[i] - w)); !(d <= rel*maxAbs(want)+1e-6) {
					t.Errorf("trace %s (%s) element %d: C %v, interp %v (tolerance %g of the tensor's max)", name, tt.Quant.DType, i, got[i], w, rel)
					break
				}
				continue
			}
			if !close32(got[i], w, exact) {
				t.Errorf("trace %s (%s) element %d: C %v, interp %v", name, tt.Quant.DType, i, got[i], w)
				break
			}
		}
	}
	if compared == 0 {
		t.Errorf("no traced tensor was compared (%d traced)", len(tr))
	}
}

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

func scaleOf(t *ir.Tensor) float32 {
	if len(t.Quant.Scale) == 0 {
		return 1
	}
	return t.Quant.Scale[0]
}

// decodeCode is the grid index q (stored int8 minus the zero point) of s8 element i.
func decodeCode(tv traced, t *ir.Tensor, i int) int32 {
	return int32(int8(tv.data[i])) - t.Quant.ZeroPoint
}

// TestEndToEndPatterns runs the passes' golden patterns (flip and constant
// channels, BN → pool → sign, s8 grids with zero points, fallbacks, s1
// reshapes) through the generated C on random inputs and compares with the
// interpreter: exact where the output is quantized.
func TestEndToEndPatterns(t *testing.T) {
	testenv.NeedCmd(t, "gcc")
	for i, c := range passestest.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			g := c.Build()
			opt := compiler.Options{Name: compiler.CName(c.Name), Amalgamate: i%2 == 0, QuantizedIO: false}
			if c.ReferenceKernels {
				opt.Matrix = compiler.ReferenceOnly{}
			}
			res, err := compiler.Compile(g, opt)
			if err != nil {
				t.Fatal(err)
			}
			const samples = 6
			r := rand.New(rand.NewPCG(uint64(i), 99))
			ins := make([][]float32, len(g.Inputs))
			for j, in := range g.Inputs {
				n := ir.NumElements(in.Shape) * samples
				for k := 0; k < n; k++ {
					ins[j] = append(ins[j], float32(r.NormFloat64()*1.5))
				}
			}
			dir := t.TempDir()
			for n, b := range res.Files {
				os.WriteFile(filepath.Join(dir, n), b, 0o644)
			}
			got, tr := buildAndRun(t, dir, opt.Name, g, ins, samples, true)
			exact := g.Outputs[0].Quant.DType != dtype.F32
			for s := 0; s < samples; s++ {
				x := make([][]float32, len(ins))
				for j, in := range g.Inputs {
					n := ir.NumElements(in.Shape)
					x[j] = ins[j][s*n : (s+1)*n]
				}
				want, err := interp.Run(g, x)
				if err != nil {
					t.Fatalf("interp: %v", err)
				}
				for o := range want {
					n := len(want[o])
					for e := 0; e < n; e++ {
						if !close32(got[o][s*n+e], want[o][e], exact) {
							t.Errorf("sample %d output %d element %d: C %v, interp %v (exact=%v)", s, o, e, got[o][s*n+e], want[o][e], exact)
							break
						}
					}
				}
				if s == 0 {
					compareTrace(t, res.Graph, g, x, tr)
				}
			}
		})
	}
}

var randomModels = flag.Int("random", 24, "number of random models TestEndToEndRandomModels compiles")

// TestEndToEndRandomModels compiles random layer chains (see
// passestest.RandomModel) and compares the generated C with the interpreter
// on random inputs, outputs and traced intermediates.
func TestEndToEndRandomModels(t *testing.T) {
	testenv.NeedCmd(t, "gcc")
	n := *randomModels
	if testing.Short() {
		n = min(n, 4)
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := passestest.RandomModel(seed)
			if err := g.Verify(); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("random%d", seed)
			res, err := compiler.Compile(g, compiler.Options{Name: name, Amalgamate: seed%2 == 0})
			if err != nil {
				t.Fatalf("compile: %v\n%s", err, dumpInput(g))
			}
			const samples = 4
			r := rand.New(rand.NewPCG(seed, 17))
			x := make([]float32, ir.NumElements(g.Inputs[0].Shape)*samples)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			dir := t.TempDir()
			for fn, b := range res.Files {
				os.WriteFile(filepath.Join(dir, fn), b, 0o644)
			}
			got, tr := buildAndRun(t, dir, name, g, [][]float32{x}, samples, true)
			exact := g.Outputs[0].Quant.DType != dtype.F32
			n := ir.NumElements(g.Inputs[0].Shape)
			for s := 0; s < samples; s++ {
				in := [][]float32{x[s*n : (s+1)*n]}
				want, err := interp.Run(g, in)
				if err != nil {
					t.Fatalf("interp: %v", err)
				}
				m := len(want[0])
				for e := 0; e < m; e++ {
					if !close32(got[0][s*m+e], want[0][e], exact) {
						t.Errorf("sample %d element %d: C %v, interp %v (exact=%v)", s, e, got[0][s*m+e], want[0][e], exact)
						break
					}
				}
				if s == 0 {
					compareTrace(t, res.Graph, g, in, tr)
				}
			}
			if t.Failed() {
				t.Logf("model:\n%s", dumpInput(g))
			}
		})
	}
}

func dumpInput(g *ir.Graph) string {
	var b strings.Builder
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %s %s %v -> %v %s\n", n.Name, n.Op, n.Inputs[0].Shape, n.Outputs[0].Shape, n.Outputs[0].Quant.DType)
	}
	return b.String()
}

// TestEndToEndSharedModels compiles the real QKeras models under
// the shared models folder (internal/sharedmodels; skipped when absent) and compares the generated C
// with the interpreter on random inputs in [0, 1).
func TestEndToEndSharedModels(t *testing.T) {
	dir := sharedmodels.Require(t, "qkeras")
	testenv.NeedCmd(t, "gcc")
	models := []string{"example-models/qkeras_3layer.json", "example-models/qkeras_mnist_cnn.json", "example-models/qkeras_mnist_dense.json",
		"example-models/qkeras-v3_3layer.keras", "mlperf-tiny-v0.7/AD08_model.h5", "mlperf-tiny-v0.7/RN07_model_best.h5"}
	if testing.Short() {
		models = models[:2]
	}
	for i, m := range models {
		t.Run(filepath.Base(m), func(t *testing.T) {
			g, err := keras.Load(filepath.Join(dir, m), keras.Options{})
			if err != nil {
				t.Skipf("importer: %v", err)
			}
			name := fmt.Sprintf("shared%d", i)
			res, err := compiler.Compile(g, compiler.Options{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			const samples = 3
			r := rand.New(rand.NewPCG(uint64(i), 3))
			ins := make([][]float32, len(g.Inputs))
			for j, in := range g.Inputs {
				for k := 0; k < ir.NumElements(in.Shape)*samples; k++ {
					ins[j] = append(ins[j], r.Float32())
				}
			}
			tmp := t.TempDir()
			for fn, b := range res.Files {
				os.WriteFile(filepath.Join(tmp, fn), b, 0o644)
			}
			got, tr := buildAndRun(t, tmp, name, g, ins, samples, true)
			for s := 0; s < samples; s++ {
				x := make([][]float32, len(ins))
				for j, in := range g.Inputs {
					n := ir.NumElements(in.Shape)
					x[j] = ins[j][s*n : (s+1)*n]
				}
				want, err := interp.Run(g, x)
				if err != nil {
					t.Fatal(err)
				}
				for o := range want {
					n := len(want[o])
					for e := 0; e < n; e++ {
						if !close32(got[o][s*n+e], want[o][e], false) {
							t.Errorf("sample %d output %d element %d: C %v, interp %v", s, o, e, got[o][s*n+e], want[o][e])
							break
						}
					}
				}
				if s == 0 {
					compareTrace(t, res.Graph, g, x, tr)
				}
			}
		})
	}
}

// TestQuantizedTanhTies feeds quantized_tanh inputs a few ulps around every
// rounding tie of its grid (where Keras's hard-sigmoid arithmetic and a
// plain round(x·m) disagree) and requires the C output to equal the
// interpreter's bit for bit.
func TestQuantizedTanhTies(t *testing.T) {
	testenv.NeedCmd(t, "gcc")
	for _, text := range []string{"quantized_tanh(bits=4)", "quantized_tanh(bits=8, symmetric=True)"} {
		t.Run(text, func(t *testing.T) {
			var x []float32
			m := float32(8)
			if strings.Contains(text, "bits=8") {
				m = 128
			}
			for k := -m - 1; k <= m; k++ {
				c := (k + 0.5) / m
				v := c
				for i := 0; i < 6; i++ {
					v = float32(math.Nextafter32(v, float32(math.Inf(-1))))
				}
				for i := 0; i < 13; i++ {
					x = append(x, v)
					v = math.Nextafter32(v, float32(math.Inf(1)))
				}
			}
			x = append(x, 1e-9, -1e-9, 0, 3, -3, 1e-30)
			n := len(x)
			b := passestest.New("tanh", 1, n)
			b.Quantize("q", passestest.QuantOf(text))
			g := b.Done()
			res, err := compiler.Compile(g, compiler.Options{Name: "qtanh"})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			for fn, bb := range res.Files {
				os.WriteFile(filepath.Join(dir, fn), bb, 0o644)
			}
			got, _ := buildAndRun(t, dir, "qtanh", g, [][]float32{x}, 1, false)
			want, err := interp.Run(g, [][]float32{x})
			if err != nil {
				t.Fatal(err)
			}
			for i := range x {
				if got[0][i] != want[0][i] {
					t.Errorf("x=%v (%08x): C %v, interp %v", x[i], math.Float32bits(x[i]), got[0][i], want[0][i])
				}
			}
		})
	}
}
