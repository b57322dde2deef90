// Package validate proves that a generated C library computes what the
// reference interpreter computes: it builds a runner program around the
// library for the host or an emulated Cortex-M, feeds it inputs, and
// compares every output (and, with per-layer tracing, every intermediate
// tensor) with package interp. Quantized (s1/s8) tensors must match bit for
// bit, float32 tensors within tolerances.
package validate

import (
	"encoding/json"
	"fmt"
	"math"
)

// Metrics compares one output over all samples.
type Metrics struct {
	Samples int     // number of samples
	Size    int     // elements per sample
	Acc     float64 // fraction of samples whose argmax agrees (classifier outputs; NaN if Size < 2)
	RMSE    float64 // root mean square error
	MAE     float64 // mean absolute error
	L2R     float64 // ||got - want|| / ||want|| (0 when both are zero, +Inf when only want is)
	Cos     float64 // cosine similarity (1 when both are zero)
	MaxAbs  float64 // largest absolute error
	// Worst is the element with the largest excess over the element-wise
	// tolerance |got-want| <= ATol + RTol*|want| (-1 if every element is within).
	Worst     int
	Exceeding int // elements outside the element-wise tolerance
	NaN       int // elements where exactly one side is NaN, or both differ in sign of infinity
}

// Tolerances are the pass criteria for float32 outputs. Quantized outputs
// (s1, s8) are always compared exactly.
type Tolerances struct {
	RTol   float64 `json:"rtol"`    // element-wise relative tolerance
	ATol   float64 `json:"atol"`    // element-wise absolute tolerance
	MaxL2R float64 `json:"max_l2r"` // largest accepted L2R
	MinAcc float64 `json:"min_acc"` // smallest accepted argmax agreement (ties within tolerance count as agreement)
	MinCos float64 `json:"min_cos"` // smallest accepted cosine similarity
}

// DefaultTolerances are what `dqnn validate` uses unless told otherwise.
// The C kernels perform the interpreter's float32 operations in the same
// order, so results differ only where libm differs (expf, tanhf in newlib vs
// glibc, at most an ulp or two); the defaults leave room for that and
// nothing more.
var DefaultTolerances = Tolerances{RTol: 1e-5, ATol: 1e-6, MaxL2R: 1e-5, MinAcc: 1, MinCos: 0.99999}

// Compare computes the metrics of got against want, two arrays of samples
// samples of size elements each, with tol deciding the element-wise
// tolerance and argmax ties.
func Compare(got, want []float32, samples, size int, tol Tolerances) (Metrics, error) {
	if samples*size != len(want) || len(got) != len(want) {
		return Metrics{}, fmt.Errorf("compare: %d and %d values for %d samples of %d", len(got), len(want), samples, size)
	}
	m := Metrics{Samples: samples, Size: size, Worst: -1, Acc: math.NaN()}
	var se, ae, gg, ww, gw float64
	worst := 0.0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsNaN(w) || math.IsInf(g, 0) || math.IsInf(w, 0) {
			if !(math.IsNaN(g) && math.IsNaN(w)) && g != w {
				m.NaN++
				m.Exceeding++
				if m.Worst < 0 || worst < math.Inf(1) {
					m.Worst, worst = i, math.Inf(1)
				}
				m.MaxAbs = math.Inf(1)
			}
			continue
		}
		d := math.Abs(g - w)
		se += d * d
		ae += d
		gg += g * g
		ww += w * w
		gw += g * w
		m.MaxAbs = math.Max(m.MaxAbs, d)
		if ex := d - (tol.ATol + tol.RTol*math.Abs(w)); ex > 0 {
			m.Exceeding++
			if ex > worst {
				m.Worst, worst = i, ex
			}
		}
	}
	n := float64(len(want))
	if n > 0 {
		m.RMSE = math.Sqrt(se / n)
		m.MAE = ae / n
	}
	switch {
	case ww > 0:
		m.L2R = math.Sqrt(se) / math.Sqrt(ww)
	case se > 0:
		m.L2R = math.Inf(1)
	}
	switch {
	case gg > 0 && ww > 0:
		m.Cos = gw / (math.Sqrt(gg) * math.Sqrt(ww))
	case gg == 0 && ww == 0:
		m.Cos = 1
	}
	if size >= 2 && samples > 0 {
		agree := 0
		for s := 0; s < samples; s++ {
			if argmaxAgrees(got[s*size:(s+1)*size], want[s*size:(s+1)*size], tol) {
				agree++
			}
		}
		m.Acc = float64(agree) / float64(samples)
	}
	return m, nil
}

// argmaxAgrees reports whether got's argmax is want's argmax, or a class
// whose reference score ties with the best one within the tolerance.
func argmaxAgrees(got, want []float32, tol Tolerances) bool {
	gi, wi := argmax(got), argmax(want)
	if gi == wi {
		return true
	}
	best := float64(want[wi])
	return math.Abs(float64(want[gi])-best) <= tol.ATol+tol.RTol*math.Abs(best)
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Failures lists which criteria m violates under tol (nil = pass).
func (m Metrics) Failures(tol Tolerances) []string {
	var f []string
	if m.NaN > 0 {
		f = append(f, fmt.Sprintf("%d NaN/Inf mismatches", m.NaN))
	}
	if m.Exceeding > 0 {
		f = append(f, fmt.Sprintf("%d of %d elements exceed |d| <= %g + %g*|ref|", m.Exceeding, m.Samples*m.Size, tol.ATol, tol.RTol))
	}
	if m.L2R > tol.MaxL2R {
		f = append(f, fmt.Sprintf("l2r %.3g > %g", m.L2R, tol.MaxL2R))
	}
	if m.Cos < tol.MinCos {
		f = append(f, fmt.Sprintf("cos %.7f < %g", m.Cos, tol.MinCos))
	}
	if !math.IsNaN(m.Acc) && m.Acc < tol.MinAcc {
		f = append(f, fmt.Sprintf("argmax agreement %.4f < %g", m.Acc, tol.MinAcc))
	}
	return f
}

// MarshalJSON writes the metrics with lower-case keys; non-finite values
// (acc of a non-classifier output, an infinite error) become null.
func (m Metrics) MarshalJSON() ([]byte, error) {
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		Samples   int      `json:"samples"`
		Size      int      `json:"size"`
		Acc       *float64 `json:"acc"`
		RMSE      *float64 `json:"rmse"`
		MAE       *float64 `json:"mae"`
		L2R       *float64 `json:"l2r"`
		Cos       *float64 `json:"cos"`
		MaxAbs    *float64 `json:"max_abs"`
		Worst     int      `json:"worst_element"`
		Exceeding int      `json:"exceeding"`
		NaN       int      `json:"nan_mismatches"`
	}{m.Samples, m.Size, num(m.Acc), num(m.RMSE), num(m.MAE), num(m.L2R), num(m.Cos), num(m.MaxAbs), m.Worst, m.Exceeding, m.NaN})
}
