// Package vectorgen draws the seeded random test vectors of every kernel in
// gen/matrix, runs the Go reference (gen/ref) on them and emits them as Go
// source with jennifer (gen/vectors/vectors_gen.go). The edge cases are
// chosen per family: channel counts around word boundaries (1, 31, 32, 33,
// 63, 65), kernel sizes 1/3/5, strides 1/2, valid and TF "same" padding,
// dilation 2, ±1 pad values and zero padding, fused 2x2 max-pool,
// thresholds exactly at an accumulator value, constant channels, flips,
// s8 saturation, round-half-even ties and negative or zero batch-norm scales;
// every kernel with float32 inputs also gets its smallest case again with
// EdgeValues as inputs (docs/semantics.md).
package vectorgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/ref"
	"github.com/dqnn/dqnn/ir/dtype"
)

// DefaultSeed is the seed of the committed vectors.
const DefaultSeed = 20261127

// gen holds the random source of one generation.
type gen struct {
	r *rand.Rand
}

// grid returns a float on a 1/16 grid in [-lim, lim]: short literals, exact
// sums, and s8 round-half-even ties once scaled by powers of two.
func (g *gen) grid(lim float32) float32 {
	n := int(lim * 16)
	return float32(g.r.IntN(2*n+1)-n) / 16
}

// fine returns a float with a full 24-bit mantissa in (-lim, lim), so that
// the order of float sums matters.
func (g *gen) fine(lim float32) float32 {
	return float32((g.r.Float64()*2 - 1) * float64(lim))
}

// buf draws rows x c elements of type t; f32 values on the grid unless fine.
func (g *gen) buf(t dtype.DType, rows, c int, fine bool) ref.Buf {
	b := ref.NewBuf(t, rows, c)
	switch t {
	case dtype.F32:
		for i := range b.F32 {
			if fine {
				b.F32[i] = g.fine(2)
			} else {
				b.F32[i] = g.grid(2)
			}
		}
	case dtype.S8:
		for i := range b.S8 {
			b.S8[i] = int8(g.r.IntN(256) - 128)
		}
	case dtype.S1:
		for r := 0; r < rows; r++ {
			for i := 0; i < c; i++ {
				ref.SetBit(b.S1, r*dtype.Words(c), i, uint32(g.r.IntN(2)))
			}
		}
	}
	return b
}

// stageKind selects which edge cases an output stage exercises.
type stageKind int

const (
	stagePlain    stageKind = iota // f32: mul/add; s8: ties; s1: boundary thresholds
	stageBN                        // f32/s8: relu + batch-norm with negative and zero scales; s1: flips
	stageSaturate                  // s8: large multipliers (clamping), zp != 0; s1: constant channels
)

// stage builds an output stage for n channels of kernel k. accs are
// accumulator values of the case (for thresholds exactly at an accumulator).
func (g *gen) stage(k matrix.Kernel, n int, accs []ref.Acc, kind stageKind) *ref.OutputStage {
	os := &ref.OutputStage{}
	intAcc := k.AccInt()
	switch k.Out {
	case dtype.S1:
		if intAcc {
			os.ThrI = make([]int32, n)
		} else {
			os.ThrF = make([]float32, n)
		}
		for c := 0; c < n; c++ {
			a := accs[(g.r.IntN(len(accs)/n))*n+c] // an accumulator of this channel
			mode := g.r.IntN(4)
			if kind == stageSaturate && c%3 == 0 {
				mode = 4 + c%2 // constant channel
			}
			if kind == stagePlain && c%5 == 4 {
				mode = 4 + (c/5)%2 // constant channel without flips (the kernels' no-flip fast paths)
			}
			if intAcc {
				switch mode {
				case 0, 1:
					os.ThrI[c] = a.I // exactly at the boundary
				case 2:
					os.ThrI[c] = a.I + int32(g.r.IntN(5)-2)
				case 3:
					os.ThrI[c] = int32(g.r.IntN(41) - 20)
				case 4:
					os.ThrI[c] = math.MinInt32
				case 5:
					os.ThrI[c] = math.MaxInt32
				}
			} else {
				switch mode {
				case 0, 1:
					os.ThrF[c] = a.F
				case 2:
					os.ThrF[c] = a.F + g.grid(1)
				case 3:
					os.ThrF[c] = g.grid(4)
				case 4:
					os.ThrF[c] = float32(math.Inf(-1))
				case 5:
					os.ThrF[c] = float32(math.Inf(1))
				}
			}
		}
		if kind != stagePlain {
			os.Flip = make([]uint32, dtype.Words(n))
			for c := 0; c < n; c++ {
				ref.SetBit(os.Flip, 0, c, uint32(g.r.IntN(2)))
			}
		}
		return os
	}
	// f32 / s8 outputs.
	pow2 := []float32{0.25, 0.5, 1, 2, -0.5}
	os.Mul = make([]float32, n)
	os.Add = make([]float32, n)
	for c := 0; c < n; c++ {
		if k.Out == dtype.S8 {
			os.Mul[c] = pow2[g.r.IntN(len(pow2))]
			os.Add[c] = float32(g.r.IntN(9)-4) / 2 // half-integers: ties
			if !intAcc {
				os.Mul[c] = pow2[g.r.IntN(len(pow2))] * 8
			}
			if kind == stageSaturate {
				os.Mul[c] *= 64
			}
		} else {
			os.Mul[c] = g.grid(2)
			os.Add[c] = g.grid(4)
		}
	}
	if kind == stageBN {
		os.Act = ref.ActRelu
		os.BNSub, os.BNMul, os.BNAdd = make([]float32, n), make([]float32, n), make([]float32, n)
		for c := 0; c < n; c++ {
			os.BNSub[c] = g.grid(2)
			os.BNMul[c] = g.grid(2) // includes negative and zero scales
			if c%4 == 1 {
				os.BNMul[c] = 0
			} else if c%4 == 2 {
				os.BNMul[c] = -os.BNMul[c] - 0.5
			}
			os.BNAdd[c] = g.grid(2)
		}
	}
	if kind == stagePlain && n > 2 {
		os.Add = nil // C NULL = 0
	}
	if k.Out == dtype.S8 {
		os.OutInvScale = 1
		os.QMin, os.QMax, os.OutZP = -128, 127, 0
		if kind == stageSaturate {
			os.OutInvScale = 0.5
			os.QMin, os.QMax, os.OutZP = -120, 100, 7
		}
		if kind == stageBN {
			os.OutInvScale = 2
		}
	}
	return os
}

