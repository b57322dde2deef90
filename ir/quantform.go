package ir

import (
	"fmt"
	"math"
)

// QuantForm is what a quantizer computes, as the importer understood it
// from the model file: one of Uniform, Sign, Heaviside, Ternary, PowerOfTwo,
// Tanh, DoReFa or Identity. The set is closed (its method is unexported), so
// the compiler switches on the type and never on a format's spelling: an
// importer maps each of its quantizers onto a form (package quant does it
// for QKeras and Larq), and a new kind of computation is a new form here.
type QuantForm interface {
	quantForm()
}

// Rounding says how a value between two grid points is rounded.
type Rounding uint8

// RoundHalfEven is tf.round, what Keras computes at inference (QKeras's
// use_stochastic_rounding only acts while training).
const RoundHalfEven Rounding = 0

// Uniform is a uniform integer grid (QKeras quantized_bits, quantized_relu):
//
//	value = Step · clamp(round(x / Step), codes)
//
// with codes from −Max/Step (Signed; one more with Symmetric) or 0 up to
// Max/Step − 1.
type Uniform struct {
	Bits      int
	Signed    bool // codes below zero (quantized_bits keep_negative)
	Symmetric bool // the lowest signed code −Max/Step is left out
	Relu      bool // negative inputs clip to 0, or follow NegativeSlope (quantized_relu)
	// Step is the grid's step (its scale); 0 when StepFromData is set.
	Step float64
	// StepFromData, when not "", names the rule that computes the step
	// from the quantized values themselves ("auto", "auto_po2": per
	// channel), so no fixed grid exists; for messages.
	StepFromData string
	// Max bounds the input range: inputs clip to [−Max, Max] (Signed) or
	// [0, Max] (Relu), the top code being Max/Step − 1 (with StepFromData,
	// the range before the per-channel scale).
	Max float64
	// NegativeSlope, when not 0, is a leaky relu: a negative input x
	// quantizes x·NegativeSlope on the same grid.
	NegativeSlope float64
	// Sigmoid: the relu passes through a hard sigmoid before the grid
	// (quantized_relu use_sigmoid), a curve no s8 stage computes.
	Sigmoid  bool
	Rounding Rounding
}

// Range returns the interval inputs clip to.
func (u Uniform) Range() (lo, hi float64) {
	if u.Signed {
		return -u.Max, u.Max
	}
	return 0, u.Max
}

// Leaky reports whether negative inputs keep a (scaled) value.
func (u Uniform) Leaky() bool { return u.NegativeSlope != 0 }

// TieStep returns the grid step when ties x = (k + 1/2)·Step are exactly
// representable and round half to even decides them (a power-of-two step
// with at least one positive code), 0 otherwise.
func (u Uniform) TieStep() float64 {
	if u.Step > 0 && u.Max > u.Step && isPow2(u.Step) {
		return u.Step
	}
	return 0
}

// Sign is Scale·sign(x) with sign(0) = +1 (Larq ste_sign, approx_sign,
// swish_sign, magnitude_aware_sign; QKeras binary, stochastic_binary at
// inference), or Scale·{0, 1} with ZeroOne (binary use_01).
type Sign struct {
	Scale float64 // 1 unless the quantizer gives one; 0 when ScaleFromData
	// ScaleFromData, when not "", names the rule computing per-channel
	// scales from the values ("auto", "auto_po2", "mean |x|"); for messages.
	ScaleFromData string
	ZeroOne       bool
}

// Heaviside is 1 for x > 0 and 0 otherwise (Larq SteHeaviside).
type Heaviside struct{}

// Ternary is Scale·t with t = sign(x) when |x| >= Threshold, else 0
// (QKeras ternary, stochastic_ternary at inference; Larq SteTern).
type Ternary struct {
	Threshold float64
	// ThresholdFromData, when not "", names the rule computing the
	// threshold from the values (SteTern ternary_weight_networks); for messages.
	ThresholdFromData string
	Scale             float64 // 0 when ScaleFromData
	ScaleFromData     string  // "" or the rule computing the scale ("auto", "auto_po2")
}

// Inexact says why the step function cannot be computed exactly from a
// float32 input ("" when it can). With a numeric scale the value is
// x + (α·t − x), which equals α·t exactly when α is a power of two
// (Sterbenz for |x| in [α/2, 2α], representable differences elsewhere)
// for |x| < 2^24·α — the range in which dqnn's other power-of-two
// quantizers are exact.
func (t Ternary) Inexact() string {
	switch {
	case t.ScaleFromData != "":
		return fmt.Sprintf("alpha=%v is computed from the data", t.ScaleFromData)
	case t.ThresholdFromData != "":
		return fmt.Sprintf("the threshold is computed from the data (%s)", t.ThresholdFromData)
	case !isPow2(t.Scale) || float64(float32(t.Scale)) != t.Scale:
		return fmt.Sprintf("alpha=%v is not a power of two, so Keras's value x + (alpha·q − x) is not alpha·q exactly and no s8 grid holds it", t.Scale)
	case !(t.Threshold > 0):
		return fmt.Sprintf("threshold=%v is not positive", t.Threshold)
	}
	return ""
}

// PowerOfTwo is sign(x)·2^e with e = round(log2|x|) clipped to the
// exponents Bits allow (QKeras quantized_po2; Relu: quantized_relu_po2).
type PowerOfTwo struct {
	Bits int
	Relu bool
	// Max, when > 0, clips |x| first (max_value).
	Max float64
}

// Range returns the interval the quantizer's interesting inputs lie in:
// [−Max, Max] ([0, Max] with Relu), Max 1 when unset.
func (p PowerOfTwo) Range() (lo, hi float64) {
	m := p.Max
	if !(m > 0) {
		m = 1
	}
	if p.Relu {
		return 0, m
	}
	return -m, m
}

// Tanh is QKeras quantized_tanh: a hard-sigmoid tanh, 2·clip(x/2 + 1/2,
// 0, 1) − 1 (or the real tanh with RealTanh), on the grid 2^−(Bits−1).
type Tanh struct {
	Bits      int
	Symmetric bool // the lowest code is left out
	RealTanh  bool // tanh itself (TensorFlow's tanh, not bit-exact in C)
}

// DoReFa is Larq's DoReFa quantizer: on activations round(clip(x, 0, 1)·n)/n
// with n = 2^Bits − 1, a division (not the grid's multiplication) by n;
// on weights (Weights) a tanh-normalized form.
type DoReFa struct {
	Bits    int
	Weights bool
}

// Identity returns its input (Larq NoOp); Bits is its declared precision,
// 0 when none.
type Identity struct {
	Bits int
}

func (Uniform) quantForm()    {}
func (Sign) quantForm()       {}
func (Heaviside) quantForm()  {}
func (Ternary) quantForm()    {}
func (PowerOfTwo) quantForm() {}
func (Tanh) quantForm()       {}
func (DoReFa) quantForm()     {}
func (Identity) quantForm()   {}

// isPow2 reports whether f is a positive power of two.
func isPow2(f float64) bool {
	if !(f > 0) || math.IsInf(f, 0) {
		return false
	}
	fr, _ := math.Frexp(f)
	return fr == 0.5
}
