package emit

import (
	"slices"
	"testing"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// TestWeightSums checks the w_sum rows (OHWI: a channel's whole kh x kw x
// in_c row) and that only s8-input dense/conv/pointwise calls get them:
// s8 weights with a non-zero input zero point, s1 weights always.
func TestWeightSums(t *testing.T) {
	mk := func(kind ir.KernelKind, in, w dtype.DType, zp int32) (*ir.Node, *ir.KernelAttrs) {
		n := &ir.Node{Inputs: []*ir.Tensor{{Quant: ir.Quant{DType: in, ZeroPoint: zp}}}}
		k := &ir.KernelAttrs{Kind: kind, In: in, W: w, Weights: &ir.KernelWeights{
			DType: w, Shape: []int{2, 1, 2, 3}, Codes: []int32{1, -2, 3, 4, 5, -128, 127, 0, 0, 0, 0, 1}}}
		return n, k
	}
	n, k := mk(ir.KindConv2D, dtype.S8, dtype.S8, -128)
	if got, want := weightSums(n, k), []int32{-117, 128}; !slices.Equal(got, want) {
		t.Errorf("conv2d sums %v, want %v", got, want)
	}
	// s1 weights: +1 / -1 codes, whatever the zero point
	n, k = mk(ir.KindPWConv2D, dtype.S8, dtype.S1, 0)
	k.Weights.Codes = []int32{1, -1, -1, 1, 1, 1, -1, -1, -1, -1, -1, 1}
	if got, want := weightSums(n, k), []int32{2, -4}; !slices.Equal(got, want) {
		t.Errorf("s1 pwconv2d sums %v, want %v", got, want)
	}
	for _, c := range []struct {
		kind  ir.KernelKind
		in, w dtype.DType
		zp    int32
	}{
		{ir.KindConv2D, dtype.S8, dtype.S8, 0},
		{ir.KindDWConv2D, dtype.S8, dtype.S8, 3},
		{ir.KindDense, dtype.F32, dtype.S8, 3},
		{ir.KindDense, dtype.S1, dtype.S1, 3},
	} {
		n, k := mk(c.kind, c.in, c.w, c.zp)
		if got := weightSums(n, k); got != nil {
			t.Errorf("%s %s x %s zp %d: sums %v, want none", c.kind, c.in, c.w, c.zp, got)
		}
	}
}
