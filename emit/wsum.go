package emit

import (
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// weightSums returns the w_sum parameter of an s8 x s8 dense, conv2d or
// pointwise call whose input has a non-zero zero point: each output
// channel's sum of weight codes (dense [out][in], conv OHWI rows), so the
// kernels' zero-point correction -in_zp * w_sum is not recomputed on every
// call (gen/ref.WeightSums states the same sums). nil when the kernel would
// not read them (zero point 0, other types, weights not known).
func weightSums(n *ir.Node, k *ir.KernelAttrs) []int32 {
	if k.In != dtype.S8 || k.W != dtype.S8 || (k.Kind != "dense" && k.Kind != "conv2d" && k.Kind != "pwconv2d") {
		return nil
	}
	w := k.Weights
	if w == nil || w.DType != dtype.S8 || w.Codes == nil || len(n.Inputs) == 0 || n.Inputs[0].Quant.ZeroPoint == 0 {
		return nil
	}
	row := ir.NumElements(w.Shape[1:])
	s := make([]int32, w.Shape[0])
	for o := range s {
		for _, c := range w.Codes[o*row : (o+1)*row] {
			s[o] += c
		}
	}
	return s
}
