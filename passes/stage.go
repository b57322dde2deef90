package passes

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// bnInv is Keras's inv = fl32(1 / fl32(sqrt(fl32(var + eps)))).
func bnInv(bn *ir.BatchNormAttrs, c int) float32 {
	v := bn.Variance[c] + bn.Epsilon
	sq := float32(math.Sqrt(float64(v))) // correctly rounded float32 sqrt
	return 1 / sq
}

// bnMul is the batch-norm's per-channel multiplier fl32(inv·γ) (sf in TF's
// fused kernel, inv2 in the rank-2 formula: the same value).
func bnMul(bn *ir.BatchNormAttrs, c int) float32 {
	return float32(bnInv(bn, c) * bn.Gamma[c])
}

// bnApply evaluates Keras's batch-norm of channel c on y in float32, with
// the fused (rank-4) or the rank-2 formula. The explicit float32 conversions
// keep Go from fusing a*b+c.
func bnApply(bn *ir.BatchNormAttrs, c int, y float32) float32 {
	m := bnMul(bn, c)
	if bn.Fused {
		d := float32(y - bn.Mean[c])
		p := float32(d * m)
		return float32(p + bn.Beta[c])
	}
	p := float32(y * m)
	off := float32(bn.Beta[c] - float32(bn.Mean[c]*m))
	return float32(p + off)
}

// bnRank2Offset is fl32(β − fl32(μ·inv2)).
func bnRank2Offset(bn *ir.BatchNormAttrs, c int) float32 {
	return float32(bn.Beta[c] - float32(bn.Mean[c]*bnMul(bn, c)))
}

// evalStage is Keras's value of channel c after the layer's bias, relu and
// batch-norm, given the real accumulator r.
func evalStage(st *ir.Stage, c int, r float32) float32 {
	y := r
	if st.Bias != nil {
		y = float32(y + st.Bias[c])
	}
	if st.Relu && y < 0 {
		y = 0
	}
	if st.BN != nil {
		y = bnApply(st.BN, c, y)
	}
	return y
}

// accInfo says how a kernel's accumulator relates to the real value Keras
// sums: r = fl32(acc · mul[c]), acc an integer (s1/s8 inputs with s1/s8
// weights, or an s8-input affine) or a float.
type accInfo struct {
	integer bool
	mul     []float32
}

func accOf(n *ir.Node, k *ir.KernelAttrs) (accInfo, error) {
	outC := outChannels(k)
	in := n.Inputs[0].Quant
	inScale := func(c int) float32 {
		switch len(in.Scale) {
		case 0:
			return 1
		case 1:
			return in.Scale[0]
		}
		return in.Scale[c%len(in.Scale)]
	}
	ai := accInfo{mul: make([]float32, outC)}
	if k.Kind == ir.KindAffine {
		ai.integer = k.In == dtype.S8
		for c := range ai.mul {
			ai.mul[c] = 1
			if ai.integer {
				ai.mul[c] = inScale(c)
			}
		}
		return ai, nil
	}
	ai.integer = (k.In == dtype.S1 || k.In == dtype.S8) && (k.W == dtype.S1 || k.W == dtype.S8)
	if k.In != dtype.F32 && len(in.Scale) > 1 && k.Kind != ir.KindDWConv2D {
		return ai, fmt.Errorf("input %q has per-channel scales; a %s kernel cannot factor them out of the sum", n.Inputs[0].Name, k.Kind)
	}
	for c := range ai.mul {
		w := float32(1)
		if k.Weights != nil && k.Weights.Scale != nil { // nil: shapes only, scales unknown
			w = k.Weights.Scale[c]
		}
		s := float32(1)
		if k.In != dtype.F32 {
			ic := 0
			if k.Conv != nil && k.Conv.DepthMultiplier > 0 {
				ic = c / k.Conv.DepthMultiplier
			}
			s = inScale(ic)
		}
		ai.mul[c] = float32(s * w)
	}
	return ai, nil
}

// computeStages derives each call's dq_output_stage constants from its
// Keras-level Stage, for the selected input/weight/output types.
func computeStages(s *State) error {
	for _, n := range s.G.Nodes {
		k := kattrs(n)
		if k == nil || k.Stage == nil {
			continue
		}
		if err := computeStage(s, n, k); err != nil {
			return fmt.Errorf("layer %q: %w", k.Layer, err)
		}
	}
	return nil
}

