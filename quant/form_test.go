package quant

import (
	"math"
	"reflect"
	"testing"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// TestFormEveryClass: every class the parser accepts maps onto a form, also
// as a QKeras weight layer rewrites it.
func TestFormEveryClass(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		q, err := ParseString(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if q.Form == nil {
			t.Errorf("%s: no form", name)
		}
		if k := ForKernel(q); k.Form == nil || k.Text != q.Text {
			t.Errorf("ForKernel(%s): form %#v, text %q", name, k.Form, k.Text)
		}
	}
}

// TestForm lists what each quantizer computes, as the compiler sees it.
func TestForm(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want ir.QuantForm
	}{
		{"quantized_bits(4,1)", ir.Uniform{Bits: 4, Signed: true, Step: 0.25, Max: 2}},
		{"quantized_bits(8,0,1,alpha=1)", ir.Uniform{Bits: 8, Signed: true, Symmetric: true, Step: 1.0 / 128, Max: 1}},
		{"quantized_bits(4,2,keep_negative=False,alpha=0.5)", ir.Uniform{Bits: 4, Step: 0.125, Max: 2}},
		{"quantized_bits(8,0,alpha='auto_po2')", ir.Uniform{Bits: 8, Signed: true, StepFromData: "auto_po2", Max: 1}},
		{"quantized_relu(4,2)", ir.Uniform{Bits: 4, Relu: true, Step: 0.25, Max: 4}},
		{"quantized_relu(4,0,negative_slope=0.25)", ir.Uniform{Bits: 4, Relu: true, Step: 0.125, Max: 1, NegativeSlope: 0.25}},
		{"quantized_relu(3,1,use_sigmoid=1)", ir.Uniform{Bits: 3, Relu: true, Step: 0.5, Max: 2, Sigmoid: true}},
		{"ste_sign", ir.Sign{Scale: 1}},
		{"SwishSign", ir.Sign{Scale: 1}},
		{"binary(alpha=2)", ir.Sign{Scale: 2}},
		{"binary(use_01=True)", ir.Sign{Scale: 1, ZeroOne: true}},
		{"stochastic_binary(alpha='auto')", ir.Sign{ScaleFromData: "auto"}},
		{"magnitude_aware_sign", ir.Sign{ScaleFromData: "mean |x| per channel"}},
		{"ste_heaviside", ir.Heaviside{}},
		{"ternary", ir.Ternary{Threshold: 0.33, Scale: 1}},
		{"ternary(alpha=0.5, threshold=0.25)", ir.Ternary{Threshold: 0.25, Scale: 0.5}},
		{"stochastic_ternary(alpha='auto_po2')", ir.Ternary{Threshold: 0.33, ScaleFromData: "auto_po2"}},
		{"ste_tern(threshold_value=0.125)", ir.Ternary{Threshold: 0.125, Scale: 1}},
		{"ste_tern(ternary_weight_networks=True)", ir.Ternary{Threshold: 0.05, Scale: 1, ThresholdFromData: "ternary_weight_networks: 0.7·mean |x|"}},
		{"quantized_po2(4, 2)", ir.PowerOfTwo{Bits: 4, Max: 2}},
		{"quantized_relu_po2(5)", ir.PowerOfTwo{Bits: 5, Relu: true}},
		{"quantized_tanh(4, symmetric=True)", ir.Tanh{Bits: 4, Symmetric: true}},
		{"quantized_tanh(8, use_real_tanh=True)", ir.Tanh{Bits: 8, RealTanh: true}},
		{"DoReFa(k_bit=8)", ir.DoReFa{Bits: 8}},
		{"DoReFa(k_bit=2, mode='weights')", ir.DoReFa{Bits: 2, Weights: true}},
		{"NoOp(precision=4)", ir.Identity{Bits: 4}},
	} {
		q, err := ParseString(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if !reflect.DeepEqual(q.Form, c.want) {
			t.Errorf("%s: form %#v, want %#v", c.in, q.Form, c.want)
		}
	}
	// A QKeras weight layer turns alpha=None into auto_po2 (and symmetric).
	q, _ := ParseString("quantized_bits(4,0)")
	if want := (ir.Uniform{Bits: 4, Signed: true, Symmetric: true, StepFromData: "auto_po2", Max: 1}); !reflect.DeepEqual(ForKernel(q).Form, want) {
		t.Errorf("ForKernel(quantized_bits(4,0)): form %#v, want %#v", ForKernel(q).Form, want)
	}
}

// TestFormMatchesStorage: the grid a Uniform form states is the s8 grid
// OutputQuant stores its values on (both derived from the arguments here,
// independently).
func TestFormMatchesStorage(t *testing.T) {
	t.Parallel()
	n := 0
	for _, text := range []string{
		"quantized_bits(8,0,alpha=1)", "quantized_bits(4,2)", "quantized_bits(8,3,1,alpha=1)", "quantized_bits(2,0)",
		"quantized_bits(6,1,keep_negative=False)", "quantized_bits(3,-2,alpha=0.25)",
		"quantized_relu(8)", "quantized_relu(4,2)", "quantized_relu(1)", "quantized_relu(8,0,negative_slope=0.5)",
		"quantized_relu(4,1,negative_slope=0.25)", "quantized_relu(6,0,negative_slope=1)",
	} {
		q, err := ParseString(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		u := q.Form.(ir.Uniform)
		st := OutputQuant(q)
		if st.DType != dtype.S8 {
			t.Fatalf("%s: stored as %s, want s8", text, st.DType)
		}
		n++
		lo, hi := u.Range()
		top := math.Round(hi/u.Step) - 1
		bottom := math.Round(lo / u.Step)
		if u.Symmetric {
			bottom++
		}
		if u.Leaky() {
			bottom = -u.NegativeSlope * (top + 1)
		}
		if float64(st.Scale[0]) != u.Step || float64(st.QMax) != top || float64(st.QMin) != bottom || st.Bits != u.Bits {
			t.Errorf("%s: stored scale %g codes [%d, %d] bits %d; form step %g codes [%g, %g] bits %d", text, st.Scale[0], st.QMin, st.QMax, st.Bits, u.Step, bottom, top, u.Bits)
		}
	}
	t.Logf("%d grids agree", n)
}

// TestFormComputesKeras: each exact form's own formula gives, bit for bit,
// what Keras computes (Apply) on inputs that include every tie, both edges
// and values well outside the range.
func TestFormComputesKeras(t *testing.T) {
	t.Parallel()
	sweep := func(limit, step float64) []float32 {
		var x []float32
		for v := -4 * limit; v <= 4*limit; v += step / 4 {
			x = append(x, float32(v), math.Nextafter32(float32(v), float32(math.Inf(1))))
		}
		return append(x, 0, float32(math.Copysign(0, -1)))
	}
	roundHE := func(v float64) float64 { return math.RoundToEven(v) }
	sgn := func(v float32) float64 {
		if v >= 0 {
			return 1
		}
		return -1
	}
	for _, text := range []string{
		"quantized_bits(8,0,alpha=1)", "quantized_bits(4,2)", "quantized_bits(8,3,1,alpha=1)", "quantized_bits(6,1,keep_negative=False)",
		"quantized_relu(8)", "quantized_relu(4,2)",
		"ste_sign", "approx_sign", "swish_sign", "ste_heaviside",
		"ternary(threshold=0.25)", "ternary(alpha=0.5, threshold=0.5)", "ste_tern(threshold_value=0.125)", "SteTern",
		"DoReFa(k_bit=8)", "DoReFa(k_bit=3)",
	} {
		q, err := ParseString(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		var form func(x float32) float64
		limit, step := 1.0, 1.0/64
		switch f := q.Form.(type) {
		case ir.Uniform:
			lo, hi := f.Range()
			cmin, cmax := math.Round(lo/f.Step), math.Round(hi/f.Step)-1
			if f.Symmetric {
				cmin++
			}
			limit, step = hi, f.Step
			form = func(x float32) float64 {
				return f.Step * math.Min(math.Max(roundHE(float64(x)/f.Step), cmin), cmax)
			}
		case ir.Sign:
			form = func(x float32) float64 { return f.Scale * sgn(x) }
		case ir.Heaviside:
			form = func(x float32) float64 {
				if x > 0 {
					return 1
				}
				return 0
			}
		case ir.Ternary:
			if why := f.Inexact(); why != "" {
				t.Fatalf("%s: inexact: %s", text, why)
			}
			limit, step = 2*f.Threshold, f.Threshold
			form = func(x float32) float64 {
				if math.Abs(float64(x)) >= float64(float32(f.Threshold)) {
					return f.Scale * sgn(x)
				}
				return 0
			}
		case ir.DoReFa:
			n := math.Ldexp(1, f.Bits) - 1
			step = 1 / n
			form = func(x float32) float64 {
				c := math.Min(math.Max(float64(x), 0), 1)
				return float64(float32(roundHE(float64(float32(float32(c)*float32(n))))) / float32(n))
			}
		default:
			t.Fatalf("%s: form %T has no formula here", text, f)
		}
		x := sweep(limit, step)
		got, err := Apply(q, x, []int{len(x)})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		for i, v := range x {
			if want := float32(form(v)); got[i] != want {
				t.Errorf("%s(%g): Keras %g, form %T says %g", text, v, got[i], q.Form, want)
				break
			}
		}
	}
}
