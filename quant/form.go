package quant

import (
	"math"

	"github.com/dqnn/dqnn/ir"
)

// record is an ir.Quantizer's Keras record: its class arguments with
// defaults filled in. Only this package reads them; Apply evaluates them
// for the reference interpreter.
type record struct {
	q    *ir.Quantizer
	args map[string]any
}

// Apply computes the quantizer with Keras's formulas (see Apply).
func (r *record) Apply(x []float32, shape []int) ([]float32, error) { return Apply(r.q, x, shape) }

// newQuantizer makes the ir.Quantizer of a canonical class with its
// arguments (defaults filled in): the Keras record and the form it computes.
func newQuantizer(class string, args map[string]any, text string) *ir.Quantizer {
	q := &ir.Quantizer{Class: class, Text: text}
	q.Keras = &record{q: q, args: args}
	q.Form = form(q)
	return q
}

// argsOf returns q's Keras arguments (nil for a quantizer another importer made).
func argsOf(q *ir.Quantizer) map[string]any {
	if r, ok := q.Keras.(*record); ok {
		return r.args
	}
	return nil
}

// form says what q computes, in the IR's terms; every class maps to one form.
func form(q *ir.Quantizer) ir.QuantForm {
	args := argsOf(q)
	num := func(k string) float64 { v, _ := Num(q, k); return v }
	// scale reads a QKeras alpha: None is 1, a number is itself, and a
	// string ("auto", "auto_po2") is computed from the data.
	scale := func() (float64, string) {
		switch a := args["alpha"].(type) {
		case nil:
			return 1, ""
		case string:
			return 0, a
		}
		return num("alpha"), ""
	}
	switch q.Class {
	case "quantized_bits":
		bits, integer := num("bits"), num("integer")
		signed := Bool(q, "keep_negative")
		u := bits
		if signed {
			u--
		}
		alpha, rule := scale()
		top := alpha
		if rule != "" {
			top = 1 // the range before the per-channel scale
		}
		return ir.Uniform{Bits: int(bits), Signed: signed, Symmetric: signed && Bool(q, "symmetric"),
			Step: alpha * math.Ldexp(1, int(integer-u)), StepFromData: rule, Max: top * math.Ldexp(1, int(integer))}
	case "quantized_relu":
		bits, integer, ns := num("bits"), num("integer"), num("negative_slope")
		// QKeras rounds on 2^(integer−b), b = bits less one for the sign
		// of a leaky slope (see LeakyReluGrid); the hard sigmoid's
		// 2·round(p)/m − 1 doubles that step.
		b := bits
		if ns != 0 {
			b--
		}
		sigmoid := Bool(q, "use_sigmoid")
		if sigmoid {
			b--
		}
		step := math.Ldexp(1, int(integer-b))
		return ir.Uniform{Bits: int(bits), Relu: true, Step: step, Max: math.Ldexp(1, int(integer)), NegativeSlope: ns,
			Sigmoid: sigmoid}
	case "ste_sign", "approx_sign", "swish_sign":
		return ir.Sign{Scale: 1}
	case "magnitude_aware_sign":
		return ir.Sign{ScaleFromData: "mean |x| per channel"}
	case "binary", "stochastic_binary":
		s, rule := scale()
		return ir.Sign{Scale: s, ScaleFromData: rule, ZeroOne: q.Class == "binary" && Bool(q, "use_01")}
	case "ste_heaviside":
		return ir.Heaviside{}
	case "ternary":
		s, rule := scale()
		t, ok := Num(q, "threshold")
		if !ok {
			t = 0.33 // QKeras's default with a fixed alpha
		}
		return ir.Ternary{Threshold: t, Scale: s, ScaleFromData: rule}
	case "ste_tern":
		t := ir.Ternary{Threshold: num("threshold_value"), Scale: 1}
		if Bool(q, "ternary_weight_networks") {
			t.ThresholdFromData = "ternary_weight_networks: 0.7·mean |x|"
		}
		return t
	case "quantized_po2", "quantized_relu_po2":
		return ir.PowerOfTwo{Bits: int(num("bits")), Relu: q.Class == "quantized_relu_po2", Max: num("max_value")}
	case "quantized_tanh":
		return ir.Tanh{Bits: int(num("bits")), Symmetric: Bool(q, "symmetric"), RealTanh: Bool(q, "use_real_tanh")}
	case "dorefa":
		mode, _ := Str(q, "mode")
		return ir.DoReFa{Bits: int(num("k_bit")), Weights: mode == "weights"}
	case "no_op":
		return ir.Identity{Bits: int(num("precision"))}
	}
	return nil // not a class build accepts
}
