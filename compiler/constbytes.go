package compiler

import (
	"math"

	"github.com/dqnn/dqnn/emit"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes"
)

// romBytes are the bytes of constant data a lowered graph's C library holds
// (the "weights (ro)" figure), counted from the lowered graph by the rules
// emit follows when it writes NAME_data.c (docs/analyze.md): packed weights,
// output-stage arrays, concat channel lists. Arrays emit leaves out because
// their values are trivial (multipliers all 1, offsets all 0) or absent
// (no channel flipped) are left out here too when the values are known. In
// a shapes-only graph such an array's presence depends on the weights: est
// counts it under the assumption of typical trained weights (multipliers
// and offsets non-trivial, no flipped channel), lo and hi without and with
// every such array. node holds each node's est (by index in g.Nodes).
type romBytes struct {
	est, lo, hi int
	node        []int
}

func (r *romBytes) sure(n int) {
	r.est += n
	r.lo += n
	r.hi += n
	r.node[len(r.node)-1] += n
}

// maybe counts an array that real weights may or may not need.
func (r *romBytes) maybe(n int, assumed bool) {
	r.hi += n
	if assumed {
		r.est += n
		r.node[len(r.node)-1] += n
	}
}

func constBytes(g *ir.Graph) (romBytes, error) {
	var r romBytes
	for _, n := range g.Nodes {
		r.node = append(r.node, 0)
		k, ok := n.Attrs.(*ir.KernelAttrs)
		if n.Op != ir.OpKernel || !ok {
			continue
		}
		if w := k.Weights; w != nil {
			r.sure(weightBytes(w))
			if emit.TakesWeightSums(n, k) {
				r.sure(4 * w.Shape[0]) // the w_sum array
			}
		}
		if k.Kind == ir.KindConcat {
			r.sure(4 * len(k.ConcatC))
		}
		if k.Stage != nil {
			if err := stageBytes(&r, g.ShapesOnly, n, k); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// weightBytes is a kernel's packed weights: s1 rows padded to 32-bit words,
// s8 one byte, f32 four per value.
func weightBytes(w *ir.KernelWeights) int {
	row := w.Shape[len(w.Shape)-1]
	rows := ir.NumElements(w.Shape) / row
	switch w.DType {
	case dtype.S1:
		return 4 * rows * dtype.Words(row)
	case dtype.S8:
		return rows * row
	}
	return 4 * rows * row
}

// stageBytes counts a call's dq_output_stage arrays.
func stageBytes(r *romBytes, shapesOnly bool, n *ir.Node, k *ir.KernelAttrs) error {
	st := k.Stage
	if !shapesOnly || st.Step {
		// Values known (Step constants come from the quantizer).
		if st.Mul != nil && !allEq(st.Mul, 1) {
			r.sure(4 * len(st.Mul))
		}
		if st.Add != nil && !allEq(st.Add, 0) {
			r.sure(4 * len(st.Add))
		}
		if st.BnMul != nil {
			r.sure(4 * (len(st.BnSub) + len(st.BnMul) + len(st.BnAdd)))
		}
		r.sure(4 * (len(st.ThrI) + len(st.ThrF)))
		if st.Flip != nil {
			r.sure(4 * dtype.Words(len(st.Flip)))
		}
		return nil
	}
	mul, known, pow2, err := passes.AccMultipliers(n, k)
	if err != nil {
		return err
	}
	outC := len(mul)
	bias := st.Bias != nil || st.UnknownBias
	switch k.Out {
	case dtype.S1:
		r.sure(4 * outC) // thresholds, integer or float
		if st.BN != nil {
			r.maybe(4*dtype.Words(outC), false) // flip mask: a negative gamma
		}
		if k.In == dtype.F32 && k.W == dtype.S8 && (!known || !allEq(mul, 1)) {
			// the overflow rescue's float path (passes.s1RescueStage):
			// multiplier, offset (the bias), batch norm
			if known {
				r.sure(4 * outC)
			} else {
				r.maybe(4*outC, true)
			}
			if bias {
				r.maybe(4*outC, true)
			}
			if st.BN != nil && known {
				r.sure(3 * 4 * outC)
			} else if st.BN != nil {
				r.maybe(3*4*outC, true)
			}
		}
	case dtype.F32, dtype.S8:
		switch {
		case st.BN != nil && passes.BNFoldable(st, pow2):
			r.maybe(4*outC, true) // multiplier · BN multiplier
			r.maybe(4*outC, true) // BN offset
		case st.BN != nil:
			r.sure(3 * 4 * outC) // subtrahend, multiplier, offset
			fallthrough
		default:
			if !known {
				r.maybe(4*outC, true) // scales from the weights
			} else if !allEq(mul, 1) {
				r.sure(4 * outC)
			}
			if bias {
				r.maybe(4*outC, true)
			}
		}
	}
	return nil
}

// allEq is emit's test for an array it leaves out (same value and sign).
func allEq(v []float32, c float32) bool {
	for _, x := range v {
		if x != c || math.Signbit(float64(x)) != math.Signbit(float64(c)) {
			return false
		}
	}
	return true
}
