package quant

import (
	"math"
	"slices"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// PredictKernelQuant is KernelQuant for a kernel whose values are not
// known (an architecture imported without weights): the storage type and
// scales q gives to weights, found by applying q to two synthetic probe
// kernels of the same channel layout (kshape: the Keras kernel shape, whose
// last axis q reduces over; view: rows × output channels, as KernelQuant
// takes it) that differ only in magnitude. When both probes get the same
// scales, the scales do not depend on the values and are returned; when
// they differ (magnitude_aware_sign, QKeras auto/auto_po2 alphas, ternary
// thresholds) Scale is nil and ScalesPow2 says whether both probes' scales
// were powers of two. When only one probe fits a quantized type, that type
// is returned with nil Scale: an s8 kernel with nil Scale is one whose
// storage real weights decide (every value must land on the grid of scales
// computed from them), which the compiler reports.
func PredictKernelQuant(q *ir.Quantizer, kshape, view []int) ir.Quant {
	f := ir.Quant{DType: dtype.F32, Quantizer: q, Bits: Bits(q)}
	if q == nil || len(kshape) == 0 || len(view) == 0 {
		return ir.Float()
	}
	viewC, kC := view[len(view)-1], kshape[len(kshape)-1]
	if viewC <= 0 || kC <= 0 || viewC%kC != 0 {
		return f
	}
	// A few rows are enough: every reduction is per channel.
	rows := 1
	for _, d := range view[:len(view)-1] {
		rows *= d
	}
	rows = max(1, min(rows, 9))
	probe := func(gain float32) (ir.Quant, bool) {
		x := make([]float32, rows*viewC)
		for i := range x {
			// Distinct, non-zero, mixed-sign magnitudes in [0.05, 1).
			v := 0.05 + 0.95*float32(i*7919%1009)/1009
			if (i*7+i/viewC)%3 == 0 {
				v = -v
			}
			x[i] = gain * v
		}
		v, err := Apply(q, x, []int{len(x) / kC, kC})
		if err != nil {
			return ir.Quant{}, false
		}
		return KernelQuant(q, v, []int{rows, viewC}), true
	}
	a, okA := probe(1)
	b, okB := probe(0.37)
	switch {
	case !okA || !okB:
		return f
	case a.DType == dtype.F32 && b.DType == dtype.F32:
		return a
	case a.DType == dtype.F32:
		a, b = b, a
	case b.DType == a.DType && slices.Equal(a.Scale, b.Scale):
		return a
	}
	a.ScalesPow2 = allPow2(a.Scale) && (b.DType == dtype.F32 || allPow2(b.Scale))
	a.Scale = nil
	return a
}

func allPow2(s []float32) bool {
	for _, v := range s {
		if fr, _ := math.Frexp(float64(v)); fr != 0.5 {
			return false
		}
	}
	return true
}
