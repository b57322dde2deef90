// Package ref is the Go reference of every dqnn C kernel: plain loops that
// state each kernel's semantics, written independently of the templates
// (it never renders or runs C). The test vectors in gen/vectors are its
// outputs, and the C kernels must reproduce them: s1 and s8 outputs bit for
// bit, f32 outputs to within rounding of libm functions.
//
// Float maths follows the project's numerics conventions: every operation is
// a float32 operation written with an explicit float32 conversion, so the Go
// compiler cannot fuse a*b+c, and sums run in the documented order.
package ref

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Buf is a tensor in C storage: exactly one of F32, S8, S1 is used, by T.
// S1 rows are packed as dq_types.h states (LSB first, bit 1 = -1, padding 0).
type Buf struct {
	T   dtype.DType
	F32 []float32
	S8  []int8
	S1  []uint32
}

// Len returns the number of storage elements of b.
func (b Buf) Len() int {
	switch b.T {
	case dtype.F32:
		return len(b.F32)
	case dtype.S8:
		return len(b.S8)
	case dtype.S1:
		return len(b.S1)
	}
	return 0
}

// NewBuf returns a zeroed buffer of type t holding rows rows of c channels.
func NewBuf(t dtype.DType, rows, c int) Buf {
	b := Buf{T: t}
	switch t {
	case dtype.F32:
		b.F32 = make([]float32, rows*c)
	case dtype.S8:
		b.S8 = make([]int8, rows*c)
	case dtype.S1:
		b.S1 = make([]uint32, rows*dtype.Words(c))
	}
	return b
}

// Bit returns bit i (1 = -1) of the packed row starting at word w0.
func Bit(words []uint32, w0, i int) uint32 { return (words[w0+i/32] >> (i % 32)) & 1 }

// SetBit sets bit i of the packed row starting at word w0 to v (0 or 1).
func SetBit(words []uint32, w0, i int, v uint32) {
	words[w0+i/32] = words[w0+i/32]&^(1<<(i%32)) | v<<(i%32)
}

// Pack packs ±1 values (v < 0 is -1, sign(0) = +1) of rows x c into s1 rows.
func Pack(vals []float32, rows, c int) []uint32 {
	b := NewBuf(dtype.S1, rows, c)
	for r := 0; r < rows; r++ {
		for i := 0; i < c; i++ {
			if !(vals[r*c+i] >= 0) {
				SetBit(b.S1, r*dtype.Words(c), i, 1)
			}
		}
	}
	return b.S1
}

// elem is one element as a kernel sees it: the integer value (s1: ±1, s8:
// the code, minus a zero point where one applies) or the float value.
type elem struct {
	i int32
	f float32
}

// get returns element i of row r (rows of c logical elements) of b; for s8 zp is subtracted.
func get(b Buf, r, c, i int, zp int32) elem {
	switch b.T {
	case dtype.F32:
		return elem{f: b.F32[r*c+i]}
	case dtype.S8:
		return elem{i: int32(b.S8[r*c+i]) - zp}
	default:
		if Bit(b.S1, r*dtype.Words(c), i) == 1 {
			return elem{i: -1}
		}
		return elem{i: 1}
	}
}

// asF32 is the float value of an element of type t.
func asF32(e elem, t dtype.DType) float32 {
	if t == dtype.F32 {
		return e.f
	}
	return float32(e.i)
}

// Acc is an accumulator: int32 (I) when the kernel accumulates in int32, float32 (F) otherwise.
type Acc struct {
	Int bool
	I   int32
	F   float32
}

// mac returns acc + x*w for the kernel's types. For int accumulators this
// is integer arithmetic (s1 operands are ±1, so s1 x s1 sums to
// K - 2*popcount(x xor w)); for float ones fl32(acc + fl32(x*w)), which for
// a ±1 operand is exactly acc ± the other operand.
func mac(acc Acc, x elem, xt dtype.DType, w elem, wt dtype.DType) Acc {
	if acc.Int {
		acc.I += x.i * w.i
		return acc
	}
	acc.F = float32(acc.F + float32(asF32(x, xt)*asF32(w, wt)))
	return acc
}

