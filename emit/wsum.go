package emit

import (
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// weightSums returns the w_sum parameter of an s8-input dense, conv2d or
// pointwise call: each output channel's sum of weights (s8: the codes, s1:
// +1 / -1; dense [out][in], conv OHWI rows), so that kernels do not
// recompute on every call the zero-point correction -in_zp * w_sum (s8
// weights, only needed with a non-zero input zero point) or the s1 rows'
// popcounts (in - w_sum) / 2 (s1 weights). gen/ref.WeightSums states the
// same sums. nil when the kernel would not read them or the weights are
// not known.
func weightSums(n *ir.Node, k *ir.KernelAttrs) []int32 {
	if !TakesWeightSums(n, k) || k.Weights.Codes == nil {
		return nil
	}
	w := k.Weights
	row := ir.NumElements(w.Shape[1:])
	s := make([]int32, w.Shape[0])
	for o := range s {
		for _, c := range w.Codes[o*row : (o+1)*row] {
			s[o] += c
		}
	}
	return s
}

// TakesWeightSums reports whether the call gets a w_sum array (the
// compiler's constant estimate counts the same ones).
func TakesWeightSums(n *ir.Node, k *ir.KernelAttrs) bool {
	if k.In != dtype.S8 || (k.Kind != ir.KindDense && k.Kind != ir.KindConv2D && k.Kind != ir.KindPWConv2D) || k.Weights == nil {
		return false
	}
	switch {
	case k.W == dtype.S1 && k.Weights.DType == dtype.S1:
		return true
	case k.W == dtype.S8 && k.Weights.DType == dtype.S8:
		return len(n.Inputs) > 0 && n.Inputs[0].Quant.ZeroPoint != 0
	}
	return false
}
