package quant

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dqnn/dqnn/ir/dtype"
)

// TestPredictKernelQuant checks the storage PredictKernelQuant gives a
// kernel without values against KernelQuant on random latent weights of
// the same shape: the same type, the same scales when it says they do not
// depend on the values, and nil scales (with the right power-of-two
// property) when they do.
func TestPredictKernelQuant(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text      string
		kernel    bool // apply ForKernel (QKeras kernel defaults)
		fromW     bool // scales computed from the weights
		pow2      bool
		wantDType dtype.DType
	}{
		{"ste_sign", false, false, false, dtype.S1},
		{"approx_sign", false, false, false, dtype.S1},
		{"magnitude_aware_sign", false, true, false, dtype.S1},
		{"binary", true, true, true, dtype.S1},
		{"binary(alpha=1)", true, false, false, dtype.S1},
		{"quantized_bits(8, 0, alpha=1)", true, false, false, dtype.S8},
		{"quantized_bits(4, 0)", true, true, true, dtype.S8},
		{"quantized_bits(16, 0, alpha=1)", true, false, false, dtype.F32},
		{"ternary", true, true, true, dtype.S8},
		{"dorefa(2, \"weights\")", false, false, false, dtype.F32},
	}
	for _, c := range cases {
		q, err := ParseString(c.text)
		if err != nil {
			t.Fatalf("%s: %v", c.text, err)
		}
		if c.kernel {
			q = ForKernel(q)
		}
		for _, shape := range [][]int{{3, 3, 8, 16}, {64, 10}} {
			view := shape
			pred := PredictKernelQuant(q, shape, view)
			r := rand.New(rand.NewPCG(uint64(len(c.text)), uint64(shape[0])))
			n := 1
			for _, d := range shape {
				n *= d
			}
			w := make([]float32, n)
			for i := range w {
				w[i] = float32(r.Float64()*2 - 1)
			}
			v, err := Apply(q, w, shape)
			if err != nil {
				t.Fatalf("%s: %v", c.text, err)
			}
			got := KernelQuant(q, v, view)
			if pred.DType != c.wantDType || got.DType != c.wantDType {
				t.Errorf("%s %v: predicted %s, with weights %s, want %s", c.text, shape, pred.DType, got.DType, c.wantDType)
				continue
			}
			if c.wantDType == dtype.F32 {
				continue
			}
			if c.fromW != (pred.Scale == nil) || !c.fromW && !slices.Equal(pred.Scale, got.Scale) {
				t.Errorf("%s %v: predicted scales %v, with weights %v (from the weights: %v)", c.text, shape, pred.Scale, got.Scale, c.fromW)
			}
			if c.fromW && pred.ScalesPow2 != c.pow2 {
				t.Errorf("%s %v: predicted ScalesPow2 %v, want %v", c.text, shape, pred.ScalesPow2, c.pow2)
			}
			if c.fromW && pred.ScalesPow2 {
				for _, s := range got.Scale {
					if fr, _ := math.Frexp(float64(s)); fr != 0.5 {
						t.Errorf("%s: scale %g with weights is not a power of two", c.text, s)
					}
				}
			}
		}
	}
}