// accsOf returns the accumulators of a dense or conv case (before pooling).
func accsOf(k matrix.Kernel, c *ref.Case) ([]ref.Acc, error) {
	if c.Conv != nil {
		a, _, _, err := ref.ConvAcc(k, *c.Conv, c.Inputs[0], c.Weights)
		return a, err
	}
	// dense: the f32-output kernel of the same types with an identity stage gives float(acc)
	fk, _ := matrix.Find(matrix.Dense, k.In, k.W, dtype.F32)
	y, err := ref.Dense(fk, *c.Dense, c.Inputs[0], c.Weights, &ref.OutputStage{})
	if err != nil {
		return nil, err
	}
	a := make([]ref.Acc, len(y.F32))
	for i, v := range y.F32 {
		a[i] = ref.Acc{Int: k.AccInt(), I: int32(v), F: v}
	}
	return a, nil
}

// finish fills the output stage and the expected output of a weighted case.
func (g *gen) finish(k matrix.Kernel, c *ref.Case, n int, kind stageKind) error {
	accs, err := accsOf(k, c)
	if err != nil {
		return err
	}
	c.Stage = g.stage(k, n, accs, kind)
	c.Want, err = c.Eval()
	return err
}

// edgeChannels are the channel counts every weighted family cycles through.
var edgeChannels = []int{1, 31, 32, 33, 63, 65}

// same returns TF "same" output size and the padding before (total // 2).
func same(in, k, stride, dil int) (out, before int) {
	out = (in + stride - 1) / stride
	eff := (k-1)*dil + 1
	total := (out-1)*stride + eff - in
	if total < 0 {
		total = 0
	}
	return out, total / 2
}

func valid(in, k, stride, dil int) int { return (in-((k-1)*dil+1))/stride + 1 }

// convSpec is one conv shape.
type convSpec struct {
	desc            string
	h, w, inC, outC int
	k, stride, dil  int
	same            bool
	padValue        bool // DQ_PAD_VALUE instead of zero padding (only with same)
	pool            bool // fused 2x2 max-pool, stride 2
	mult            int  // depthwise
	fine            bool
	kind            stageKind
	zp128           bool // s8 input zero point -128 (inputs stored as u8 ^ 0x80)
}

func (g *gen) convCase(k matrix.Kernel, s convSpec) (*ref.Case, error) {
	p := ref.ConvParams{InH: int32(s.h), InW: int32(s.w), InC: int32(s.inC), KH: int32(s.k), KW: int32(s.k),
		StrideH: int32(s.stride), StrideW: int32(s.stride), DilH: int32(s.dil), DilW: int32(s.dil), PoolH: 1, PoolW: 1, PoolStrideH: 1, PoolStrideW: 1}
	outC := s.outC
	if k.Op == matrix.DWConv2D {
		p.DepthMultiplier = int32(s.mult)
		outC = s.inC * s.mult
	}
	p.OutC = int32(outC)
	var ch, cw int
	if s.same {
		var pt, pl int
		ch, pt = same(s.h, s.k, s.stride, s.dil)
		cw, pl = same(s.w, s.k, s.stride, s.dil)
		p.PadTop, p.PadLeft = int32(pt), int32(pl)
	} else {
		ch, cw = valid(s.h, s.k, s.stride, s.dil), valid(s.w, s.k, s.stride, s.dil)
	}
	if s.padValue {
		p.PadMode = ref.PadValueMode
		switch k.In {
		case dtype.S1:
			p.PadValue = float32(1 - 2*g.r.IntN(2))
		case dtype.S8:
			p.PadValue = float32(g.r.IntN(15) - 7)
		default:
			p.PadValue = g.grid(2)
		}
	}
	p.ConvH, p.ConvW, p.OutH, p.OutW = int32(ch), int32(cw), int32(ch), int32(cw)
	if s.pool {
		p.PoolH, p.PoolW, p.PoolStrideH, p.PoolStrideW = 2, 2, 2, 2
		p.OutH, p.OutW = int32(ch/2), int32(cw/2)
	}
	if k.In == dtype.S8 {
		p.InZP = int32(g.r.IntN(11) - 5)
		if s.zp128 {
			p.InZP = -128
		}
	}
	c := &ref.Case{Kernel: k.Name(), Desc: s.desc, Conv: &p}
	c.Inputs = []ref.Buf{g.buf(k.In, s.h*s.w, s.inC, s.fine)}
	if k.Op == matrix.DWConv2D {
		c.Weights = g.buf(k.W, s.k*s.k, outC, s.fine)
	} else {
		c.Weights = g.buf(k.W, outC*s.k*s.k, s.inC, s.fine)
	}
	return c, g.finish(k, c, outC, s.kind)
}

