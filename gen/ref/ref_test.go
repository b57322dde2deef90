package ref

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir/dtype"
)

func TestQuantizeTiesAndClamp(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want int32
	}{
		{0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {-2.5, -2}, {126.5, 126}, {127.5, 127},
		{1000, 127}, {-1000, -128}, {float32(math.Inf(1)), 127}, {float32(math.NaN()), -128}, {0.49999997, 0},
	} {
		if got := Quantize(c.v, -128, 127); got != c.want {
			t.Errorf("Quantize(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

// TestBinaryDotIsXorPopcount checks the s1 x s1 reference (a sum of ±1
// products) against K - 2*popcount(x xor w) on packed rows.
func TestBinaryDotIsXorPopcount(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	k, _ := matrix.Find(matrix.Dense, dtype.S1, dtype.S1, dtype.F32)
	for _, n := range []int{1, 31, 32, 33, 63, 65, 200} {
		x, w := NewBuf(dtype.S1, 1, n), NewBuf(dtype.S1, 1, n)
		for i := 0; i < n; i++ {
			SetBit(x.S1, 0, i, uint32(r.IntN(2)))
			SetBit(w.S1, 0, i, uint32(r.IntN(2)))
		}
		y, err := Dense(k, DenseParams{InN: int32(n), OutN: 1}, x, w, &OutputStage{})
		if err != nil {
			t.Fatal(err)
		}
		pc := 0
		for j := range x.S1 {
			pc += bits.OnesCount32(x.S1[j] ^ w.S1[j])
		}
		if want := float32(n - 2*pc); y.F32[0] != want {
			t.Errorf("n=%d: dot %v, want %v", n, y.F32[0], want)
		}
	}
}

// TestFloatOrder checks that float accumulation follows the canonical order
// with one rounding per step (no fused multiply-add).
func TestFloatOrder(t *testing.T) {
	k, _ := matrix.Find(matrix.Dense, dtype.F32, dtype.F32, dtype.F32)
	x := Buf{T: dtype.F32, F32: []float32{1 << 24, 1, 1}}
	w := Buf{T: dtype.F32, F32: []float32{1, 1, 1}}
	y, err := Dense(k, DenseParams{InN: 3, OutN: 1}, x, w, &OutputStage{})
	if err != nil {
		t.Fatal(err)
	}
	if y.F32[0] != 1<<24 { // (2^24 + 1) rounds to 2^24 twice
		t.Errorf("got %v, want 2^24", y.F32[0])
	}
}

// TestRowSumsOrder pins the order of the f32 x s1 depthwise sum (RowSums):
// kernel rows first. Summed tap by tap, 2^24 + 1 + 1 would round to 2^24
// twice; the second row's own sum 1 + 1 = 2 is added exactly.
func TestRowSumsOrder(t *testing.T) {
	p := ConvParams{InH: 3, InW: 3, InC: 1, OutH: 1, OutW: 1, OutC: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		DilH: 1, DilW: 1, DepthMultiplier: 1, PoolH: 1, PoolW: 1}
	in := Buf{T: dtype.F32, F32: []float32{1 << 24, 0, 0, 1, 1, 0, 0, 0, 0}}
	w := Buf{T: dtype.S1, S1: make([]uint32, 9)} // all +1
	for _, c := range []struct {
		k    matrix.Kernel
		want float32
	}{
		{matrix.Kernel{Op: matrix.DWConv2D, In: dtype.F32, W: dtype.S1, Out: dtype.F32}, 1<<24 + 2},
		{matrix.Kernel{Op: matrix.DWConv2D, In: dtype.F32, W: dtype.F32, Out: dtype.F32}, 1 << 24},
	} {
		wb := w
		if c.k.W == dtype.F32 {
			wb = Buf{T: dtype.F32, F32: []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}}
		}
		y, err := Conv(c.k, p, in, wb, &OutputStage{})
		if err != nil {
			t.Fatal(err)
		}
		if y.F32[0] != c.want {
			t.Errorf("%s: got %v, want %v", c.k.Name(), y.F32[0], c.want)
		}
	}
}

// TestPadValueConv checks pad-value padding of an s1 conv by hand: a 1x1
// input, 3x3 kernel, same padding, pad value -1: eight padded taps of -1.
func TestPadValueConv(t *testing.T) {
	k, _ := matrix.Find(matrix.Conv2D, dtype.S1, dtype.S1, dtype.F32)
	p := ConvParams{InH: 1, InW: 1, InC: 1, OutH: 1, OutW: 1, OutC: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		DilH: 1, DilW: 1, PadTop: 1, PadLeft: 1, PadMode: PadValueMode, PadValue: -1, PoolH: 1, PoolW: 1}
	in := Buf{T: dtype.S1, S1: []uint32{0}}                        // +1
	w := Buf{T: dtype.S1, S1: []uint32{0, 0, 0, 0, 0, 0, 0, 0, 1}} // all +1 but the last tap
	y, err := Conv(k, p, in, w, &OutputStage{})
	if err != nil {
		t.Fatal(err)
	}
	// centre tap: +1*+1; padded taps: 7 of (-1*+1) and one (-1*-1)
	if want := float32(1 - 7 + 1); y.F32[0] != want {
		t.Errorf("got %v, want %v", y.F32[0], want)
	}
	p.PadMode = 0
	if y, _ = Conv(k, p, in, w, &OutputStage{}); y.F32[0] != 1 {
		t.Errorf("zero padding: got %v, want 1", y.F32[0])
	}
}

func TestErrors(t *testing.T) {
	k, _ := matrix.Find(matrix.Dense, dtype.S1, dtype.S1, dtype.S1)
	x := NewBuf(dtype.S1, 1, 8)
	if _, err := Dense(k, DenseParams{InN: 8, OutN: 2}, x, x, &OutputStage{}); err == nil {
		t.Error("s1 output without thresholds and short weights accepted")
	}
	if _, err := Dense(k, DenseParams{InN: 0, OutN: 2}, x, x, &OutputStage{ThrI: []int32{0, 0}}); err == nil {
		t.Error("in_n 0 accepted")
	}
	wrong, _ := matrix.Find(matrix.Dense, dtype.F32, dtype.S1, dtype.S1)
	if _, err := Dense(wrong, DenseParams{InN: 8, OutN: 1}, x, x, &OutputStage{ThrF: []float32{0}}); err == nil {
		t.Error("s1 input passed to an f32 kernel accepted")
	}
}

// TestScaledS1: an f32 x s8 -> s1 sum whose products with the codes overflow
// (3.2e39 each: Inf + Inf - Inf is NaN) takes the sign of Keras's float
// path on the rescued sum, 1e38/2 + 1e38/2 - 1e38/2 = 5e37, plus the offset
// and batch norm; the thresholds alone would give -1 for the NaN.
func TestScaledS1(t *testing.T) {
	k, _ := matrix.Find(matrix.Dense, dtype.F32, dtype.S8, dtype.S1)
	in := Buf{T: dtype.F32, F32: []float32{1e38, 1e38, -1e38}}
	w := Buf{T: dtype.S8, S8: []int8{32, 32, 32, 32, 32, 32, 32, 32, 32}}
	const m = float32(1.0 / 64)
	os := &OutputStage{
		Mul: []float32{m, -m, m}, Add: []float32{-1, -1, 0},
		BNSub: []float32{0, 0, 6e37}, BNMul: []float32{1, 1, 0.5}, BNAdd: []float32{0, 0, 0},
		// acc >= (bn_sub - add) / mul, <= when mul < 0, as folded for finite
		// sums (channel 2: 3.84e39, above every finite acc: always -1)
		ThrF: []float32{64, -64, float32(math.Inf(1))}, Flip: []uint32{0b010},
	}
	out, err := Dense(k, DenseParams{InN: 3, OutN: 3}, in, w, os)
	if err != nil {
		t.Fatal(err)
	}
	// channel 0: 5e37 - 1 >= 0 (+1); 1: -5e37 - 1 < 0 (-1); 2: (5e37 - 6e37) * 0.5 < 0 (-1)
	if got, want := out.S1[0], uint32(0b110); got != want {
		t.Errorf("bits %03b, want %03b", got, want)
	}
	os.Mul = nil // no multiplier: not rescued, the NaN fails every threshold
	if out, err = Dense(k, DenseParams{InN: 3, OutN: 3}, in, w, os); err != nil {
		t.Fatal(err)
	}
	if got, want := out.S1[0], uint32(0b111); got != want {
		t.Errorf("without mul: bits %03b, want %03b", got, want)
	}
}