// Rescued reports whether kernel k with output stage os recomputes a
// non-finite float accumulator with scaled weights: f32 x s8 and f32 x s1
// kernels with a multiplier. The kernel sums x * w_code (s1: x * ±1) and
// multiplies by mul afterwards
// (s1 outputs: compares the sum with a threshold that has mul folded in),
// where Keras (and dqnn's interpreter) sums x * (w_code * scale): a product
// (s1: the sum) can overflow in the first form and not in the second
// (docs/semantics.md).
// Where the first form's sum is finite the two agree (mul a power of two);
// where it is not, the kernel computes the second form, and an s1 output
// then takes the sign of the float path (ScaledS1) instead of the threshold.
func Rescued(k matrix.Kernel, os *OutputStage) bool {
	return k.In == dtype.F32 && (k.W == dtype.S8 || k.W == dtype.S1) && os != nil && os.Mul != nil
}

// ScaledForm reports whether a rescued kernel (Rescued) computes channel o
// in Keras's form Σ x * fl32(w * mul[o]) for every sum, finite or not: where
// |mul[o]| > 1 Keras's products can overflow where the kernel's do not
// (x = (1e38, -1e38), codes (1, 1), scale 4: Keras NaN, the kernel's sum 0).
// Where neither form overflows the two agree (mul a power of two; scaling up
// makes no product subnormal, and a subnormal x * w is exact).
func ScaledForm(os *OutputStage, o int) bool {
	return os != nil && os.Mul != nil && (os.Mul[o] > 1 || os.Mul[o] < -1)
}

// macScaled is mac with the weight w of output channel o replaced by
// fl32(w * wmul[o]) when wmul is not nil (float accumulators only).
func macScaled(acc Acc, x elem, xt dtype.DType, w elem, wt dtype.DType, wmul []float32, o int) Acc {
	if wmul == nil {
		return mac(acc, x, xt, w, wt)
	}
	acc.F = float32(acc.F + float32(asF32(x, xt)*float32(asF32(w, wt)*wmul[o])))
	return acc
}

// greater reports a > b.
func greater(a, b Acc) bool {
	if a.Int {
		return a.I > b.I
	}
	return a.F > b.F
}

// OutputStage mirrors dq_output_stage; nil slices are C NULL pointers.
type OutputStage struct {
	Mul, Add            []float32
	Act                 int32
	BNSub, BNMul, BNAdd []float32
	OutInvScale         float32
	QMin, QMax, OutZP   int32
	ThrI                []int32
	ThrF                []float32
	Flip                []uint32
}

// ActRelu is DQ_ACT_RELU.
const ActRelu = 1

// Quantize is clamp(round_half_even(v), qmin, qmax); NaN gives qmin.
func Quantize(v float32, qmin, qmax int32) int32 {
	if math.IsNaN(float64(v)) {
		return qmin
	}
	r := math.RoundToEven(float64(v))
	if r < float64(qmin) {
		return qmin
	}
	if r > float64(qmax) {
		return qmax
	}
	return int32(r)
}

// checkStage reports an output stage the C kernel would reject (DQ_ERR_PARAM).
// A rescued kernel's s1 output stage (Rescued) also needs a whole batch
// norm (ScaledS1).
func checkStage(k matrix.Kernel, os *OutputStage, accInt bool) error {
	out := k.Out
	if out == dtype.S1 && Rescued(k, os) && os.BNMul != nil && (os.BNSub == nil || os.BNAdd == nil) {
		return fmt.Errorf("bn_mul set without bn_sub and bn_add")
	}
	if os == nil {
		return fmt.Errorf("output stage is missing")
	}
	switch out {
	case dtype.S1:
		if accInt && os.ThrI == nil || !accInt && os.ThrF == nil {
			return fmt.Errorf("s1 output needs thresholds (thr_i for int accumulators, thr_f for float ones)")
		}
	default:
		if os.BNMul != nil && (os.BNSub == nil || os.BNAdd == nil) {
			return fmt.Errorf("bn_mul set without bn_sub and bn_add")
		}
		if out == dtype.S8 && (os.QMin > os.QMax || os.QMin < -255 || os.QMax > 255 || os.QMin+os.OutZP < -128 || os.QMax+os.OutZP > 127) {
			return fmt.Errorf("s8 output: q range [%d, %d] + zero point %d leaves int8", os.QMin, os.QMax, os.OutZP)
		}
	}
	return nil
}

