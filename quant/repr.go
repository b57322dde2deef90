package quant

import (
	"fmt"
	"maps"
	"math"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// ForKernel returns q as a QKeras weight layer (QDense, QConv2D,
// QConv2DTranspose, QDepthwiseConv2D) uses it: _set_trainable_parameter turns
// alpha=None into "auto_po2" (and symmetric on for quantized_bits) for
// quantized_bits, binary, stochastic_binary and ternary. Other quantizers
// are returned unchanged.
func ForKernel(q *ir.Quantizer) *ir.Quantizer {
	if q == nil {
		return nil
	}
	switch q.Class {
	case "quantized_bits", "binary", "stochastic_binary", "ternary":
	default:
		return q
	}
	if argsOf(q)["alpha"] != nil {
		return q
	}
	args := maps.Clone(argsOf(q))
	args["alpha"] = "auto_po2"
	if q.Class == "quantized_bits" {
		args["symmetric"] = 1.0
	}
	return newQuantizer(q.Class, args, q.Text)
}

// IsSign reports whether q's output is ±1 (sign(0) = +1): the quantizers
// whose outputs dqnn stores as s1.
func IsSign(q *ir.Quantizer) bool {
	if q == nil {
		return false
	}
	switch q.Class {
	case "ste_sign", "approx_sign", "swish_sign":
		return true
	case "binary", "stochastic_binary":
		if q.Class == "binary" && Bool(q, "use_01") {
			return false
		}
		a, ok := Num(q, "alpha")
		return argsOf(q)["alpha"] == nil || ok && a == 1
	case "quantized_bits":
		bits, _ := Num(q, "bits")
		a, ok := Num(q, "alpha")
		return bits == 1 && Bool(q, "keep_negative") && (argsOf(q)["alpha"] == nil || ok && a == 1)
	}
	return false
}

// CheckActivation reports why q cannot quantize activations (a Larq
// input_quantizer, a QActivation or a QKeras activation=), with what to change.
func CheckActivation(q *ir.Quantizer) error {
	if q == nil {
		return nil
	}
	switch q.Class {
	case "quantized_bits":
		bits, _ := Num(q, "bits")
		if bits > 8 {
			return fmt.Errorf("%s: activations quantized with quantized_bits need bits <= 8 (got bits=%v); use bits <= 8, or remove the quantizer to keep the tensor in float32", String(q), bits)
		}
		if s, ok := argsOf(q)["alpha"].(string); ok {
			return fmt.Errorf("%s: alpha=%q on activations makes the scale depend on the whole batch; use alpha=1 (or None)", String(q), s)
		}
	case "quantized_relu":
		bits, _ := Num(q, "bits")
		if bits > 8 {
			return fmt.Errorf("%s: activations quantized with quantized_relu need bits <= 8 (got bits=%v); use bits <= 8, or use a plain relu to keep float32", String(q), bits)
		}
	case "binary", "stochastic_binary":
		if q.Class == "binary" && Bool(q, "use_01") {
			return fmt.Errorf("%s: binary activations must be signed: use use_01=False", String(q))
		}
		if !IsSign(q) {
			return fmt.Errorf("%s: binary activations must have alpha=1 (got alpha=%v); use alpha=1 and put the scale into a following layer", String(q), fmtVal(argsOf(q)["alpha"]))
		}
	case "dorefa":
		k, _ := Num(q, "k_bit")
		mode, _ := Str(q, "mode")
		if mode != "activations" {
			return fmt.Errorf("%s: a DoReFa quantizer on activations needs mode=\"activations\"", String(q))
		}
		if k != 8 {
			return fmt.Errorf("%s: DoReFa on activations is supported with k_bit=8 only (got k_bit=%v); use k_bit=8", String(q), k)
		}
	case "ternary":
		if _, ok := argsOf(q)["alpha"].(string); ok {
			return fmt.Errorf("%s: alpha=%q on activations makes the scale depend on the whole batch; use a numeric alpha", String(q), argsOf(q)["alpha"])
		}
	case "ste_tern":
		if Bool(q, "ternary_weight_networks") {
			return fmt.Errorf("%s: ternary_weight_networks=True on activations makes the threshold depend on the whole batch; set it to False", String(q))
		}
	}
	return nil
}

// OutputQuant returns how dqnn stores the output of activation quantizer q:
// S1 for sign-type quantizers, S8 for quantized_bits/quantized_relu/
// quantized_tanh with at most 8 bits on a power-of-two grid and for DoReFa
// activations with k_bit <= 8, F32 otherwise. Quantizer is set in all cases.
//
// S8 follows ir.Quant's convention: the code q lies in [QMin, QMax], the
// stored int8 is q + ZeroPoint (ZeroPoint -128 when QMax > 127, e.g.
// quantized_relu(8)), and the value is Scale·q. For DoReFa the value Keras
// computes is q/(2^k_bit − 1), a division that can differ by one ulp from
// Scale·q with Scale = fl32(1/(2^k_bit − 1)); the code itself is exact.
func OutputQuant(q *ir.Quantizer) ir.Quant {
	f := ir.Quant{DType: dtype.F32, Quantizer: q, Bits: Bits(q)}
	if q == nil {
		return ir.Float()
	}
	if IsSign(q) {
		return ir.Quant{DType: dtype.S1, Scale: []float32{1}, Bits: 1, QMin: -1, QMax: 1, Quantizer: q}
	}
	s8 := func(scale float32, lo, hi int32, bits int) ir.Quant {
		zp := int32(0)
		if hi > 127 {
			zp = 127 - hi
		}
		if lo+zp < -128 || hi+zp > 127 {
			return f
		}
		return ir.Quant{DType: dtype.S8, Scale: []float32{scale}, ZeroPoint: zp, QMin: lo, QMax: hi, Bits: bits, Quantizer: q}
	}
	switch q.Class {
	case "quantized_bits":
		bits, _ := Num(q, "bits")
		integer, _ := Num(q, "integer")
		sym, _ := Num(q, "symmetric")
		k := 0.0
		if Bool(q, "keep_negative") {
			k = 1
		}
		if bits > 8 || bits-k <= 0 || argsOf(q)["alpha"] != nil && !isPo2Alpha(q) {
			return f
		}
		alpha := 1.0
		if a, ok := Num(q, "alpha"); ok && argsOf(q)["alpha"] != nil {
			alpha = a
		}
		u := bits - k
		return s8(float32(alpha*math.Ldexp(1, int(integer-u))), int32(k*(sym-math.Ldexp(1, int(u)))), int32(math.Ldexp(1, int(u))-1), int(bits))
	case "quantized_relu":
		bits, _ := Num(q, "bits")
		integer, _ := Num(q, "integer")
		ns, _ := Num(q, "negative_slope")
		if bits > 8 || Bool(q, "use_sigmoid") {
			return f
		}
		if ns != 0 {
			// Both branches land on the grid 2^(integer−(bits−1)): the
			// positive codes are 0..m−1 and the negative ones −ns·m..0
			// (m = 2^(bits−1)); see LeakyReluGrid.
			lo, ok := LeakyReluGrid(q)
			if !ok {
				return f
			}
			return s8(float32(math.Ldexp(1, int(integer-bits+1))), lo, int32(math.Ldexp(1, int(bits)-1))-1, int(bits))
		}
		return s8(float32(math.Ldexp(1, int(integer-bits))), 0, int32(math.Ldexp(1, int(bits))-1), int(bits))
	case "quantized_tanh":
		bits, _ := Num(q, "bits")
		if bits > 8 || bits < 2 {
			return f
		}
		m := math.Ldexp(1, int(bits)-1)
		lo := -m
		if Bool(q, "symmetric") {
			lo++
		}
		return s8(float32(1/m), int32(lo), int32(m-1), int(bits))
	case "dorefa":
		k, _ := Num(q, "k_bit")
		if mode, _ := Str(q, "mode"); mode != "activations" || k > 8 {
			return f
		}
		n := math.Ldexp(1, int(k)) - 1
		return s8(float32(1/n), 0, int32(n), int(k))
	}
	return f
}

// LeakyReluGrid reports whether quantized_relu q (use_sigmoid=0) with a
// negative_slope ns computes codes on one s8 grid, and returns the lowest
// code −ns·m (m = 2^(bits−1)). QKeras adds m_i·ns·clip(round(p·ns)/(ns·m),
// −1, 0) to the positive branch; with ns a power of two in [1/m, 1] that is
// round(p·ns)·m_i/m clipped to [−ns·m, 0], a whole number of grid steps.
// A smaller slope puts the only negative value, −m_i·ns, between grid
// points, and a slope above 1 leaves int8.
func LeakyReluGrid(q *ir.Quantizer) (int32, bool) {
	bits, _ := Num(q, "bits")
	ns, _ := Num(q, "negative_slope")
	if q.Class != "quantized_relu" || Bool(q, "use_sigmoid") || bits < 2 || bits > 8 || !(ns > 0) || ns > 1 {
		return 0, false
	}
	if fr, _ := math.Frexp(ns); fr != 0.5 {
		return 0, false
	}
	lo := ns * math.Ldexp(1, int(bits)-1)
	if lo < 1 {
		return 0, false
	}
	return int32(-lo), true
}

// Bits is the bit width a quantizer declares (Larq's "precision"): bits or
// k_bit, 1 for sign/heaviside types, 2 for ternary ones, 0 when unknown
// (no_op without precision).
func Bits(q *ir.Quantizer) int {
	if q == nil {
		return 0
	}
	switch q.Class {
	case "ste_sign", "approx_sign", "swish_sign", "magnitude_aware_sign", "ste_heaviside", "binary", "stochastic_binary":
		return 1
	case "ternary", "ste_tern":
		return 2
	case "dorefa":
		k, _ := Num(q, "k_bit")
		return int(k)
	case "no_op":
		p, _ := Num(q, "precision")
		return int(p)
	}
	b, _ := Num(q, "bits")
	return int(b)
}

func isPo2Alpha(q *ir.Quantizer) bool {
	a, ok := Num(q, "alpha")
	if !ok || a <= 0 {
		return false
	}
	fr, _ := math.Frexp(a)
	return fr == 0.5
}

// KernelQuant returns how a kernel whose values w (already quantized by q,
// shape with output channels last) can be stored exactly: S1 signs with a
// per-channel (or single) Scale when every value of a channel is ±s_c, S8
// codes when every value is Scale·code with an integer code that fits the
// quantizer's range (at most 8 bits), F32 otherwise. The check is on the
// values themselves, so a storage type is only chosen when it is lossless.
func KernelQuant(q *ir.Quantizer, w []float32, shape []int) ir.Quant {
	f := ir.Quant{DType: dtype.F32, Quantizer: q, Bits: Bits(q)}
	if q == nil || len(w) == 0 || len(shape) == 0 {
		return f
	}
	ch := shape[len(shape)-1]
	if ch <= 0 || len(w)%ch != 0 {
		return f
	}
	switch q.Class {
	case "ste_sign", "approx_sign", "swish_sign", "magnitude_aware_sign", "binary", "stochastic_binary":
		if q.Class != "binary" || !Bool(q, "use_01") {
			if s, ok := signScales(w, ch); ok {
				return ir.Quant{DType: dtype.S1, Scale: collapse(s), Bits: 1, QMin: -1, QMax: 1, Quantizer: q}
			}
		}
		return f
	case "quantized_bits":
		bits, _ := Num(q, "bits")
		if bits > 8 {
			return f
		}
		integer, _ := Num(q, "integer")
		k := 0.0
		if Bool(q, "keep_negative") {
			k = 1
		}
		u := bits - k
		if u <= 0 {
			if s, ok := signScales(w, ch); ok && k == 1 {
				return ir.Quant{DType: dtype.S1, Scale: collapse(s), Bits: 1, QMin: -1, QMax: 1, Quantizer: q}
			}
			return f
		}
		lo, hi := int32(-math.Ldexp(1, int(u))*k), int32(math.Ldexp(1, int(u))-1)
		var scales []float32
		switch argsOf(q)["alpha"].(type) {
		case string: // auto scales: the largest |value| per channel is at most code levels/2
			half := math.Ldexp(1, int(bits)-1) - 1
			scales = channelScales(w, ch, float32(half))
			if argsOf(q)["alpha"] == "auto_po2" {
				for c, s := range scales {
					scales[c] = ceilPo2(s)
				}
			}
			lo, hi = -int32(half), int32(half)
		default:
			a := 1.0
			if v, ok := Num(q, "alpha"); ok && argsOf(q)["alpha"] != nil {
				a = v
			}
			scales = []float32{float32(a * math.Ldexp(1, int(integer-u)))}
		}
		return fitS8(q, w, ch, scales, lo, hi, int(bits))
	case "ternary", "ste_tern":
		scales := channelScales(w, ch, 1)
		return fitS8(q, w, ch, scales, -1, 1, 2)
	}
	return f
}

// signScales returns per channel the common |value| if every value of the
// channel is ±s (s > 0).
func signScales(w []float32, ch int) ([]float32, bool) {
	s := make([]float32, ch)
	for i, v := range w {
		a := float32(math.Abs(float64(v)))
		c := i % ch
		if i < ch {
			s[c] = a
		}
		if a == 0 || a != s[c] || math.IsNaN(float64(a)) || math.IsInf(float64(a), 0) {
			return nil, false
		}
	}
	return s, true
}

// channelScales returns max|w| per channel divided by top (0-channels get 1).
func channelScales(w []float32, ch int, top float32) []float32 {
	s := make([]float32, ch)
	for i, v := range w {
		if a := float32(math.Abs(float64(v))); a > s[i%ch] {
			s[i%ch] = a
		}
	}
	for c := range s {
		if s[c] == 0 {
			s[c] = 1
		} else {
			s[c] = float32(s[c] / top)
		}
	}
	return s
}

func fitS8(q *ir.Quantizer, w []float32, ch int, scales []float32, lo, hi int32, bits int) ir.Quant {
	f := ir.Quant{DType: dtype.F32, Quantizer: q, Bits: Bits(q)}
	scale := func(i int) float32 {
		if len(scales) == 1 {
			return scales[0]
		}
		return scales[i%ch]
	}
	for i, v := range w {
		s := scale(i)
		if s == 0 || math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return f
		}
		c := float32(math.RoundToEven(float64(v / s)))
		if c < float32(lo) || c > float32(hi) || float32(c*s) != v {
			return f
		}
	}
	zp := int32(0)
	if hi > 127 {
		zp = 127 - hi
	}
	if lo+zp < -128 {
		return f
	}
	return ir.Quant{DType: dtype.S8, Scale: collapse(scales), ZeroPoint: zp, QMin: lo, QMax: hi, Bits: bits, Quantizer: q}
}

// ceilPo2 returns the smallest power of two >= s (s > 0).
func ceilPo2(s float32) float32 {
	fr, e := math.Frexp(float64(s))
	if fr == 0.5 {
		return s
	}
	return float32(math.Ldexp(1, e))
}

// collapse returns a single scale when all channels share it.
func collapse(s []float32) []float32 {
	for _, v := range s[1:] {
		if v != s[0] {
			return s
		}
	}
	return s[:1]
}

// Codes returns the stored codes of kernel values w under kq (S8: value/scale;
// S1: +1/-1), for consumers that pack weights. It returns an error when a
// value does not match kq exactly.
func Codes(kq ir.Quant, w []float32, ch int) ([]int32, error) {
	out := make([]int32, len(w))
	for i, v := range w {
		s := kq.Scale[0]
		if len(kq.Scale) > 1 {
			s = kq.Scale[i%ch]
		}
		c := float32(math.RoundToEven(float64(v / s)))
		if float32(c*s) != v {
			return nil, fmt.Errorf("value %g at %d is not %g times an integer", v, i, s)
		}
		out[i] = int32(c)
	}
	return out, nil
}
