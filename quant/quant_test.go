package quant

import (
	"math"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/ir/dtype"
)

func TestParseString(t *testing.T) {
	cases := []struct {
		in    string
		class string
		args  map[string]any
	}{
		{"quantized_relu(2)", "quantized_relu", map[string]any{"bits": 2.0, "integer": 0.0}},
		{"quantized_relu(3,1)", "quantized_relu", map[string]any{"bits": 3.0, "integer": 1.0}},
		{"binary", "binary", map[string]any{"alpha": nil, "use_01": false}},
		{"binary(alpha=1)", "binary", map[string]any{"alpha": 1.0}},
		{"quantized_bits(4,0,1,alpha='auto_po2')", "quantized_bits", map[string]any{"bits": 4.0, "symmetric": 1.0, "alpha": "auto_po2"}},
		{" quantized_bits( 8 , 7 , keep_negative=True ) ", "quantized_bits", map[string]any{"bits": 8.0, "integer": 7.0, "keep_negative": true}},
		{"quantized_relu_po2(6, 2048)", "quantized_relu_po2", map[string]any{"bits": 6.0, "max_value": 2048.0}},
		{"stochastic_ternary(alpha=\"auto\")", "ternary", map[string]any{"alpha": "auto"}},
		{"ste_sign", "ste_sign", map[string]any{"clip_value": 1.0}},
		{"DoReFa(k_bit=8, mode=\"activations\")", "dorefa", map[string]any{"k_bit": 8.0, "mode": "activations"}},
	}
	for _, c := range cases {
		q, err := ParseString(c.in)
		if err != nil {
			t.Errorf("ParseString(%q): %v", c.in, err)
			continue
		}
		if q.Class != c.class {
			t.Errorf("ParseString(%q).Class = %q, want %q", c.in, q.Class, c.class)
		}
		for k, v := range c.args {
			if argsOf(q)[k] != v {
				t.Errorf("ParseString(%q).Args[%s] = %v, want %v", c.in, k, argsOf(q)[k], v)
			}
		}
		if q.Text != c.in {
			t.Errorf("Text = %q, want %q", q.Text, c.in)
		}
	}
	for _, bad := range []string{"", "quantized_bits(", "quantized_bits(4,,1)", "quantized_bits(bits=4, 3)", "relu",
		"quantized_bits(foo=1)", "quantized_bits(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16)", "binary(alpha=x)",
		"quantized_tanh(8, integer=0)", "quantized_bits('4)", "quantized_bits(4))"} {
		if _, err := ParseString(bad); err == nil {
			t.Errorf("ParseString(%q): no error", bad)
		}
	}
}

func TestParseDict(t *testing.T) {
	q, err := Parse(map[string]any{"module": "qkeras.quantizers", "class_name": "quantized_bits",
		"config": map[string]any{"bits": 6.0, "integer": 0.0, "symmetric": 0.0, "alpha": 1.0, "keep_negative": true,
			"use_stochastic_rounding": false, "qnoise_factor": 1.0, "post_training_scale": nil},
		"registered_name": "qkeras>quantized_bits"})
	if err != nil || q.Class != "quantized_bits" || argsOf(q)["bits"] != 6.0 || argsOf(q)["alpha"] != 1.0 {
		t.Fatalf("Parse = %+v, %v", q, err)
	}
	q, err = Parse(map[string]any{"class_name": "SteSign", "config": map[string]any{"name": "ste_sign_1", "trainable": true, "dtype": "float64", "clip_value": 1.0}, "shared_object_id": 4.0})
	if err != nil || q.Class != "ste_sign" {
		t.Fatalf("Parse SteSign = %+v, %v", q, err)
	}
	if _, err := Parse(map[string]any{"class_name": "steSign"}); err == nil {
		t.Error("Larq class names are case-sensitive; want an error for steSign")
	}
	if q, err := Parse(nil); q != nil || err != nil {
		t.Error("Parse(nil) must be nil, nil")
	}
}