func computeStage(s *State, n *ir.Node, k *ir.KernelAttrs) error {
	st := k.Stage
	if st.Step {
		// Constants fixed by lowerStep / lowerDoReFa; they assume the types
		// they were built for (f32 → s8 steps, s8 → f32 exact DoReFa parts).
		if !(k.In == dtype.F32 && k.Out == dtype.S8) && !(k.In == dtype.S8 && k.Out == dtype.F32) {
			return fmt.Errorf("step quantizer lowered to %s→%s; it needs f32 → s8 (or s8 → f32 for DoReFa)", k.In, k.Out)
		}
		return nil
	}
	ai, err := accOf(n, k)
	if err != nil {
		return err
	}
	if s.G.ShapesOnly {
		shapesOnlyStage(s, k, ai)
		return nil
	}
	outC := len(ai.mul)
	for c, m := range ai.mul {
		if m != 1 && !isPow2(m) && k.Kind != ir.KindAffine {
			s.note(Note{Layer: k.Layer, Kind: "inexact", Reason: fmt.Sprintf("channel %d scale %g is not a power of two: the scaled sum can differ from Keras's by rounding", c, m),
				Hint: "use power-of-two (auto_po2) or unit scales"})
			break
		}
	}
	st.Mul, st.Add, st.BnSub, st.BnMul, st.BnAdd, st.ThrI, st.ThrF, st.Flip = nil, nil, nil, nil, nil, nil, nil, nil
	switch k.Out {
	case dtype.F32, dtype.S8:
		st.Mul = append([]float32(nil), ai.mul...)
		st.Add = make([]float32, outC)
		if st.Bias != nil {
			copy(st.Add, st.Bias)
		}
		if bn := st.BN; bn != nil {
			if BNFoldable(st, allPow2(st.Mul)) {
				// y = fl32(fl32(r·inv2) + off) with r = acc·m exact: fold into one mul/add.
				for c := range st.Mul {
					st.Mul[c] = float32(st.Mul[c] * bnMul(bn, c))
					st.Add[c] = bnRank2Offset(bn, c)
				}
			} else {
				unfoldedBN(st, outC)
			}
		}
		if k.Out == dtype.S8 {
			q := n.Outputs[0].Quant
			if err := checkS8(n.Outputs[0]); err != nil {
				return err
			}
			st.OutInvScale = InvScale(q.Scale[0])
			st.QMin, st.QMax, st.OutZP = q.QMin, q.QMax, q.ZeroPoint
		}
	case dtype.S1:
		flip := false
		fl := make([]bool, outC)
		if ai.integer {
			st.ThrI = make([]int32, outC)
			for c := 0; c < outC; c++ {
				m := ai.mul[c]
				st.ThrI[c], fl[c] = thresholdInt(func(acc int64) bool {
					return evalStage(st, c, float32(float32(acc)*m)) >= 0
				})
				flip = flip || fl[c]
			}
		} else {
			st.ThrF = make([]float32, outC)
			for c := 0; c < outC; c++ {
				m := ai.mul[c]
				st.ThrF[c], fl[c] = thresholdFloat(func(acc float32) bool {
					r := acc
					if m != 1 {
						r = float32(acc * m)
					}
					return evalStage(st, c, r) >= 0
				})
				flip = flip || fl[c]
			}
		}
		if flip {
			st.Flip = fl
		}
		if k.In == dtype.F32 && (k.W == dtype.S8 || k.W == dtype.S1) && !allEq1(ai.mul) {
			// The float path of the rescue (gen/ref.ScaledS1): a sum of
			// x·code (s1: of x·±1) can overflow where Keras's x·(code·scale) does not.
			s1RescueStage(st, ai.mul)
		}
	default:
		return fmt.Errorf("output type %s has no output stage", k.Out)
	}
	return nil
}

// s1RescueStage sets the multiplier, offset and (unfolded) batch-norm arrays
// of an f32 x s8 or f32 x s1 call with an s1 output: its kernel compares the sum of
// x·code with the thresholds, and when that sum is not finite recomputes
// Keras's r = Σ x·fl32(code·mul[c]) and takes the sign of evalStage(r).
func s1RescueStage(st *ir.Stage, mul []float32) {
	outC := len(mul)
	st.Mul = append([]float32(nil), mul...)
	st.Add = make([]float32, outC)
	if st.Bias != nil {
		copy(st.Add, st.Bias)
	}
	if st.BN != nil {
		unfoldedBN(st, outC)
	}
}