// convSpecs returns the shapes of each conv family; i cycles channel counts.
func convSpecs(op matrix.Op, i int) []convSpec {
	ch := func(j int) int { return edgeChannels[(i+j)%len(edgeChannels)] }
	switch op {
	case matrix.Conv2D:
		return []convSpec{
			{desc: fmt.Sprintf("3x3 valid, stride 1, in_c %d", ch(0)), h: 4, w: 4, inC: ch(0), outC: 3, k: 3, stride: 1, dil: 1},
			{desc: fmt.Sprintf("3x3 same zero padding, stride 2, in_c %d, out_c 33", ch(1)%34), h: 5, w: 4, inC: ch(1) % 34, outC: 33, k: 3, stride: 2, dil: 1, same: true, kind: stageBN},
			{desc: fmt.Sprintf("3x3 same pad value, dilation 2, in_c %d", ch(2)), h: 5, w: 5, inC: ch(2), outC: 2, k: 3, stride: 1, dil: 2, same: true, padValue: true, kind: stageSaturate},
			{desc: "5x5 same zero padding, stride 1, in_c 3, fine floats", h: 5, w: 5, inC: 3, outC: 4, k: 5, stride: 1, dil: 1, same: true, fine: true},
			{desc: fmt.Sprintf("3x3 valid + fused 2x2 max-pool, in_c %d", ch(3)), h: 6, w: 6, inC: ch(3), outC: 5, k: 3, stride: 1, dil: 1, pool: true, kind: stageBN},
			{desc: "1x1 in a general conv, stride 2 (same: no padding)", h: 3, w: 4, inC: 33, outC: 2, k: 1, stride: 2, dil: 1, same: true, padValue: true},
			{desc: "3x3 same pad value, stride 1, in_c 33", h: 3, w: 3, inC: 33, outC: 3, k: 3, stride: 1, dil: 1, same: true, padValue: true},
			{desc: "3x3 same pad value stride 2 + fused pool, 64 channels", h: 6, w: 7, inC: 64, outC: 2, k: 3, stride: 2, dil: 1, same: true, padValue: true, pool: true, kind: stageSaturate},
			{desc: "3x3 same pad value + fused 2x2 max-pool, in_c 3, out_c 40 (first-layer shape)", h: 6, w: 6, inC: 3, outC: 40, k: 3, stride: 1, dil: 1, same: true, padValue: true, pool: true, kind: stageBN},
		}
	case matrix.PWConv2D:
		return []convSpec{
			{desc: fmt.Sprintf("1x1 stride 1, in_c %d", ch(0)), h: 2, w: 3, inC: ch(0), outC: 4, k: 1, stride: 1, dil: 1},
			{desc: fmt.Sprintf("1x1 stride 2, in_c %d, out_c 65", ch(1)%34), h: 3, w: 3, inC: ch(1) % 34, outC: 65, k: 1, stride: 2, dil: 1, kind: stageBN},
			{desc: fmt.Sprintf("1x1 + fused 2x2 max-pool, in_c %d", ch(2)), h: 4, w: 4, inC: ch(2), outC: 3, k: 1, stride: 1, dil: 1, pool: true, kind: stageSaturate},
			{desc: "1x1, 64 channels, fine floats", h: 2, w: 2, inC: 64, outC: 33, k: 1, stride: 1, dil: 1, fine: true, kind: stageSaturate},
			{desc: "1x1, in_c 128, out_c 6", h: 2, w: 3, inC: 128, outC: 6, k: 1, stride: 1, dil: 1, kind: stageBN},
		}
	default: // depthwise
		return []convSpec{
			{desc: fmt.Sprintf("3x3 valid, multiplier 1, in_c %d", ch(0)), h: 4, w: 4, inC: ch(0), k: 3, stride: 1, dil: 1, mult: 1},
			{desc: fmt.Sprintf("3x3 same pad value, multiplier 2, in_c %d", ch(1)%34), h: 4, w: 5, inC: ch(1) % 34, k: 3, stride: 1, dil: 1, mult: 2, same: true, padValue: true, kind: stageBN},
			{desc: "3x3 same zero padding, stride 2, dilation 2, in_c 33", h: 6, w: 6, inC: 33, k: 3, stride: 2, dil: 2, mult: 1, same: true, kind: stageSaturate},
			{desc: "5x5 same zero padding + fused 2x2 max-pool, multiplier 3, fine floats", h: 5, w: 5, inC: 3, k: 5, stride: 1, dil: 1, mult: 3, same: true, pool: true, fine: true, kind: stageBN},
			{desc: "3x3 valid + fused pool, 32 channels", h: 6, w: 6, inC: 32, k: 3, stride: 1, dil: 1, mult: 1, pool: true, kind: stageSaturate},
			{desc: "3x3 valid + fused pool, in_c 1, multiplier 33 (first-layer shape), fine floats", h: 7, w: 6, inC: 1, k: 3, stride: 1, dil: 1, mult: 33, pool: true, fine: true, kind: stageBN},
			{desc: "3x3 same zero padding + fused pool, in_c 2, multiplier 32", h: 5, w: 6, inC: 2, k: 3, stride: 1, dil: 1, mult: 32, same: true, pool: true, kind: stageSaturate},
		}
	}
}

