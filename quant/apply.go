package quant

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/ir"
)

// eps is K.epsilon() (1e-7) as the float32 TF adds.
const eps = float32(1e-7)

// Apply returns q(x) for a tensor x of the given shape (channels last, no
// batch dimension), computed in float32 as Keras computes it at inference
// (learning phase 0): round half to even, sign(0) = +1, per-channel
// reductions over all axes but the last, straight-through forms evaluated
// literally as fl32(x + fl32(xq - x)). A nil q returns a copy of x.
func Apply(q *ir.Quantizer, x []float32, shape []int) ([]float32, error) {
	if n := ir.NumElements(shape); n != len(x) {
		return nil, fmt.Errorf("quantizer %s: %d values for shape %v (%d elements)", String(q), len(x), shape, n)
	}
	out := make([]float32, len(x))
	if q == nil {
		copy(out, x)
		return out, nil
	}
	ch := 1
	if len(shape) > 0 {
		ch = shape[len(shape)-1]
	}
	if ch <= 0 {
		return out, nil
	}
	var err error
	switch q.Class {
	case "ste_sign", "approx_sign", "swish_sign":
		for i, v := range x {
			out[i] = sign1(v)
		}
	case "ste_heaviside":
		for i, v := range x {
			if v > 0 {
				out[i] = 1
			}
		}
	case "no_op":
		copy(out, x)
	case "magnitude_aware_sign":
		s := meanAbs(x, ch)
		for i, v := range x {
			out[i] = s[i%ch] * sign1(v)
		}
	case "ste_tern":
		err = steTern(q, x, out)
	case "dorefa":
		err = dorefa(q, x, out)
	case "quantized_bits":
		err = quantizedBits(q, x, ch, out)
	case "quantized_relu":
		err = quantizedRelu(q, x, out)
	case "quantized_tanh":
		if _, err = intArg(q, "bits", 1, 32); err == nil {
			quantizedTanh(q, x, out)
		}
	case "binary", "stochastic_binary":
		err = binary(q, x, ch, out)
	case "ternary":
		err = ternary(q, x, ch, out)
	case "quantized_po2", "quantized_relu_po2":
		err = po2(q, x, out)
	default:
		err = fmt.Errorf("quantizer class %q cannot be evaluated", q.Class)
	}
	if err != nil {
		return nil, fmt.Errorf("quantizer %s: %w", String(q), err)
	}
	return out, nil
}

// sign1 is larq.math.sign / QKeras's sign with 0 → +1 (also for -0).
func sign1(v float32) float32 {
	if v >= 0 {
		return 1
	}
	return -1
}

