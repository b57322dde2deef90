package passes

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dqnn/dqnn/ir"
)

func randomStage(r *rand.Rand, c int) *ir.Stage {
	st := &ir.Stage{}
	if r.IntN(2) == 0 {
		st.Bias = make([]float32, c)
		for i := range st.Bias {
			st.Bias[i] = float32(r.NormFloat64() * 3)
		}
	}
	st.Relu = r.IntN(4) == 0
	bn := &ir.BatchNormAttrs{Epsilon: 1e-3, Fused: r.IntN(2) == 0}
	for i := 0; i < c; i++ {
		g := float32(r.NormFloat64())
		switch i % 5 {
		case 3:
			g = 0 // constant channel
		case 4:
			g = float32(math.Copysign(0, -1))
		}
		bn.Gamma = append(bn.Gamma, g)
		bn.Beta = append(bn.Beta, float32(r.NormFloat64()*2))
		bn.Mean = append(bn.Mean, float32(r.NormFloat64()*20))
		bn.Variance = append(bn.Variance, float32(r.Float64()*50+1e-4))
	}
	st.BN = bn
	return st
}

// TestThresholdIntExhaustive checks, for random stages (bias, relu, fused
// and rank-2 batch-norm with negative, zero and -0 gammas) and every
// integer accumulator of a binary layer, that the threshold and flip give
// the same sign as Keras's float32 expression.
func TestThresholdIntExhaustive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		const c, k = 10, 600
		st := randomStage(r, c)
		mul := float32(1)
		if trial%3 == 0 {
			mul = 1.0 / 64 // s8 input scale (power of two)
		}
		for ch := 0; ch < c; ch++ {
			pos := func(acc int64) bool { return evalStage(st, ch, float32(float32(acc)*mul)) >= 0 }
			thr, flip := thresholdInt(pos)
			for acc := int64(-k); acc <= k; acc++ {
				got := acc >= int64(thr)
				if flip {
					got = acc <= int64(thr)
				}
				if got != pos(acc) {
					t.Fatalf("trial %d channel %d acc %d: threshold %d flip %v says %v, Keras's expression %v", trial, ch, acc, thr, flip, got, pos(acc))
				}
			}
		}
	}
}

// TestThresholdFloat checks float thresholds on random accumulators and on
// the float32 neighbours of each threshold, where an off-by-one-ulp search
// would show.
func TestThresholdFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		const c = 10
		st := randomStage(r, c)
		for ch := 0; ch < c; ch++ {
			pos := func(acc float32) bool { return evalStage(st, ch, acc) >= 0 }
			thr, flip := thresholdFloat(pos)
			check := func(acc float32) {
				got := acc >= thr
				if flip {
					got = acc <= thr
				}
				if got != pos(acc) {
					t.Fatalf("trial %d channel %d acc %v: threshold %v flip %v says %v, Keras's expression %v", trial, ch, acc, thr, flip, got, pos(acc))
				}
			}
			for i := 0; i < 2000; i++ {
				check(float32(r.NormFloat64() * 100))
			}
			if !math.IsInf(float64(thr), 0) {
				x := thr
				for i := 0; i < 4; i++ {
					x = math.Nextafter32(x, float32(math.Inf(-1)))
				}
				for i := 0; i < 8; i++ {
					check(x)
					x = math.Nextafter32(x, float32(math.Inf(1)))
				}
			}
		}
	}
}

// TestConstantChannels: gamma = 0 gives a constant sign decided by beta.
func TestConstantChannels(t *testing.T) {
	for _, beta := range []float32{-1, 0, 1} {
		st := &ir.Stage{BN: &ir.BatchNormAttrs{Gamma: []float32{0}, Beta: []float32{beta}, Mean: []float32{3}, Variance: []float32{2}, Epsilon: 1e-3, Fused: true}}
		thr, flip := thresholdInt(func(acc int64) bool { return evalStage(st, 0, float32(acc)) >= 0 })
		want := int32(math.MaxInt32)
		if beta >= 0 {
			want = math.MinInt32
		}
		if thr != want || flip {
			t.Errorf("beta %v: threshold %d flip %v, want %d false", beta, thr, flip, want)
		}
	}
}

func TestInvScale(t *testing.T) {
	for _, c := range []struct{ scale, want float32 }{{1.0 / 128, 128}, {float32(1.0 / 255), 255}, {0.5, 2}, {0.3, float32(1 / 0.3)}} {
		if got := InvScale(c.scale); got != c.want {
			t.Errorf("InvScale(%v) = %v, want %v", c.scale, got, c.want)
		}
	}
}

// TestTernMultiplier checks SteTern(Δ) = clamp(round_he(fl32(x·m)), -1, 1)
// around ±Δ (ulp by ulp), near 0 and on random values, for several Δ.
func TestTernMultiplier(t *testing.T) {
	tern := func(x, d float32) float64 {
		s := func(v float32) float32 {
			switch {
			case v > 0:
				return 1
			case v < 0:
				return -1
			}
			return 0
		}
		return float64(s(s(float32(x+d)) + s(float32(x-d))))
	}
	r := rand.New(rand.NewPCG(8, 9))
	for _, d := range []float32{0.5, 0.25, 1, 0.3, 0.05, 0.33, 0.7, 3} {
		m, ok := ternMultiplier(d)
		if !ok {
			t.Errorf("Δ=%v: no multiplier", d)
			continue
		}
		check := func(x float32) {
			got := math.Max(-1, math.Min(1, roundHE(float32(x*m))))
			if got != tern(x, d) {
				t.Fatalf("Δ=%v m=%v x=%v: %v, SteTern %v", d, m, x, got, tern(x, d))
			}
		}
		for _, c := range []float32{d, -d, 0} {
			x := c
			for i := 0; i < 40; i++ {
				x = math.Nextafter32(x, float32(math.Inf(-1)))
			}
			for i := 0; i < 80; i++ {
				check(x)
				x = math.Nextafter32(x, float32(math.Inf(1)))
			}
		}
		for i := 0; i < 20000; i++ {
			check(float32(r.NormFloat64()) * d * 2)
		}
	}
}