// Stage applies the output stage to accumulator acc of channel c and stores
// the result as element c of output row r (rows of n channels):
//
//	f32/s8: y = fl32(float(acc) * mul[c]); y = fl32(y + add[c]); relu: if y < 0 { y = 0 };
//	        bn: y = fl32(fl32(fl32(y - bn_sub[c]) * bn_mul[c]) + bn_add[c]);
//	        f32: out = y; s8: out = Quantize(fl32(y * out_inv_scale), q_min, q_max) + out_zp.
//	s1:     out = +1 if acc >= thr[c] (acc <= thr[c] when flip bit c is set), else -1.
//
// A rescued accumulator (Rescued) goes to Stage with mul removed; for an s1
// output it goes to ScaledS1 instead.
func Stage(os *OutputStage, acc Acc, c int, out Buf, r, n int) {
	if out.T == dtype.S1 {
		var ok bool
		flip := os.Flip != nil && Bit(os.Flip, 0, c) == 1
		if acc.Int {
			if flip {
				ok = acc.I <= os.ThrI[c]
			} else {
				ok = acc.I >= os.ThrI[c]
			}
		} else {
			if flip {
				ok = acc.F <= os.ThrF[c]
			} else {
				ok = acc.F >= os.ThrF[c]
			}
		}
		var bit uint32
		if !ok {
			bit = 1
		}
		SetBit(out.S1, r*dtype.Words(n), c, bit)
		return
	}
	y := acc.F
	if acc.Int {
		y = float32(acc.I)
	}
	y = floatPath(os, y, c)
	if out.T == dtype.F32 {
		out.F32[r*n+c] = y
		return
	}
	out.S8[r*n+c] = int8(Quantize(float32(y*os.OutInvScale), os.QMin, os.QMax) + os.OutZP)
}

// ScaledS1 stores, as bit c of s1 output row r, the sign of a rescued
// accumulator (the sum of x * fl32(w * mul[c]), Keras's r): the
// float path of Stage without the multiply, y = r + add[c], relu, batch
// norm, then +1 iff y >= 0 (NaN: -1), which is Keras's sign. The thresholds
// (and flip) cannot be used here: they hold for r = acc * mul with a finite
// acc only.
func ScaledS1(os *OutputStage, acc Acc, c int, out Buf, r, n int) {
	unscaled := *os
	unscaled.Mul = nil
	var bit uint32
	if !(floatPath(&unscaled, acc.F, c) >= 0) {
		bit = 1
	}
	SetBit(out.S1, r*dtype.Words(n), c, bit)
}

// floatPath is y after the multiplier, offset, relu and batch norm of os.
func floatPath(os *OutputStage, y float32, c int) float32 {
	if os.Mul != nil {
		y = float32(y * os.Mul[c])
	}
	if os.Add != nil {
		y = float32(y + os.Add[c])
	}
	if os.Act == ActRelu && y < 0 {
		y = 0
	}
	if os.BNMul != nil {
		y = float32(y - os.BNSub[c])
		y = float32(y * os.BNMul[c])
		y = float32(y + os.BNAdd[c])
	}
	return y
}

func checkType(k matrix.Kernel, op matrix.Op, bufs ...Buf) error {
	if _, ok := matrix.Find(k.Op, k.In, k.W, k.Out); !ok {
		return fmt.Errorf("kernel %s is not in the table", k.Name())
	}
	if k.Op != op && !(op == matrix.Conv2D && k.Op.IsConv()) && !(op == matrix.MaxPool && k.Op == matrix.AvgPool) && !(op == matrix.Relu && (k.Op == matrix.Softmax || k.Op == matrix.Tanh || k.Op == matrix.Sigmoid)) {
		return fmt.Errorf("kernel %s: wrong reference function", k.Name())
	}
	for i, b := range bufs {
		want := k.In
		if i == 1 && k.Op.HasWeights() {
			want = k.W
		}
		if b.T != want {
			return fmt.Errorf("kernel %s: operand %d is %s, want %s", k.Name(), i, b.T, want)
		}
	}
	return nil
}

func need(name string, have, want int) error {
	if have < want {
		return fmt.Errorf("%s has %d elements, want %d", name, have, want)
	}
	return nil
}
