package interp

import (
	"math"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/quant"
)

func tensor(name string, shape ...int) *ir.Tensor {
	return &ir.Tensor{Name: name, Shape: shape, Quant: ir.Float()}
}

// TestConvPadValueAndInputQuantizer: a Larq-style 3x3 same conv on a 2x2x1
// input with pad_values=1 and an input quantizer kept in the attrs (no
// separate node): the quantizer is applied once and padded taps read +1.
func TestConvPadValueAndInputQuantizer(t *testing.T) {
	q, err := quant.ParseString("ste_sign")
	if err != nil {
		t.Fatal(err)
	}
	in, out := tensor("x", 2, 2, 1), tensor("y", 2, 2, 1)
	w := make([]float32, 9)
	for i := range w {
		w[i] = 1
	}
	for _, pv := range []float32{0, 1} {
		g := &ir.Graph{Name: "t", Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out}, Nodes: []*ir.Node{{
			Name: "c", Op: ir.OpConv2D, Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out},
			Attrs: &ir.ConvAttrs{Filters: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1,
				Padding: "same", PadValue: pv, InputQuantizer: q, Kernel: ir.Weights{Shape: []int{3, 3, 1, 1}, Data: w}}}}}
		got, err := Run(g, [][]float32{{-0.5, 0, 2, -3}})
		if err != nil {
			t.Fatal(err)
		}
		// signs: -1 +1 +1 -1, sum of all four = 0; every output sees all 4 inputs and 5 padded taps.
		want := float32(5 * pv)
		for i, v := range got[0] {
			if v != want {
				t.Errorf("pad %g: y[%d] = %g, want %g", pv, i, v, want)
			}
		}
	}
}

func TestMaxPoolSameIgnoresPadding(t *testing.T) {
	in, out := tensor("x", 3, 3, 1), tensor("y", 2, 2, 1)
	g := &ir.Graph{Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out}, Nodes: []*ir.Node{{
		Name: "p", Op: ir.OpAvgPool, Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out},
		Attrs: &ir.PoolAttrs{PoolH: 2, PoolW: 2, StrideH: 2, StrideW: 2, Padding: "same"}}}}
	got, err := Run(g, [][]float32{{1, 2, 3, 4, 5, 6, 7, 8, 9}})
	if err != nil {
		t.Fatal(err)
	}
	// TF SAME with total padding 1 puts it after: windows {1,2,4,5} {3,6} {7,8} {9}.
	want := []float32{3, 4.5, 7.5, 9}
	for i := range want {
		if got[0][i] != want[i] {
			t.Errorf("avg[%d] = %g, want %g", i, got[0][i], want[i])
		}
	}
}

func TestBatchNormFormulas(t *testing.T) {
	// Fused and non-fused formulas round differently; with exact values both give the same.
	for _, fused := range []bool{false, true} {
		shape := []int{2}
		if fused {
			shape = []int{1, 1, 2}
		}
		in, out := tensor("x", shape...), tensor("y", shape...)
		g := &ir.Graph{Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out}, Nodes: []*ir.Node{{
			Name: "bn", Op: ir.OpBatchNorm, Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out},
			Attrs: &ir.BatchNormAttrs{Gamma: []float32{2, -1}, Beta: []float32{1, 0}, Mean: []float32{0.5, 0}, Variance: []float32{4, 0.25}, Fused: fused}}}}
		got, err := Run(g, [][]float32{{1.5, 1}})
		if err != nil {
			t.Fatal(err)
		}
		// eps 0: (1.5-0.5)·2/2 + 1 = 2; (1-0)·(-1)/0.5 + 0 = -2.
		if got[0][0] != 2 || got[0][1] != -2 {
			t.Errorf("fused=%v: got %v, want [2 -2]", fused, got[0])
		}
	}
}

func TestErrors(t *testing.T) {
	in, out := tensor("x", 2), tensor("y", 1)
	g := &ir.Graph{Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out}, Nodes: []*ir.Node{{
		Name: "d", Op: ir.OpDense, Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out},
		Attrs: &ir.DenseAttrs{Units: 1, Kernel: ir.Weights{Shape: []int{2, 1}}}}}}
	if _, err := Run(g, [][]float32{{1, 2}}); err == nil || !strings.Contains(err.Error(), "architecture-only") {
		t.Errorf("missing weights: %v", err)
	}
	if _, err := Run(g, [][]float32{{1}}); err == nil || !strings.Contains(err.Error(), "input \"x\"") {
		t.Errorf("wrong input size: %v", err)
	}
	if _, err := Run(g, nil); err == nil {
		t.Error("no inputs: want an error")
	}
}

// TestQuantizerEdgeValues: an s8 quantizer (QKeras quantized_relu(6, 0),
// codes 0..63 of 1/64) on float32 edge inputs gives what the C output stage
// stores (docs/semantics.md): +Inf the highest code, -Inf and NaN the
// lowest, finite extremes Keras's clipped value, subnormals 0.
func TestQuantizerEdgeValues(t *testing.T) {
	q, err := quant.ParseString("quantized_relu(6, 0)")
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e38, -1e38, math.MaxFloat32, math.SmallestNonzeroFloat32, 0.5}
	want := []float32{63.0 / 64, 0, 0, 63.0 / 64, 0, 63.0 / 64, 0, 0.5}
	in := tensor("x", len(x))
	out := &ir.Tensor{Name: "y", Shape: []int{len(x)}, Quant: ir.Quant{DType: dtype.S8, Scale: []float32{1.0 / 64}, QMin: 0, QMax: 63, Bits: 6}}
	g := &ir.Graph{Name: "t", Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out}, Nodes: []*ir.Node{{
		Name: "q", Op: ir.OpQuantize, Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out}, Attrs: &ir.QuantizeAttrs{Quantizer: q}}}}
	got, err := Run(g, [][]float32{x})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[0][i] != want[i] {
			t.Errorf("quantized_relu(6, 0)(%g) = %g, want %g", x[i], got[0][i], want[i])
		}
	}
}

// TestRowSums: a ±1-weight convolution over one input channel sums each
// kernel row first (rowSums), as the C kernel does; other kernels tap by tap.
// Tap by tap, 2^24 + 1 + 1 rounds to 2^24 twice; row by row the second row's
// 1 + 1 = 2 is added exactly.
func TestRowSums(t *testing.T) {
	x := []float32{1 << 24, 0, 0, 1, 1, 0, 0, 0, 0}
	ones := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}
	for _, c := range []struct {
		op   ir.Op
		kq   ir.Quant
		want float32
	}{
		{ir.OpConv2D, ir.Quant{DType: dtype.S1}, 1<<24 + 2},
		{ir.OpDepthwiseConv, ir.Quant{DType: dtype.S1}, 1<<24 + 2},
		{ir.OpConv2D, ir.Float(), 1 << 24},
		{ir.OpDepthwiseConv, ir.Float(), 1 << 24},
	} {
		a := &ir.ConvAttrs{Filters: 1, DepthMultiplier: 1, KernelH: 3, KernelW: 3, StrideH: 1, StrideW: 1,
			DilationH: 1, DilationW: 1, Padding: "valid", Kernel: ir.Weights{Shape: []int{3, 3, 1, 1}, Data: ones}, KernelQuant: c.kq}
		y, err := conv(c.op, a, x, []int{3, 3, 1}, []int{1, 1, 1})
		if err != nil {
			t.Fatal(err)
		}
		if y[0] != c.want {
			t.Errorf("%v, kernel %v: got %v, want %v", c.op, c.kq.DType, y[0], c.want)
		}
	}
}