func (g *gen) denseCases(k matrix.Kernel, i int) ([]*ref.Case, error) {
	type spec struct {
		in, out int
		fine    bool
		kind    stageKind
	}
	specs := []spec{
		{edgeChannels[i%6], 3, false, stagePlain},
		{edgeChannels[(i+1)%6], 33, false, stageBN},
		{edgeChannels[(i+2)%6], 5, false, stageSaturate},
		{200, 7, true, stagePlain},
		{1, 1, false, stageSaturate},
		{576, 9, false, stageBN}, // 18 s1 words: the whole-row assembly path
	}
	if k.In == dtype.S8 {
		// more than 1024 inputs (the Helium kernels work in segments of 1024)
		specs = append(specs, spec{1100, 6, false, stageSaturate})
	}
	if k.In == dtype.S1 && k.W == dtype.S1 {
		// whole-row assembly path without flips: the word-at-a-time threshold
		// stage, one full and one partial output word
		specs = append(specs, spec{576, 40, false, stagePlain})
	}
	n := len(specs)
	if k.In == dtype.S8 && k.W == dtype.S1 {
		// two channel blocks of the Helium path (64, then 2 single rows)
		// with a partial input word
		specs = append(specs, spec{40, 66, false, stageBN})
	}
	var cases []*ref.Case
	for j, s := range specs {
		g := g
		if j >= n {
			// cases added later draw from their own stream, so that adding them
			// left every other kernel's vectors unchanged
			g = &gen{r: rand.New(rand.NewPCG(uint64(i), uint64(j)))}
		}
		p := ref.DenseParams{InN: int32(s.in), OutN: int32(s.out)}
		if k.In == dtype.S8 {
			p.InZP = int32(g.r.IntN(11) - 5)
		}
		c := &ref.Case{Kernel: k.Name(), Desc: fmt.Sprintf("in_n %d, out_n %d", s.in, s.out), Dense: &p}
		c.Inputs = []ref.Buf{g.buf(k.In, 1, s.in, s.fine)}
		c.Weights = g.buf(k.W, s.out, s.in, s.fine)
		if err := g.finish(k, c, s.out, s.kind); err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	if !k.AccInt() && k.In == dtype.F32 && k.W == dtype.F32 {
		// float accumulator near the float extremes: overflow to +-Inf and Inf - Inf = NaN
		p := ref.DenseParams{InN: 4, OutN: 3}
		c := &ref.Case{Kernel: k.Name(), Desc: "float accumulator overflow", Dense: &p}
		c.Inputs = []ref.Buf{{T: dtype.F32, F32: []float32{3e38, 3e38, -3e38, 1}}}
		c.Weights = ref.Buf{T: dtype.F32, F32: []float32{1, 1, 0, 0, 1, 0, 1, 0, 0.5, 0.5, 0, 1}}
		if err := g.finish(k, c, 3, stagePlain); err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func (g *gen) poolCases(k matrix.Kernel) ([]*ref.Case, error) {
	type spec struct {
		h, w, c, ph, pw, s int
		same               bool
	}
	specs := []spec{{4, 4, 1, 2, 2, 2, false}, {5, 5, 33, 2, 2, 2, true}, {5, 4, 65, 3, 3, 2, true}, {3, 3, 32, 3, 3, 1, true}, {6, 5, 31, 3, 2, 3, false}}
	var cases []*ref.Case
	for _, s := range specs {
		p := ref.PoolParams{InH: int32(s.h), InW: int32(s.w), C: int32(s.c), PoolH: int32(s.ph), PoolW: int32(s.pw), StrideH: int32(s.s), StrideW: int32(s.s)}
		if s.same {
			oh, pt := same(s.h, s.ph, s.s, 1)
			ow, pl := same(s.w, s.pw, s.s, 1)
			p.OutH, p.OutW, p.PadTop, p.PadLeft = int32(oh), int32(ow), int32(pt), int32(pl)
		} else {
			p.OutH, p.OutW = int32(valid(s.h, s.ph, s.s, 1)), int32(valid(s.w, s.pw, s.s, 1))
		}
		c := &ref.Case{Kernel: k.Name(), Desc: fmt.Sprintf("%dx%dx%d pool %dx%d stride %d same=%v", s.h, s.w, s.c, s.ph, s.pw, s.s, s.same), Pool: &p}
		in := g.buf(k.In, s.h*s.w, s.c, true)
		if k.In == dtype.S1 {
			// mostly -1 so that the AND of a window often stays -1
			for i := range in.S1 {
				in.S1[i] |= g.r.Uint32() & g.r.Uint32() & ^uint32(0)
			}
			for r := 0; r < s.h*s.w; r++ {
				in.S1[r*dtype.Words(s.c)+dtype.Words(s.c)-1] &= tailMask(s.c)
			}
		}
		c.Inputs = []ref.Buf{in}
		var err error
		if c.Want, err = c.Eval(); err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func tailMask(n int) uint32 {
	if n%32 == 0 {
		return ^uint32(0)
	}
	return 1<<(n%32) - 1
}

func (g *gen) concatCases(k matrix.Kernel) ([]*ref.Case, error) {
	var cases []*ref.Case
	for _, cs := range [][]int32{{5, 33, 31}, {32, 32}, {1, 1, 1, 63, 65}, {7}} {
		rows := 3
		c := &ref.Case{Kernel: k.Name(), Desc: fmt.Sprintf("%d rows, channels %v", rows, cs), Concat: &ref.ConcatParams{Rows: int32(rows), C: cs}}
		for _, n := range cs {
			c.Inputs = append(c.Inputs, g.buf(k.In, rows, int(n), false))
		}
		var err error
		if c.Want, err = c.Eval(); err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func (g *gen) elemCases(k matrix.Kernel) ([]*ref.Case, error) {
	var cases []*ref.Case
	shapes := [][2]int{{1, 1}, {2, 31}, {3, 33}, {1, 65}}
	for si, sh := range shapes {
		p := ref.ElementwiseParams{Rows: int32(sh[0]), C: int32(sh[1]), Scale: 0.25, InvScale: 4, QMin: -128, QMax: 127}
		if si == 2 {
			p.Scale, p.InvScale, p.ZP, p.QMin, p.QMax = 0.5, 2, -3, -100, 120 // saturation and a zero point
		}
		if si == 3 {
			p.Scale, p.InvScale = 1.5, 1/1.5
		}
		c := &ref.Case{Kernel: k.Name(), Desc: fmt.Sprintf("%d x %d", sh[0], sh[1]), Elem: &p}
		in := g.buf(k.In, sh[0], sh[1], si == 3)
		if k.In == dtype.F32 {
			for i := range in.F32 {
				in.F32[i] *= 40 // beyond the s8 range: saturation
				if k.Op == matrix.Softmax || k.Op == matrix.Tanh || k.Op == matrix.Sigmoid {
					in.F32[i] /= 8
				}
			}
			if len(in.F32) > 3 {
				in.F32[1] = 0                                // sign(0) = +1
				in.F32[2] = 0.125 * float32(2*g.r.IntN(3)+1) // x*inv_scale = odd/2: a tie
			}
		}
		c.Inputs = []ref.Buf{in}
		if k.Op == matrix.Add {
			c.Inputs = append(c.Inputs, g.buf(dtype.F32, sh[0], sh[1], si == 3))
		}
		if k.Op == matrix.Affine {
			n := sh[1]
			accs := make([]ref.Acc, sh[0]*n)
			for r := 0; r < sh[0]; r++ {
				for i := 0; i < n; i++ {
					a := ref.Acc{Int: k.AccInt()}
					if k.In == dtype.S8 {
						a.I = int32(in.S8[r*n+i]) - p.ZP
					} else {
						a.F = in.F32[r*n+i]
					}
					accs[r*n+i] = a
				}
			}
			c.Stage = g.stage(k, n, accs, stageKind(si%3))
		}
		var err error
		if c.Want, err = c.Eval(); err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// Cases draws the vectors of every kernel of rows, in table order.
func Cases(seed uint64, rows []matrix.Row) ([]*ref.Case, error) {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	var all []*ref.Case
	for i, row := range rows {
		k := row.Kernel
		var cs []*ref.Case
		var err error
		switch {
		case k.Op == matrix.Dense:
			cs, err = g.denseCases(k, i)
		case k.Op.IsConv():
			specs := convSpecs(k.Op, i)
			if k.In == dtype.S8 && k.Op == matrix.Conv2D {
				// more than 1024 taps per pixel (the Helium kernels work in segments of 1024),
				// 288 < K <= 576 (the M4 two-pixel path), and a pooled "same" conv
				specs = append(specs,
					convSpec{desc: "3x3 valid, in_c 130, out_c 7 (K > 1024)", h: 4, w: 4, inC: 130, outC: 7, k: 3, stride: 1, dil: 1, kind: stageSaturate},
					convSpec{desc: "3x3 valid, in_c 60, out_c 5 (288 < K <= 576)", h: 5, w: 4, inC: 60, outC: 5, k: 3, stride: 1, dil: 1, kind: stageBN},
					convSpec{desc: "3x3 same zero padding + fused 2x2 max-pool, in_c 48, out_c 10", h: 6, w: 6, inC: 48, outC: 10, k: 3, stride: 1, dil: 1, same: true, pool: true, kind: stageBN})
			}
			if k.In == dtype.S1 && k.W == dtype.S1 && k.Op == matrix.Conv2D {
				// the Helium nine-word adder tree (K = 9, 18) with the pool minimum in the row loop
				specs = append(specs,
					convSpec{desc: "3x3 valid + fused 2x2 max-pool, in_c 64, out_c 8 (K = 18)", h: 5, w: 6, inC: 64, outC: 8, k: 3, stride: 1, dil: 1, pool: true, kind: stageBN},
					convSpec{desc: "3x3 valid, in_c 32, out_c 12 (K = 9)", h: 4, w: 5, inC: 32, outC: 12, k: 3, stride: 1, dil: 1})
			}
			for _, s := range specs {
				var c *ref.Case
				if c, err = g.convCase(k, s); err != nil {
					break
				}
				cs = append(cs, c)
			}
			if err == nil && k.In == dtype.S8 && k.W == dtype.S1 && k.Op == matrix.Conv2D {
				// the s8 x s1 Helium path (in_c a multiple of 32): two channel
				// blocks with pad value and dilation, and a fused pool; drawn
				// from their own stream, so that adding them left every other
				// kernel's vectors unchanged
				h := &gen{r: rand.New(rand.NewPCG(uint64(i), 1))}
				for _, s := range []convSpec{
					{desc: "3x3 same pad value, dilation 2, in_c 32, out_c 66", h: 3, w: 4, inC: 32, outC: 66, k: 3, stride: 1, dil: 2, same: true, padValue: true, kind: stageBN},
					{desc: "3x3 same zero padding, stride 2 + fused 2x2 max-pool, in_c 64, out_c 5", h: 4, w: 4, inC: 64, outC: 5, k: 3, stride: 2, dil: 1, same: true, pool: true, kind: stageSaturate},
				} {
					var c *ref.Case
					if c, err = h.convCase(k, s); err != nil {
						break
					}
					cs = append(cs, c)
				}
			}
			if err == nil && k.In == dtype.F32 && k.W == dtype.S8 && k.Out == dtype.S8 && k.Op != matrix.DWConv2D {
				var fc []*ref.Case
				if fc, err = firstLayerCases(k, i); err == nil {
					cs = append(cs, fc...)
				}
			}
			if err == nil && k.In == dtype.S8 && k.W == dtype.S8 && (k.Op == matrix.Conv2D || k.Op == matrix.PWConv2D) {
				// the M4 path of at most four output channels with in_c % 4 == 0
				// (weights converted once, inputs read in place; zero padding
				// skipped): RN07's 4x4 "same" shape, a strided one and a
				// pointwise one (in_zp -128: the UXTB16 variant, else the
				// SSUB16 one); drawn from their own stream, so that adding
				// them left every other kernel's vectors unchanged
				h := &gen{r: rand.New(rand.NewPCG(uint64(i), 2))}
				more := []convSpec{{desc: "1x1, in_c 12, out_c 2, in_zp -128", h: 2, w: 3, inC: 12, outC: 2, k: 1, stride: 1, dil: 1, kind: stageSaturate, zp128: true}}
				if k.Op == matrix.Conv2D {
					more = []convSpec{
						{desc: "4x4 same zero padding, in_c 8, out_c 4, in_zp -128 (RN07 shape)", h: 5, w: 6, inC: 8, outC: 4, k: 4, stride: 1, dil: 1, same: true, kind: stageBN, zp128: true},
						{desc: "4x4 same zero padding, stride 2, in_c 4, out_c 3", h: 5, w: 5, inC: 4, outC: 3, k: 4, stride: 2, dil: 1, same: true, kind: stageSaturate},
					}
				}
				for _, s := range more {
					var c *ref.Case
					if c, err = h.convCase(k, s); err != nil {
						break
					}
					cs = append(cs, c)
				}
			}
		case k.Op == matrix.MaxPool || k.Op == matrix.AvgPool:
			cs, err = g.poolCases(k)
		case k.Op == matrix.Concat:
			cs, err = g.concatCases(k)
		default:
			cs, err = g.elemCases(k)
		}
		if err == nil && k.In == dtype.F32 && len(cs) > 0 {
			var e *ref.Case
			if e, err = edgeCase(smallest(cs)); err == nil {
				cs = append(cs, e)
			}
		}
		if err == nil && k.In == dtype.F32 && (k.W == dtype.S8 || k.W == dtype.S1) && len(cs) > 0 {
			var ov []*ref.Case
			if ov, err = overflowCases(cs); err == nil {
				cs = append(cs, ov...)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("vectors of %s: %w", k.Name(), err)
		}
		all = append(all, cs...)
	}
	return all, nil
}

// EdgeValues are the float32 inputs whose results docs/semantics.md defines:
// infinities, NaN, the largest finite values, values near them, the
// smallest subnormal and a larger one, and both zeros.
var EdgeValues = []float32{
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	math.MaxFloat32, -math.MaxFloat32, 1e38, -1e38,
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-40, -1e-40,
	0, float32(math.Copysign(0, -1)), 1, -1.5,
}

// smallest returns the case with the fewest input and weight elements among
// those with at least one float32 input element per edge value (the
// largest input if none has), so the edge-value copies keep the vector
// file small and still meet every value.
func smallest(cs []*ref.Case) *ref.Case {
	ins := func(c *ref.Case) int {
		n := 0
		for _, in := range c.Inputs {
			n += len(in.F32)
		}
		return n
	}
	size := func(c *ref.Case) int { return c.Weights.Len() + ins(c) }
	best := cs[0]
	for _, c := range cs[1:] {
		okC, okB := ins(c) >= len(EdgeValues), ins(best) >= len(EdgeValues)
		if okC && (!okB || size(c) < size(best)) || !okC && !okB && ins(c) > ins(best) {
			best = c
		}
	}
	return best
}

// edgeCase copies case c (same shape, weights and output stage) with every
// float32 input element replaced by EdgeValues in turn (shifted per input,
// so two inputs of an add meet different values), and recomputes the result.
func edgeCase(c *ref.Case) (*ref.Case, error) {
	e := *c
	e.Desc = c.Desc + ", edge values"
	e.Inputs = make([]ref.Buf, len(c.Inputs))
	for j, in := range c.Inputs {
		if in.T != dtype.F32 {
			e.Inputs[j] = in
			continue
		}
		v := make([]float32, len(in.F32))
		for i := range v {
			v[i] = EdgeValues[(i+3*j)%len(EdgeValues)]
		}
		e.Inputs[j] = ref.Buf{T: dtype.F32, F32: v}
	}
	var err error
	if e.Want, err = e.Eval(); err != nil {
		return nil, fmt.Errorf("edge-value case of %q: %w", c.Desc, err)
	}
	return &e, nil
}

// OverflowValues are inputs whose products with s8 codes overflow float32
// while their products with the scaled weights (OverflowMul) do not, mixed
// with small ones.
var OverflowValues = []float32{1e38, 1e38, -3e37, 2e37, 1, 0, -1e38, 5e37, -1.5}

// OverflowValuesS1 are the inputs of the overflow cases of f32 x s1
// kernels, whose products x * ±1 cannot overflow: with the weights all +1,
// four values of 1e38 overflow the kernel's sum but not Keras's sum of
// x * mul.
var OverflowValuesS1 = []float32{1e38, 1e38, 1e38, 1e38, -3e37, 1, 0, -1e38, 5e37, -1.5}

// OverflowMul is the weight scale of the overflow cases: |x * code * mul|
// stays below FLT_MAX for every OverflowValues x and code.
const OverflowMul = 1.0 / 64

// OverflowMulBig is the weight scale above 1 of the overflow cases: Keras's
// product x * (code * mul) overflows for x = 1e38 where the kernel's x *
// code does not.
const OverflowMulBig = 4

// overflowCases copies the smallest case of an f32 x s8 or f32 x s1
// kernel, and its first case with a fused pool, with OverflowValues as
// inputs and every multiplier OverflowMul (the rescue of gen/ref.Rescued;
// the sign of mul alternates so windows pool both ways). s1 weights become
// all +1 and the inputs OverflowValuesS1. Then both again with most
// multipliers ±OverflowMulBig (gen/ref.ScaledForm), the original weights
// and OverflowValues. An s1 output gets the offsets, batch norm and
// thresholds of overflowS1Stage.
func overflowCases(cs []*ref.Case) ([]*ref.Case, error) {
	picks := []*ref.Case{smallest(cs)}
	for _, c := range cs {
		if c.Conv != nil && c.Conv.PoolH*c.Conv.PoolW > 1 {
			picks = append(picks, c)
			break
		}
	}
	var out []*ref.Case
	for i := 0; i < 2*len(picks); i++ {
		c, big := picks[i%len(picks)], i >= len(picks)
		e := *c
		e.Desc = c.Desc + ", overflowing products"
		if big {
			e.Desc = c.Desc + ", overflowing scaled products"
		}
		st := *c.Stage
		nc := 0 // output channels
		if c.Dense != nil {
			nc = int(c.Dense.OutN)
		} else {
			nc = int(c.Conv.OutC)
		}
		st.Mul = make([]float32, nc)
		for i := range st.Mul {
			st.Mul[i] = OverflowMul
			if big && i%5 != 4 {
				st.Mul[i] = OverflowMulBig
			}
			if i%3 == 2 {
				st.Mul[i] = -st.Mul[i]
			}
		}
		if c.Stage.ThrF != nil {
			overflowS1Stage(&st, c.Conv != nil && c.Conv.PoolH*c.Conv.PoolW > 1)
		}
		e.Stage = &st
		in := c.Inputs[0]
		vals := OverflowValues
		if c.Weights.T == dtype.S1 && !big {
			vals = OverflowValuesS1
			e.Weights = ref.Buf{T: dtype.S1, S1: make([]uint32, len(c.Weights.S1))} // bit 0: +1
		}
		v := make([]float32, len(in.F32))
		for i := range v {
			v[i] = vals[i%len(vals)]
		}
		e.Inputs = []ref.Buf{{T: dtype.F32, F32: v}}
		var err error
		if e.Want, err = e.Eval(); err != nil {
			return nil, fmt.Errorf("overflow case of %q: %w", c.Desc, err)
		}
		out = append(out, &e)
	}
	return out, nil
}

// overflowS1Stage gives the s1 output stage st (multipliers set) offsets,
// with bn a batch norm, and the thresholds and flip bits the lowering would
// fold from them: +1 iff fl32(fl32(acc·mul) + add) (then − bn_sub, · bn_mul
// > 0) >= 0, i.e. acc >= (bn_sub − add) / mul, or <= when mul < 0 (exact:
// mul is a power of two). The rescue (gen/ref.ScaledS1) uses the offsets, the
// kernel's finite sums the thresholds.
func overflowS1Stage(st *ref.OutputStage, bn bool) {
	n := len(st.Mul)
	st.Add, st.ThrF, st.Flip = make([]float32, n), make([]float32, n), nil
	st.Act, st.BNSub, st.BNMul, st.BNAdd = 0, nil, nil, nil
	if bn {
		st.BNSub, st.BNMul, st.BNAdd = make([]float32, n), make([]float32, n), make([]float32, n)
	}
	for i := range st.Mul {
		st.Add[i] = float32(i%5-2) * 0.75
		sub := float32(0)
		if bn {
			sub = float32(i%4) * 0.5
			st.BNSub[i], st.BNMul[i] = sub, 0.75
		}
		st.ThrF[i] = (sub - st.Add[i]) / st.Mul[i]
		if st.Mul[i] < 0 {
			if st.Flip == nil {
				st.Flip = make([]uint32, dtype.Words(n))
			}
			ref.SetBit(st.Flip, 0, i, 1)
		}
	}
}

// firstLayerCases are the shapes of the f32 x s8 first-layer fast paths
// (templates/kernels/f32s8.tmpl): a 1x1 conv over 3 channels (RGB) and a
// pooled conv over one channel, each with a plain output stage, a saturating
// one, and relu without batch norm into a range with q_min 0 (where the
// clamp makes relu redundant) and with q_min < 0. Drawn from their own
// stream, so that adding them left every other kernel's vectors unchanged.
func firstLayerCases(k matrix.Kernel, i int) ([]*ref.Case, error) {
	h := &gen{r: rand.New(rand.NewPCG(uint64(i), 2))}
	var specs []convSpec
	if k.Op == matrix.PWConv2D {
		specs = []convSpec{
			{desc: "1x1, in_c 3, out_c 37 (RGB first layer)", h: 3, w: 4, inC: 3, outC: 37, k: 1, stride: 1, dil: 1},
			{desc: "1x1 stride 2, in_c 3, out_c 6 (RGB first layer)", h: 4, w: 5, inC: 3, outC: 6, k: 1, stride: 2, dil: 1, kind: stageSaturate},
			{desc: "1x1, in_c 3, out_c 9, relu (RGB first layer)", h: 2, w: 3, inC: 3, outC: 9, k: 1, stride: 1, dil: 1, kind: stageSaturate},
		}
	} else {
		specs = []convSpec{
			{desc: "3x3 same zero padding + fused 2x2 max-pool, in_c 1, out_c 19 (first layer)", h: 6, w: 6, inC: 1, outC: 19, k: 3, stride: 1, dil: 1, same: true, pool: true},
			{desc: "3x3 valid, in_c 1, out_c 5, relu (first layer)", h: 5, w: 5, inC: 1, outC: 5, k: 3, stride: 1, dil: 1, kind: stageSaturate},
			{desc: "3x3 valid + fused 2x2 max-pool, in_c 2, out_c 10, saturating (first layer)", h: 6, w: 5, inC: 2, outC: 10, k: 3, stride: 1, dil: 1, pool: true, kind: stageSaturate},
		}
	}
	var out []*ref.Case
	for _, s := range specs {
		c, err := h.convCase(k, s)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(s.desc, "relu (RGB first layer)") || strings.HasSuffix(s.desc, "relu (first layer)") {
			// relu, no batch norm; q_min 0 for the RGB case (zero point
			// shifts the codes into int8), -20 for the other
			st := *c.Stage
			st.Act, st.BNSub, st.BNMul, st.BNAdd = ref.ActRelu, nil, nil, nil
			st.OutInvScale = 0.5
			st.QMin, st.QMax, st.OutZP = 0, 255, -128
			if k.Op != matrix.PWConv2D {
				st.QMin, st.QMax, st.OutZP = -20, 100, 3
			}
			c.Stage = &st
			if c.Want, err = c.Eval(); err != nil {
				return nil, err
			}
			if k.Op == matrix.PWConv2D {
				// the M4 assembly loop of this range detects non-finite
				// sums by FPSCR.IOC: edge values and overflowing products
				e, err := edgeCase(c)
				if err != nil {
					return nil, err
				}
				ov, err := overflowCases([]*ref.Case{c})
				if err != nil {
					return nil, err
				}
				out = append(out, c, e)
				out = append(out, ov...)
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}