// tfSign is tf.sign: -1, 0 or +1.
func tfSign(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func roundHE(v float32) float32 { return float32(math.RoundToEven(float64(v))) }

func clip(v, lo, hi float32) float32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// ste is QKeras's straight-through output x + qnoise·(xq − x) in float32.
func ste(q *ir.Quantizer, x, xq float32) float32 {
	qn, ok := Num(q, "qnoise_factor")
	if !ok {
		qn = 1
	}
	if _, has := argsOf(q)["use_ste"]; has && !Bool(q, "use_ste") {
		return float32(float32(float32(1-qn)*x) + float32(float32(qn)*xq))
	}
	d := float32(xq - x)
	if qn != 1 {
		d = float32(float32(qn) * d)
	}
	return float32(x + d)
}

// pow2f returns 2^e as float32 (e integral).
func pow2f(e float64) float32 { return float32(math.Ldexp(1, int(e))) }

// logf is float32 natural log (correctly rounded; TF's Eigen logf may differ by an ulp).
func logf(v float32) float32 { return float32(math.Log(float64(v))) }

// po2Round is K.pow(2, round(K.log(s + eps) / log(2))) in float32.
func po2Round(s float32) float32 {
	l := float32(logf(float32(s+eps)) / float32(math.Ln2))
	r := roundHE(l)
	if math.IsNaN(float64(r)) || math.IsInf(float64(r), 0) {
		return float32(math.NaN())
	}
	return pow2f(float64(r))
}

// channelMean returns, per channel, the mean over all axes but the last of f(i).
// Accumulated in float64: TF's reduction order is unspecified; this is the
// closest float32 result.
func channelMean(n, ch int, f func(i int) float32) []float32 {
	sum := make([]float64, ch)
	for i := 0; i < n; i++ {
		sum[i%ch] += float64(f(i))
	}
	out := make([]float32, ch)
	rows := n / ch
	for c := range out {
		if rows > 0 {
			out[c] = float32(sum[c] / float64(rows))
		}
	}
	return out
}

func meanAbs(x []float32, ch int) []float32 {
	return channelMean(len(x), ch, func(i int) float32 { return float32(math.Abs(float64(x[i]))) })
}

func steTern(q *ir.Quantizer, x, out []float32) error {
	d, _ := Num(q, "threshold_value")
	delta := float32(d)
	if Bool(q, "ternary_weight_networks") {
		var s float64
		for _, v := range x {
			s += math.Abs(float64(v))
		}
		delta = float32(float32(0.7) * float32(s/float64(len(x))))
	}
	for i, v := range x {
		out[i] = tfSign(tfSign(float32(v+delta)) + tfSign(float32(v-delta)))
	}
	return nil
}

func dorefa(q *ir.Quantizer, x, out []float32) error {
	k, _ := Num(q, "k_bit")
	if k < 1 || k > 24 || k != math.Trunc(k) {
		return fmt.Errorf("k_bit must be an integer in [1, 24], got %v", k)
	}
	n := float32(math.Ldexp(1, int(k)) - 1)
	mode, _ := Str(q, "mode")
	switch mode {
	case "activations":
		for i, v := range x {
			out[i] = float32(roundHE(float32(clip(v, 0, 1)*n)) / n)
		}
	case "weights":
		t := make([]float32, len(x))
		var d float32
		for i, v := range x {
			t[i] = float32(math.Tanh(float64(v)))
			if a := float32(math.Abs(float64(t[i]))); a > d {
				d = a
			}
		}
		d2 := float32(2 * d)
		for i := range x {
			u := float32(0.5)
			if d2 != 0 {
				u = float32(float32(t[i]/d2) + 0.5)
			}
			qv := float32(roundHE(float32(u*n)) / n)
			out[i] = float32(float32(2*qv) - 1)
		}
	default:
		return fmt.Errorf("mode must be \"activations\" or \"weights\", got %q", mode)
	}
	return nil
}

func intArg(q *ir.Quantizer, k string, lo, hi float64) (float64, error) {
	v, ok := Num(q, k)
	if !ok || v != math.Trunc(v) || v < lo || v > hi {
		return 0, fmt.Errorf("%s must be an integer in [%v, %v], got %v", k, lo, hi, argsOf(q)[k])
	}
	return v, nil
}

func quantizedBits(q *ir.Quantizer, x []float32, ch int, out []float32) error {
	bits, err := intArg(q, "bits", 1, 32)
	if err != nil {
		return err
	}
	integer, err := intArg(q, "integer", -32, 32)
	if err != nil {
		return err
	}
	k := 0.0
	if Bool(q, "keep_negative") {
		k = 1
	}
	sym, _ := Num(q, "symmetric")
	for _, a := range []string{"elements_per_scale", "min_po2_exponent", "max_po2_exponent"} {
		if argsOf(q)[a] != nil {
			return fmt.Errorf("argument %s is not supported; remove it", a)
		}
	}
	if argsOf(q)["scale_axis"] != nil {
		return fmt.Errorf("argument scale_axis is not supported (scales are per last axis); remove it")
	}
	unsigned := bits - k
	m := float32(math.Ldexp(1, int(unsigned)))
	mi := float32(math.Ldexp(1, int(integer)))
	switch alpha := argsOf(q)["alpha"].(type) {
	case string:
		var pts []float32
		if argsOf(q)["post_training_scale"] != nil {
			if pts, err = floatList(argsOf(q)["post_training_scale"], ch); err != nil {
				return fmt.Errorf("post_training_scale: %w", err)
			}
		}
		autoBits(q, x, ch, out, alpha, bits, m, mi, pts)
		return nil
	case nil, float64, bool:
		if argsOf(q)["post_training_scale"] != nil {
			return fmt.Errorf("post_training_scale needs alpha=\"auto\" or \"auto_po2\"")
		}
		scale := float32(1)
		if a, ok := Num(q, "alpha"); ok && alpha != nil {
			scale = float32(a)
		}
		for i, v := range x {
			var xq float32
			if unsigned > 0 {
				p := float32(float32(v*m) / mi)
				c := clip(roundHE(p), float32(k*(-float64(m)+sym)), m-1)
				xq = float32(float32(mi*c) / m)
			} else {
				xq = sign1(v)
				if k == 0 {
					xq = float32(xq+1) / 2
				}
			}
			if scale != 1 {
				xq = float32(scale * xq)
			}
			out[i] = ste(q, v, xq)
		}
		return nil
	default:
		return fmt.Errorf("alpha %v is not supported", alpha)
	}
}

// autoZ is QKeras's symmetric auto-scale code: sign(x)·min(floor(|x|/s + 0.5), levels/2).
func autoZ(v, s, half float32) float32 {
	if s == 0 || math.IsNaN(float64(s)) {
		return 0
	}
	r := float32(math.Floor(float64(float32(float32(float32(math.Abs(float64(v)))/s) + 0.5))))
	if !(r < half) {
		r = half
	}
	return tfSign(v) * r
}

// floatList reads a scalar or a list of 1 or ch numbers (nested lists flattened).
func floatList(v any, ch int) ([]float32, error) {
	var out []float32
	var walk func(any) error
	walk = func(v any) error {
		switch t := normalise(v).(type) {
		case float64:
			out = append(out, float32(t))
		case []any:
			for _, e := range t {
				if err := walk(e); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("want numbers, got %v", v)
		}
		return nil
	}
	if err := walk(v); err != nil {
		return nil, err
	}
	if len(out) != 1 && len(out) != ch {
		return nil, fmt.Errorf("%d values for %d channels", len(out), ch)
	}
	return out, nil
}

// autoBits is quantized_bits with alpha "auto"/"auto_po2"; pts, when set,
// is the frozen post_training_scale (the scale is then not recomputed).
func autoBits(q *ir.Quantizer, x []float32, ch int, out []float32, alpha string, bits float64, m, mi float32, pts []float32) {
	levels := float32(2 * (math.Ldexp(1, int(bits)-1) - 1))
	half := levels / 2
	xs := make([]float32, len(x))
	mx := make([]float32, ch)
	for i, v := range x {
		xs[i] = float32(v / mi)
		if a := float32(math.Abs(float64(xs[i]))); a > mx[i%ch] {
			mx[i%ch] = a
		}
	}
	s := make([]float32, ch)
	for c := range s {
		s[c] = float32(float32(mx[c]*2) / levels)
		if pts != nil {
			s[c] = float32(pts[min(c, len(pts)-1)] / m)
		}
	}
	if alpha == "auto_po2" && pts == nil {
		for c := range s {
			s[c] = po2Round(s[c])
		}
		z := make([]float32, len(x))
		for it := 0; it < 5; it++ {
			for i, v := range xs {
				z[i] = autoZ(v, s[i%ch], half)
			}
			s = leastSquares(xs, z, ch, true)
		}
	}
	for i, v := range xs {
		z := autoZ(v, s[i%ch], half)
		sm := float32(s[i%ch] * m)
		xq := float32(sm * float32(float32(mi*z)/m))
		xv := float32(mi * v)
		out[i] = ste(q, xv, xq)
	}
}

// leastSquares is QKeras _get_least_squares_scale: mean(x·q)/(mean(q·q)+eps), po2-rounded if asked.
func leastSquares(x, qv []float32, ch int, po2 bool) []float32 {
	qx := channelMean(len(x), ch, func(i int) float32 { return float32(x[i] * qv[i]) })
	qq := channelMean(len(x), ch, func(i int) float32 { return float32(qv[i] * qv[i]) })
	s := make([]float32, ch)
	for c := range s {
		s[c] = float32(qx[c] / float32(qq[c]+eps))
		if po2 {
			s[c] = po2Round(s[c])
		}
	}
	return s
}

// quantizedRelu is QKeras quantized_relu with is_quantized_clip=True (the
// only value after a reload), including use_sigmoid and a power-of-two
// negative_slope; the hard sigmoid is QKeras's default internal sigmoid.
func quantizedRelu(q *ir.Quantizer, x, out []float32) error {
	bits, err := intArg(q, "bits", 1, 32)
	if err != nil {
		return err
	}
	integer, err := intArg(q, "integer", -32, 32)
	if err != nil {
		return err
	}
	ns64, _ := Num(q, "negative_slope")
	if ns64 < 0 || ns64 != 0 && func() bool { fr, _ := math.Frexp(ns64); return fr != 0.5 }() {
		return fmt.Errorf("negative_slope must be 0 or a positive power of two, got %v", ns64)
	}
	ns := float32(ns64)
	nsb := bits
	if ns != 0 {
		nsb--
	}
	m := float32(math.Ldexp(1, int(nsb)))
	mi := float32(math.Ldexp(1, int(integer)))
	mf := float32(math.Ldexp(1, int(integer-nsb)))
	top := float32(1 - float32(1/m))
	upper := float32(mi - mf)
	sigmoid := Bool(q, "use_sigmoid")
	var negFactor float32
	if ns > 0 {
		negFactor = float32(1 / float32(ns*m))
	}
	for i, v := range x {
		xu := upper
		if v <= upper {
			xu = leakyRelu(v, ns)
		}
		var xq float32
		if sigmoid {
			h := clip(float32(float32(0.5*float32(v/mi))+0.5), 0, 1)
			p := float32(h * m)
			xq = float32(mi * clip(float32(float32(2*float32(roundHE(p)/m))-1), 0, top))
			if ns > 0 {
				n := clip(float32(float32(2*float32(roundHE(float32(p*ns))*negFactor))-1), -1, 0)
				xq = float32(xq + float32(float32(mi*ns)*n))
			}
		} else {
			p := float32(float32(v*m) / mi)
			xq = float32(mi * clip(float32(roundHE(p)/m), 0, top))
			if ns > 0 {
				n := clip(float32(roundHE(float32(p*ns))*negFactor), -1, 0)
				xq = float32(xq + float32(float32(mi*ns)*n))
			}
		}
		out[i] = ste(q, xu, xq)
	}
	return nil
}

// leakyRelu is K.relu(x, alpha): relu(x) − alpha·relu(−x).
func leakyRelu(v, alpha float32) float32 {
	if v >= 0 {
		return v
	}
	if alpha == 0 {
		return 0
	}
	return float32(0 - float32(alpha*(-v)))
}

func quantizedTanh(q *ir.Quantizer, x, out []float32) {
	bits, _ := Num(q, "bits")
	m := float32(math.Ldexp(1, int(bits)-1))
	sym := float32(0)
	if Bool(q, "symmetric") {
		sym = 1
	}
	lo := float32(-1 + float32(sym/m))
	hi := float32(1 - float32(1/m))
	real := Bool(q, "use_real_tanh")
	for i, v := range x {
		var p float32
		if real {
			p = float32(math.Tanh(float64(v)))
		} else {
			h := clip(float32(float32(0.5*v)+0.5), 0, 1)
			p = float32(float32(2*h) - 1)
		}
		out[i] = clip(float32(roundHE(float32(p*m))/m), lo, hi)
	}
}

func binary(q *ir.Quantizer, x []float32, ch int, out []float32) error {
	use01 := q.Class == "binary" && Bool(q, "use_01")
	k := make([]float32, len(x))
	for i, v := range x {
		k[i] = sign1(v)
		if use01 {
			k[i] = float32(k[i]+1) / 2
		}
	}
	switch alpha := argsOf(q)["alpha"].(type) {
	case nil:
		for i, v := range x {
			t := float32(math.Tanh(float64(v)))
			out[i] = float32(t + float32(k[i]-t))
		}
	case float64, bool:
		a, _ := Num(q, "alpha")
		for i, v := range x {
			out[i] = float32(v + float32(float32(float32(a)*k[i])-v))
		}
	case string:
		s := leastSquares(x, k, ch, alpha == "auto_po2")
		for i, v := range x {
			out[i] = float32(v + float32(float32(s[i%ch]*k[i])-v))
		}
	default:
		return fmt.Errorf("alpha %v is not supported", alpha)
	}
	return nil
}

func ternary(q *ir.Quantizer, x []float32, ch int, out []float32) error {
	tq := func(v, thr float32) float32 {
		if float32(math.Abs(float64(v))) >= thr {
			return tfSign(v)
		}
		return 0
	}
	switch alpha := argsOf(q)["alpha"].(type) {
	case nil, float64, bool:
		thr := float32(0.33)
		if t, ok := Num(q, "threshold"); ok {
			thr = float32(t)
		} else if argsOf(q)["threshold"] != nil {
			return fmt.Errorf("threshold %v is not supported with a fixed alpha", argsOf(q)["threshold"])
		}
		for i, v := range x {
			qv := tq(v, thr)
			if alpha == nil {
				t := float32(math.Tanh(float64(v)))
				out[i] = float32(t + float32(qv-t))
			} else {
				a, _ := Num(q, "alpha")
				out[i] = float32(v + float32(float32(float32(a)*qv)-v))
			}
		}
		return nil
	case string:
		if argsOf(q)["threshold"] != nil {
			return fmt.Errorf("threshold must be None with alpha=%q", alpha)
		}
		po2 := alpha == "auto_po2"
		mx := make([]float32, ch)
		for i, v := range x {
			if a := float32(math.Abs(float64(v))); a > mx[i%ch] {
				mx[i%ch] = a
			}
		}
		s := make([]float32, ch)
		for c := range s {
			s[c] = float32(float32(2*mx[c]) / 3)
			if po2 {
				s[c] = po2Round(s[c])
			}
		}
		n, err := intArg(q, "number_of_unrolls", 0, 100)
		if err != nil {
			return err
		}
		qv := make([]float32, len(x))
		quant := func() {
			for i, v := range x {
				sc := s[i%ch]
				if sc == 0 {
					qv[i] = 0
					continue
				}
				r := float32(sc * roundHE(float32(v/sc)))
				if float32(math.Abs(float64(r))) >= float32(sc/2) {
					qv[i] = tfSign(v)
				} else {
					qv[i] = 0
				}
			}
		}
		for it := 0; it < int(n); it++ {
			quant()
			s = leastSquares(x, qv, ch, po2)
		}
		quant()
		for i, v := range x {
			out[i] = float32(v + float32(float32(s[i%ch]*qv[i])-v))
		}
		return nil
	}
	return fmt.Errorf("alpha %v is not supported", argsOf(q)["alpha"])
}

func po2(q *ir.Quantizer, x, out []float32) error {
	bits, err := intArg(q, "bits", 1, 8)
	if err != nil {
		return err
	}
	if r, _ := Str(q, "log2_rounding"); r != "rnd" {
		return fmt.Errorf("log2_rounding=%q is not supported; use \"rnd\"", r)
	}
	var maxv *float32
	needSign := 1.0
	if mv, ok := Num(q, "max_value"); ok {
		if mv < 0 {
			return fmt.Errorf("max_value must be non-negative, got %v", mv)
		}
		f := float32(mv)
		maxv = &f
		if mv <= 1 {
			needSign = 0
		}
	} else if argsOf(q)["max_value"] != nil {
		return fmt.Errorf("max_value must be a number or None, got %v", argsOf(q)["max_value"])
	}
	quad := Bool(q, "quadratic_approximation")
	relu := q.Class == "quantized_relu_po2"
	eb := bits - 1 - needSign
	if relu {
		eb = bits - needSign
	}
	minExp := -math.Ldexp(1, int(eb))
	maxExp := math.Ldexp(1, int(eb)) - 1
	if quad {
		maxExp = 2 * math.Floor(maxExp/2)
	}
	ns, _ := Num(q, "negative_slope")
	if relu && ns != 0 {
		return fmt.Errorf("negative_slope=%v is not supported; use 0", ns)
	}
	clipExp := func(a float32) float32 {
		if a < eps {
			return float32(minExp)
		}
		xf := a
		if maxv != nil && xf >= *maxv {
			xf = *maxv
		}
		qf := float32(1)
		if quad {
			qf = 2
			xf = float32(math.Sqrt(float64(xf)))
		}
		l := roundHE(float32(logf(xf) / float32(math.Ln2)))
		return qf * clip(l, float32(minExp), float32(maxExp))
	}
	for i, v := range x {
		if relu {
			xr := v
			if xr < 0 {
				xr = 0
			}
			if maxv != nil && v > *maxv {
				xr = *maxv
			}
			xq := pow2f(float64(clipExp(xr)))
			out[i] = ste(q, xr, xq)
			continue
		}
		a := float32(math.Abs(float64(v)))
		xq := sign1(v) * pow2f(float64(clipExp(a)))
		out[i] = ste(q, v, xq)
	}
	return nil
}
