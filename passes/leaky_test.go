package passes_test

import (
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/quant"
)

// leakyGraph is input[6] → QActivation(q) → output.
func leakyGraph(t *testing.T, q string) *ir.Graph {
	t.Helper()
	qz, err := quant.ParseString(q)
	if err != nil {
		t.Fatal(err)
	}
	in := &ir.Tensor{Name: "x", Shape: []int{6}, Quant: ir.Float()}
	out := &ir.Tensor{Name: "a", Shape: []int{6}, Quant: quant.OutputQuant(qz)}
	return &ir.Graph{Name: "leaky", Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out},
		Nodes: []*ir.Node{{Name: "a", Class: "QActivation", Op: ir.OpQuantize, Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{out}, Attrs: &ir.QuantizeAttrs{Quantizer: qz}}}}
}

// TestLeakyReluLowering checks that a grid-able negative_slope lowers to the
// two affine steps (never one output stage rounding x on both sides) and
// that the other slopes are refused with the slopes that work.
func TestLeakyReluLowering(t *testing.T) {
	res, err := compiler.Compile(leakyGraph(t, "quantized_relu(4,1,negative_slope=0.5)"), compiler.Options{Name: "leaky"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, n := range res.Graph.Nodes {
		if k, ok := n.Attrs.(*ir.KernelAttrs); ok {
			kinds = append(kinds, k.Kind.String())
		}
	}
	if got := strings.Join(kinds, " "); !strings.HasPrefix(got, "affine affine") || !strings.Contains(got, "add") {
		t.Errorf("kernel calls %q, want the two affine steps and an add", got)
	}
	// The interpreter (Keras's formula) on both sides of 0 and at the clips.
	x := []float32{-9, -1.3, -0.25, 0, 0.6, 9}
	want := []float32{-1, -0.75, 0, 0, 0.5, 1.75} // grid 1/4, codes [-4, 7]; the negative side rounds p·ns (-0.25: p·ns = -0.5 ties to 0)
	got, err := interp.Run(leakyGraph(t, "quantized_relu(4,1,negative_slope=0.5)"), [][]float32{x})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[0][i] != want[i] {
			t.Errorf("x=%v: %v, want %v", x[i], got[0][i], want[i])
		}
	}
	for _, q := range []string{"quantized_relu(4,0,negative_slope=0.0625)", "quantized_relu(4,0,negative_slope=2.0)"} {
		_, err := compiler.Compile(leakyGraph(t, q), compiler.Options{Name: "leaky"})
		if err == nil || !strings.Contains(err.Error(), "negative_slope that is a power of two") {
			t.Errorf("%s: err = %v, want the slopes that fit the s8 grid", q, err)
		}
	}
}