func apply(t *testing.T, s string, x []float32, shape []int) []float32 {
	t.Helper()
	q, err := ParseString(s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Apply(q, x, shape)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eq(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestApply(t *testing.T) {
	x := []float32{-2, -0.3, -0.0, 0, 0.124, 0.125, 0.375, 0.9, 3}
	n := []int{len(x)}
	cases := []struct {
		q    string
		want []float32
	}{
		{"ste_sign", []float32{-1, -1, 1, 1, 1, 1, 1, 1, 1}},
		{"ste_heaviside", []float32{0, 0, 0, 0, 1, 1, 1, 1, 1}},
		{"binary(alpha=1)", []float32{-1, -1, 1, 1, 1, 1, 1, 1, 1}},
		{"binary", []float32{-1, -1, 1, 1, 1, 1, 1, 1, 1}},
		// bits 3, integer 0: step 0.25, codes in [-4, 3]; 0.125 → 0 (half even), 0.375 → 0.5
		{"quantized_bits(3,0,alpha=1)", []float32{-1, -0.25, 0, 0, 0, 0, 0.5, 0.75, 0.75}},
		{"quantized_bits(3,0,1,alpha=1)", []float32{-0.75, -0.25, 0, 0, 0, 0, 0.5, 0.75, 0.75}},
		// relu 2 bits: step 0.25, max 0.75
		{"quantized_relu(2)", []float32{0, 0, 0, 0, 0, 0, 0.5, 0.75, 0.75}},
		{"quantized_tanh(3)", []float32{-1, -0.25, 0, 0, 0, 0, 0.5, 0.75, 0.75}},
		// max_value <= 1: no exponent sign bit, exponents in [-8, 7]; zeros become +2^-8
		{"quantized_po2(4, 1)", []float32{-1, -0.25, 0.00390625, 0.00390625, 0.125, 0.125, 0.5, 1, 1}},
		{"DoReFa(k_bit=2)", []float32{0, 0, 0, 0, 0, 0, float32(1.0 / 3), 1, 1}},
		{"ste_tern", []float32{-1, -1, 0, 0, 1, 1, 1, 1, 1}},
	}
	for _, c := range cases {
		if got := apply(t, c.q, x, n); !eq(got, c.want) {
			t.Errorf("%s(%v) = %v, want %v", c.q, x, got, c.want)
		}
	}
}

func TestSTEIsLiteral(t *testing.T) {
	// binary(alpha=1) is x + (k - x): for |x| >= 2^25 the float32 sum collapses to 0.
	got := apply(t, "binary(alpha=1)", []float32{1 << 26, -(1 << 26)}, []int{2})
	if !eq(got, []float32{0, 0}) {
		t.Errorf("binary(alpha=1) on huge x = %v, want the literal STE result [0 0]", got)
	}
}

func TestAutoPo2Kernel(t *testing.T) {
	q, _ := ParseString("quantized_bits(4,0)")
	kq := ForKernel(q)
	if argsOf(kq)["alpha"] != "auto_po2" || argsOf(kq)["symmetric"] != 1.0 || argsOf(q)["alpha"] != nil {
		t.Fatalf("ForKernel = %v (original %v)", argsOf(kq), argsOf(q))
	}
	// Two output channels: channel 0 spans ±0.7, channel 1 ±0.07.
	w := []float32{0.7, 0.07, -0.35, -0.035, 0.1, 0.01, -0.7, 0.0}
	out, err := Apply(kq, w, []int{4, 2})
	if err != nil {
		t.Fatal(err)
	}
	kqq := KernelQuant(kq, out, []int{4, 2})
	if kqq.DType != dtype.S8 || len(kqq.Scale) != 2 {
		t.Fatalf("KernelQuant = %+v for %v", kqq, out)
	}
	for i, v := range out {
		s := kqq.Scale[i%2]
		fr, _ := math.Frexp(float64(s))
		if fr != 0.5 {
			t.Errorf("scale %g is not a power of two", s)
		}
		if c := v / s; c != float32(int(c)) || c > 7 || c < -7 {
			t.Errorf("value %g is not an integer code of scale %g", v, s)
		}
	}
}

func TestOutputQuant(t *testing.T) {
	cases := []struct {
		q              string
		dt             dtype.DType
		scale          float32
		zp, qmin, qmax int32
	}{
		{"binary(alpha=1)", dtype.S1, 1, 0, -1, 1},
		{"quantized_relu(8)", dtype.S8, 1.0 / 256, -128, 0, 255},
		{"quantized_relu(6,6)", dtype.S8, 1, 0, 0, 63},
		{"quantized_bits(8,7)", dtype.S8, 1, 0, -128, 127},
		{"quantized_bits(8,0,1,alpha=1)", dtype.S8, 1.0 / 128, 0, -127, 127},
		{"quantized_po2(4)", dtype.F32, 0, 0, 0, 0},
		{"quantized_bits(8,0,alpha=0.3)", dtype.F32, 0, 0, 0, 0},
	}
	for _, c := range cases {
		q, _ := ParseString(c.q)
		got := OutputQuant(q)
		if got.DType != c.dt || got.Quantizer != q {
			t.Errorf("OutputQuant(%s) = %+v, want %v", c.q, got, c.dt)
			continue
		}
		if c.dt != dtype.F32 && (got.Scale[0] != c.scale || got.ZeroPoint != c.zp || got.QMin != c.qmin || got.QMax != c.qmax) {
			t.Errorf("OutputQuant(%s) = %+v", c.q, got)
		}
	}
}

func TestCheckActivation(t *testing.T) {
	for s, want := range map[string]string{
		"quantized_bits(12,4)":             "bits <= 8",
		"binary(use_01=True)":              "use_01=False",
		"binary(alpha=2)":                  "alpha=1",
		"DoReFa(k_bit=4)":                  "k_bit=8",
		"quantized_bits(8,0,alpha='auto')": "batch",
		"binary(alpha=1)":                  "",
		"quantized_relu(8,2)":              "",
	} {
		q, err := ParseString(s)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckActivation(q)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckActivation(%s) = %v, want %q", s, err, want)
		}
	}
}

func TestCodes(t *testing.T) {
	q, _ := ParseString("quantized_bits(4,0,alpha=1)")
	w := []float32{0.125, -0.5, 0.875, 0}
	kq := KernelQuant(q, w, []int{2, 2})
	if kq.DType != dtype.S8 || kq.Scale[0] != 0.125 {
		t.Fatalf("KernelQuant = %+v", kq)
	}
	c, err := Codes(kq, w, 2)
	if err != nil || c[0] != 1 || c[1] != -4 || c[2] != 7 || c[3] != 0 {
		t.Errorf("Codes = %v, %v", c, err)
	}
	if _, err := Codes(kq, []float32{0.1}, 1); err == nil {
		t.Error("Codes accepted a value off the grid")
	}
	s, _ := ParseString("ste_sign")
	sq := KernelQuant(s, []float32{1, -1, -1, 1}, []int{2, 2})
	if sq.DType != dtype.S1 || len(sq.Scale) != 1 || sq.Scale[0] != 1 {
		t.Errorf("sign KernelQuant = %+v", sq)
	}
	m, _ := ParseString("magnitude_aware_sign")
	mq := KernelQuant(m, []float32{0.5, -2, -0.5, 2}, []int{2, 2})
	if mq.DType != dtype.S1 || len(mq.Scale) != 2 || mq.Scale[0] != 0.5 || mq.Scale[1] != 2 {
		t.Errorf("magnitude-aware KernelQuant = %+v", mq)
	}
}

func TestQuantizedReluVariants(t *testing.T) {
	x := []float32{-2, -0.3, 0, 0.2, 0.6, 5}
	// negative_slope 0.25, bits 3 (2 non-sign bits), integer 0: positive grid 1/4 up to 3/4,
	// negative part 0.25·clip(round(p·0.25)/(0.25·4), −1, 0) with p = 4x.
	got := apply(t, "quantized_relu(3, 0, negative_slope=0.25)", x, []int{6})
	want := []float32{-0.25, 0, 0, 0.25, 0.5, 0.75}
	if !eq(got, want) {
		t.Errorf("negative_slope: got %v, want %v", got, want)
	}
	// use_sigmoid: p = hard_sigmoid(x)·4; xq = clip(2·round(p)/4 − 1, 0, 3/4).
	got = apply(t, "quantized_relu(2, 0, use_sigmoid=1)", x, []int{6})
	want = []float32{0, 0, 0, 0, 0.5, 0.75}
	if !eq(got, want) {
		t.Errorf("use_sigmoid: got %v, want %v", got, want)
	}
	if _, err := Apply(newQuantizer("quantized_relu", map[string]any{"bits": 4.0, "integer": 0.0, "negative_slope": 0.3}, ""), x, []int{6}); err == nil {
		t.Error("negative_slope 0.3 (not a power of two) must be refused")
	}
}

func TestPostTrainingScale(t *testing.T) {
	// Frozen scale 0.5 for 4 bits (m = 8): s = 0.5/8, codes clip at ±7.
	q, err := Parse(map[string]any{"class_name": "quantized_bits", "config": map[string]any{
		"bits": 4.0, "integer": 0.0, "alpha": "auto_po2", "post_training_scale": []any{0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Apply(q, []float32{0.1, -0.2, 1}, []int{3, 1})
	if err != nil {
		t.Fatal(err)
	}
	// z = floor(|x|/0.0625 + 0.5) → 2, 3, 16→7; value = s·m·(z/m) = 0.0625·z.
	want := []float32{0.125, -0.1875, 0.4375}
	if !eq(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestLeakyReluGrid checks that every value quantized_relu produces with a
// grid-able negative_slope is a code of OutputQuant's s8 grid within
// [QMin, QMax], and that the other slopes stay f32.
func TestLeakyReluGrid(t *testing.T) {
	var x []float32
	for v := float32(-40); v <= 40; v += 1.0 / 64 {
		x = append(x, v)
	}
	for bits := 2; bits <= 8; bits++ {
		for integer := -1; integer <= 3; integer++ {
			for e := -8; e <= 1; e++ {
				ns := math.Ldexp(1, e)
				q := newQuantizer("quantized_relu", map[string]any{"bits": float64(bits), "integer": float64(integer), "negative_slope": ns}, "")
				oq := OutputQuant(q)
				m := math.Ldexp(1, bits-1)
				if ns > 1 || ns*m < 1 {
					if oq.DType != dtype.F32 {
						t.Errorf("bits %d ns %v: stored as %s, want f32", bits, ns, oq.DType)
					}
					continue
				}
				if oq.DType != dtype.S8 || oq.QMin != int32(-ns*m) || oq.QMax != int32(m-1) {
					t.Fatalf("bits %d integer %d ns %v: OutputQuant = %+v", bits, integer, ns, oq)
				}
				got, err := Apply(q, x, []int{len(x)})
				if err != nil {
					t.Fatal(err)
				}
				seenNeg := false
				for i, v := range got {
					c := float64(v) / float64(oq.Scale[0])
					if c != math.Trunc(c) || c < float64(oq.QMin) || c > float64(oq.QMax) {
						t.Fatalf("bits %d integer %d ns %v: x=%v gives %v, not a code of scale %v in [%d, %d]", bits, integer, ns, x[i], v, oq.Scale[0], oq.QMin, oq.QMax)
					}
					seenNeg = seenNeg || c == float64(oq.QMin)
				}
				if !seenNeg {
					t.Errorf("bits %d integer %d ns %v: the lowest code %d is never reached", bits, integer, ns, oq.QMin)
				}
			}
		}
	}
}