// unfoldedBN sets the batch-norm's three arrays (Keras's fused or rank-2
// formula, dq_output_stage bn_sub/bn_mul/bn_add).
func unfoldedBN(st *ir.Stage, outC int) {
	bn := st.BN
	st.BnSub, st.BnMul, st.BnAdd = make([]float32, outC), make([]float32, outC), make([]float32, outC)
	for c := 0; c < outC; c++ {
		st.BnMul[c] = bnMul(bn, c)
		if bn.Fused {
			st.BnSub[c], st.BnAdd[c] = bn.Mean[c], bn.Beta[c]
		} else {
			st.BnAdd[c] = bnRank2Offset(bn, c)
		}
	}
}

// allEq1 reports whether every multiplier is 1 (no rescue needed).
func allEq1(mul []float32) bool {
	for _, m := range mul {
		if m != 1 {
			return false
		}
	}
	return true
}

// BNFoldable reports whether computeStage folds the stage's batch-norm into
// one multiplier and one offset per channel (else it keeps the batch-norm's
// three arrays): Keras's rank-2 formula with no bias or relu before it, and
// an exact real accumulator (every accumulator multiplier a power of two).
func BNFoldable(st *ir.Stage, mulPow2 bool) bool {
	bn := st.BN
	return bn != nil && !bn.Fused && st.Bias == nil && !st.UnknownBias && !st.Relu && mulPow2
}

// allPow2 reports whether every multiplier is 1 or a power of two.
func allPow2(mul []float32) bool {
	for _, m := range mul {
		if m != 1 && !isPow2(m) {
			return false
		}
	}
	return true
}

// thresholdInt finds the integer threshold of a monotone predicate pos(acc)
// ("the output is +1"): pos(acc) ⇔ acc >= thr (flip false) or acc <= thr
// (flip true). A constant predicate gives INT32_MIN (always +1) or INT32_MAX
// (always -1). Searching Keras's own float32 expression makes the result
// exact even when BN(acc) lies within an ulp of 0.
func thresholdInt(pos func(acc int64) bool) (thr int32, flip bool) {
	lo, hi := int64(math.MinInt32)+1, int64(math.MaxInt32)
	pl, ph := pos(lo), pos(hi)
	switch {
	case pl == ph:
		if pl {
			return math.MinInt32, false
		}
		return math.MaxInt32, false
	case !pl && ph: // non-decreasing: smallest acc with pos
		for hi-lo > 1 { // invariant: !pos(lo), pos(hi)
			mid := lo + (hi-lo)/2
			if pos(mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		return int32(hi), false
	default: // non-increasing: largest acc with pos
		for hi-lo > 1 { // invariant: pos(lo), !pos(hi)
			mid := lo + (hi-lo)/2
			if pos(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return int32(lo), true
	}
}

// floatKey maps finite float32 values to integers in the same order
// (-0 and +0 both to 0); keyFloat is its inverse.
func keyFloat(k int64) float32 {
	if k < 0 {
		return math.Float32frombits(uint32(-k) | 0x80000000)
	}
	return math.Float32frombits(uint32(k))
}

// thresholdFloat is thresholdInt over float32 accumulators, by binary search
// over the ordered bit patterns of the finite floats. A constant predicate
// gives -Inf (always +1) or +Inf (always -1).
func thresholdFloat(pos func(acc float32) bool) (thr float32, flip bool) {
	const maxFinite = 0x7f7fffff
	lo, hi := int64(-maxFinite), int64(maxFinite)
	pl, ph := pos(keyFloat(lo)), pos(keyFloat(hi))
	switch {
	case pl == ph:
		if pl {
			return float32(math.Inf(-1)), false
		}
		return float32(math.Inf(1)), false
	case !pl && ph:
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if pos(keyFloat(mid)) {
				hi = mid
			} else {
				lo = mid
			}
		}
		return keyFloat(hi), false
	default:
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if pos(keyFloat(mid)) {
				lo = mid
			} else {
				hi = mid
			}
		}
		return keyFloat(lo), true
	}
}

// InvScale is the multiplier that maps a real value onto an s8 grid of the
// given scale: 1/scale, snapped to the integer n when scale is the float32
// nearest to 1/n (DoReFa's grid q/n, n = 2^k - 1), because the quantizer
// itself multiplies by n.
func InvScale(scale float32) float32 {
	inv := 1 / float64(scale)
	if r := math.Round(inv); r >= 1 && float32(1/r) == scale {
		return float32(r)
	}
	return float32(inv)
}
