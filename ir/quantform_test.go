package ir

import (
	"math"
	"strings"
	"testing"
)

func TestTernaryInexact(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		t    Ternary
		want string // substring of the reason; "" = exact
	}{
		{Ternary{Threshold: 0.33, Scale: 1}, ""},
		{Ternary{Threshold: 0.25, Scale: 0.5}, ""},
		{Ternary{Threshold: 0.25, Scale: math.Ldexp(1, -140)}, ""}, // a float32 subnormal power of two
		{Ternary{Threshold: 0.25, ScaleFromData: "auto"}, "alpha=auto is computed from the data"},
		{Ternary{Threshold: 0.05, Scale: 1, ThresholdFromData: "twn"}, "threshold is computed from the data (twn)"},
		{Ternary{Threshold: 0.25, Scale: 0.3}, "alpha=0.3 is not a power of two"},
		{Ternary{Threshold: 0.25, Scale: math.Ldexp(1, 200)}, "is not a power of two"}, // not a float32
		{Ternary{Threshold: 0, Scale: 1}, "threshold=0 is not positive"},
		{Ternary{Threshold: math.NaN(), Scale: 1}, "is not positive"},
	} {
		got := c.t.Inexact()
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%+v.Inexact() = %q, want %q", c.t, got, c.want)
		}
	}
}

func TestUniformRange(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		u           Uniform
		lo, hi, tie float64
		leaky       bool
	}{
		{Uniform{Bits: 4, Signed: true, Step: 0.25, Max: 2}, -2, 2, 0.25, false},
		{Uniform{Bits: 8, Relu: true, Step: 1.0 / 256, Max: 1}, 0, 1, 1.0 / 256, false},
		{Uniform{Bits: 8, Relu: true, Step: 1.0 / 128, Max: 1, NegativeSlope: 0.5}, 0, 1, 1.0 / 128, true},
		{Uniform{Bits: 4, Signed: true, Step: 0.3, Max: 2.4}, -2.4, 2.4, 0, false}, // no exact ties
		{Uniform{Bits: 1, Signed: true, Step: 1, Max: 1}, -1, 1, 0, false},         // no positive code
		{Uniform{Bits: 8, Signed: true, StepFromData: "auto", Max: 1}, -1, 1, 0, false},
	} {
		lo, hi := c.u.Range()
		if lo != c.lo || hi != c.hi || c.u.TieStep() != c.tie || c.u.Leaky() != c.leaky {
			t.Errorf("%+v: range [%g, %g] tie step %g leaky %v, want [%g, %g] %g %v", c.u, lo, hi, c.u.TieStep(), c.u.Leaky(), c.lo, c.hi, c.tie, c.leaky)
		}
	}
	for _, c := range []struct {
		p      PowerOfTwo
		lo, hi float64
	}{
		{PowerOfTwo{Bits: 4}, -1, 1},
		{PowerOfTwo{Bits: 4, Max: 4}, -4, 4},
		{PowerOfTwo{Bits: 4, Relu: true, Max: 2}, 0, 2},
	} {
		if lo, hi := c.p.Range(); lo != c.lo || hi != c.hi {
			t.Errorf("%+v: range [%g, %g], want [%g, %g]", c.p, lo, hi, c.lo, c.hi)
		}
	}
}
