package compiler_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes/passestest"
)

// TestTernaryActivation compiles QKeras ternary activations (alpha None
// and powers of two, default and explicit thresholds) followed by an s8
// consumer-free output, feeds inputs a few ulps around ±threshold, zero and
// large magnitudes, and requires the C outputs to equal the interpreter's
// bit for bit. A ternary whose alpha is not a power of two is refused with
// the reason.
func TestTernaryActivation(t *testing.T) {
	testenv.NeedCmd(t, "gcc")
	for _, text := range []string{"ternary", "ternary(alpha=1, threshold=0.5)", "ternary(alpha=0.25, threshold=0.1)", "ternary(alpha=4)"} {
		t.Run(text, func(t *testing.T) {
			thr := float32(0.33)
			if i := strings.Index(text, "threshold="); i >= 0 {
				thr = map[string]float32{"0.5": 0.5, "0.1": 0.1}[strings.TrimSuffix(text[i+len("threshold="):], ")")]
			}
			var x []float32
			for _, c := range []float32{thr, -thr} {
				v := c
				for i := 0; i < 6; i++ {
					v = math.Nextafter32(v, float32(math.Inf(-1)))
				}
				for i := 0; i < 13; i++ {
					x = append(x, v)
					v = math.Nextafter32(v, float32(math.Inf(1)))
				}
			}
			x = append(x, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 0.7, -0.7, 3, -3, 1e6, -1e6)
			n := len(x)
			b := passestest.New("tern", 1, n)
			b.Quantize("q", passestest.QuantOf(text))
			g := b.Done()
			res, err := compiler.Compile(g, compiler.Options{Name: "tern"})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Report.Inexact) != 0 {
				t.Errorf("reported inexact: %+v", res.Report.Inexact)
			}
			for _, k := range res.Graph.Nodes {
				for _, o := range k.Outputs {
					if o.Name == "q" && o.Quant.DType != dtype.S8 {
						t.Errorf("ternary output is %s, want s8", o.Quant.DType)
					}
				}
			}
			dir := t.TempDir()
			for fn, bb := range res.Files {
				os.WriteFile(filepath.Join(dir, fn), bb, 0o644)
			}
			got, _ := buildAndRun(t, dir, "tern", g, [][]float32{x}, 1, false)
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
	b := passestest.New("tern3", 1, 8)
	b.Quantize("q", passestest.QuantOf("ternary(alpha=0.3)"))
	if _, err := compiler.Compile(b.Done(), compiler.Options{Name: "tern3"}); err == nil || !strings.Contains(err.Error(), "not a power of two") {
		t.Errorf("ternary(alpha=0.3): err = %v, want a power-of-two refusal", err)
	}
	b = passestest.New("po2", 1, 8)
	b.Quantize("q", passestest.QuantOf("quantized_po2(4)"))
	if _, err := compiler.Compile(b.Done(), compiler.Options{Name: "po2"}); err == nil || !strings.Contains(err.Error(), "dq_po2_f32_f32") {
		t.Errorf("quantized_po2(4): err = %v, want the missing kernel named", err)
	}
}
