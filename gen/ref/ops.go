package ref

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir/dtype"
)

// DenseParams mirrors dq_dense_params.
type DenseParams struct{ InN, OutN, InZP int32 }

// Dense is the reference of dq_dense_<in>_<w>_<out>:
//
//	for o in 0..out_n-1:
//	  acc = 0
//	  for i in 0..in_n-1: acc = mac(acc, x[i] (s8: q - in_zp), w[o][i])
//	  out[o] = Stage(acc, o)
//
// except where Rescued(k, os) and acc is not finite or ScaledForm(os, o):
// then acc is recomputed with every w replaced by fl32(w * mul[o]) and the
// output stage skips its multiply (s1 outputs: ScaledS1).
func Dense(k matrix.Kernel, p DenseParams, in, w Buf, os *OutputStage) (Buf, error) {
	if err := checkType(k, matrix.Dense, in, w); err != nil {
		return Buf{}, err
	}
	if p.InN < 1 || p.OutN < 1 {
		return Buf{}, fmt.Errorf("%s: in_n %d, out_n %d must be >= 1", k.Name(), p.InN, p.OutN)
	}
	if err := checkStage(k, os, k.AccInt()); err != nil {
		return Buf{}, fmt.Errorf("%s: %w", k.Name(), err)
	}
	n, m := int(p.InN), int(p.OutN)
	if err := need("input", in.Len(), in.T.RowElems(n)); err != nil {
		return Buf{}, fmt.Errorf("%s: %w", k.Name(), err)
	}
	if err := need("weights", w.Len(), m*w.T.RowElems(n)); err != nil {
		return Buf{}, fmt.Errorf("%s: %w", k.Name(), err)
	}
	out := NewBuf(k.Out, 1, m)
	unscaled := *os
	unscaled.Mul = nil
	for o := 0; o < m; o++ {
		acc := Acc{Int: k.AccInt()}
		for i := 0; i < n; i++ {
			acc = mac(acc, get(in, 0, n, i, p.InZP), k.In, get(w, o, n, i, 0), k.W)
		}
		if !acc.Int && (math.IsInf(float64(acc.F), 0) || math.IsNaN(float64(acc.F)) || ScaledForm(os, o)) && Rescued(k, os) {
			acc = Acc{}
			for i := 0; i < n; i++ {
				acc = macScaled(acc, get(in, 0, n, i, p.InZP), k.In, get(w, o, n, i, 0), k.W, os.Mul, o)
			}
			if k.Out == dtype.S1 {
				ScaledS1(os, acc, o, out, 0, m)
			} else {
				Stage(&unscaled, acc, o, out, 0, m)
			}
			continue
		}
		Stage(os, acc, o, out, 0, m)
	}
	return out, nil
}

// ConvParams mirrors dq_conv_params.
type ConvParams struct {
	InH, InW, InC            int32
	OutH, OutW, OutC         int32
	KH, KW                   int32
	StrideH, StrideW         int32
	DilH, DilW               int32
	PadTop, PadLeft          int32
	PadMode                  int32
	PadValue                 float32
	InZP                     int32
	DepthMultiplier          int32
	ConvH, ConvW             int32
	PoolH, PoolW             int32
	PoolStrideH, PoolStrideW int32
}

// PadValueMode is DQ_PAD_VALUE.
const PadValueMode = 1

// padElem is the input element value of a padded tap in DQ_PAD_VALUE mode.
func padElem(t dtype.DType, v float32) elem {
	switch t {
	case dtype.S1:
		if v < 0 {
			return elem{i: -1}
		}
		return elem{i: 1}
	case dtype.S8:
		return elem{i: int32(v)}
	}
	return elem{f: v}
}

// ConvAcc returns the accumulator of every conv position (conv_h x conv_w x
// out_c, before pooling and the output stage) of a conv2d, pwconv2d or
// dwconv2d kernel:
//
//	for cy, cx, o: acc = 0
//	  for ky, kx (ascending): iy = cy*stride_h + ky*dil_h - pad_top, ix likewise
//	    tap outside the input: zero padding adds nothing; pad-value mode uses pad_value as x
//	    conv2d/pwconv2d: for i in 0..in_c-1: acc = mac(acc, x[iy][ix][i], w[o][ky][kx][i])
//	    dwconv2d:        acc = mac(acc, x[iy][ix][o / depth_multiplier], w[ky][kx][o])
//
// except dwconv2d with f32 inputs and s1 weights, which sums each kernel row
// on its own and then the rows (see RowSums):
//
//	acc = 0; for ky: r = 0; for kx: r = mac(r, x, w); acc = fl32(acc + r)
func ConvAcc(k matrix.Kernel, p ConvParams, in, w Buf) ([]Acc, int, int, error) {
	return convAcc(k, p, in, w, nil)
}

// convAcc is ConvAcc; with wmul (per output channel) every product is
// fl32(x * fl32(w * wmul[o])) instead (rescue, see Rescued).
func convAcc(k matrix.Kernel, p ConvParams, in, w Buf, wmul []float32) ([]Acc, int, int, error) {
	if err := checkType(k, matrix.Conv2D, in, w); err != nil {
		return nil, 0, 0, err
	}
	if p.InH < 1 || p.InW < 1 || p.InC < 1 || p.OutH < 1 || p.OutW < 1 || p.OutC < 1 || p.KH < 1 || p.KW < 1 || p.StrideH < 1 || p.StrideW < 1 {
		return nil, 0, 0, fmt.Errorf("%s: a size or stride is < 1", k.Name())
	}
	if k.Op == matrix.PWConv2D {
		if p.KH != 1 || p.KW != 1 || p.PadTop != 0 || p.PadLeft != 0 {
			return nil, 0, 0, fmt.Errorf("%s: pointwise needs a 1x1 kernel without padding", k.Name())
		}
		p.DilH, p.DilW, p.PadMode = 1, 1, 0
	} else if p.DilH < 1 || p.DilW < 1 {
		return nil, 0, 0, fmt.Errorf("%s: dilation < 1", k.Name())
	}
	if k.Op == matrix.DWConv2D && (p.DepthMultiplier < 1 || p.OutC != p.InC*p.DepthMultiplier) {
		return nil, 0, 0, fmt.Errorf("%s: out_c %d != in_c %d * depth_multiplier %d", k.Name(), p.OutC, p.InC, p.DepthMultiplier)
	}
	ch, cw := int(p.OutH), int(p.OutW)
	if p.PoolH*p.PoolW > 1 {
		ch, cw = int(p.ConvH), int(p.ConvW)
		if p.PoolStrideH < 1 || p.PoolStrideW < 1 || int((p.OutH-1)*p.PoolStrideH+p.PoolH) > ch || int((p.OutW-1)*p.PoolStrideW+p.PoolW) > cw {
			return nil, 0, 0, fmt.Errorf("%s: pool windows leave the %dx%d conv output", k.Name(), ch, cw)
		}
	}
	if k.Op == matrix.PWConv2D && ((ch-1)*int(p.StrideH) >= int(p.InH) || (cw-1)*int(p.StrideW) >= int(p.InW)) {
		return nil, 0, 0, fmt.Errorf("%s: pointwise conv positions leave the input", k.Name())
	}
	ic, oc := int(p.InC), int(p.OutC)
	wn := ic // weight row length
	if k.Op == matrix.DWConv2D {
		wn = oc
	}
	if err := need("input", in.Len(), int(p.InH*p.InW)*in.T.RowElems(ic)); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", k.Name(), err)
	}
	wrows := oc * int(p.KH*p.KW)
	if k.Op == matrix.DWConv2D {
		wrows = int(p.KH * p.KW)
	}
	if err := need("weights", w.Len(), wrows*w.T.RowElems(wn)); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", k.Name(), err)
	}
	accs := make([]Acc, ch*cw*oc)
	rows := RowSums(k)
	for cy := 0; cy < ch; cy++ {
		for cx := 0; cx < cw; cx++ {
			for o := 0; o < oc; o++ {
				acc := Acc{Int: k.AccInt()}
				for ky := 0; ky < int(p.KH); ky++ {
					row := Acc{Int: k.AccInt()}
					dst := &acc // the taps' sum: acc itself, or this row's own sum
					if rows {
						dst = &row
					}
					iy := cy*int(p.StrideH) + ky*int(p.DilH) - int(p.PadTop)
					for kx := 0; kx < int(p.KW); kx++ {
						ix := cx*int(p.StrideW) + kx*int(p.DilW) - int(p.PadLeft)
						inside := iy >= 0 && iy < int(p.InH) && ix >= 0 && ix < int(p.InW)
						if !inside && p.PadMode != PadValueMode {
							continue // zero padding: the tap contributes nothing
						}
						pix := iy*int(p.InW) + ix
						if k.Op == matrix.DWConv2D {
							x := padElem(k.In, p.PadValue)
							if inside {
								x = get(in, pix, ic, o/int(p.DepthMultiplier), p.InZP)
							}
							*dst = macScaled(*dst, x, k.In, get(w, ky*int(p.KW)+kx, oc, o, 0), k.W, wmul, o)
							continue
						}
						for i := 0; i < ic; i++ {
							x := padElem(k.In, p.PadValue)
							if inside {
								x = get(in, pix, ic, i, p.InZP)
							}
							acc = macScaled(acc, x, k.In, get(w, (o*int(p.KH)+ky)*int(p.KW)+kx, ic, i, 0), k.W, wmul, o)
						}
					}
					if rows {
						acc.F = float32(acc.F + row.F)
					}
				}
				accs[(cy*cw+cx)*oc+o] = acc
			}
		}
	}
	return accs, ch, cw, nil
}

// RowSums reports whether kernel k sums each kernel row of a position on its
// own before adding the rows (ConvAcc): dwconv2d with f32 inputs and s1
// weights. A row of ±1 taps is then one of eight signed sums per input
// row and column, which the C kernel computes once and shares between all
// output channels instead of adding every tap per channel. Keras fixes no
// summation order for a convolution (docs/semantics.md).
func RowSums(k matrix.Kernel) bool {
	return k.Op == matrix.DWConv2D && k.In == dtype.F32 && k.W == dtype.S1
}

// Conv is the reference of dq_conv2d_*, dq_pwconv2d_* and dq_dwconv2d_*:
//
//	accs = ConvAcc(...)
//	for oy, ox, o:
//	  best = max over the pool window (oy*pool_stride_h + dy, ox*pool_stride_w + dx),
//	         dy < pool_h, dx < pool_w, of accs (first maximum; no pool: the one position)
//	  out[oy][ox][o] = Stage(best, o)
//
// except where Rescued(k, os) and an accumulator of the window is not
// finite or ScaledForm(os, o): then best is the first maximum of the window's scaled
// accumulators (ConvAcc with every w replaced by fl32(w * mul[o])) and the
// output stage skips its multiply (s1 outputs: ScaledS1).
func Conv(k matrix.Kernel, p ConvParams, in, w Buf, os *OutputStage) (Buf, error) {
	accs, _, cw, err := ConvAcc(k, p, in, w)
	if err != nil {
		return Buf{}, err
	}
	if err := checkStage(k, os, k.AccInt()); err != nil {
		return Buf{}, fmt.Errorf("%s: %w", k.Name(), err)
	}
	var scaled []Acc // the rescue accumulators, computed when first needed
	unscaled := *os
	unscaled.Mul = nil
	ph, pw, psh, psw := 1, 1, 1, 1
	if p.PoolH*p.PoolW > 1 {
		ph, pw, psh, psw = int(p.PoolH), int(p.PoolW), int(p.PoolStrideH), int(p.PoolStrideW)
	}
	oh, ow, oc := int(p.OutH), int(p.OutW), int(p.OutC)
	out := NewBuf(k.Out, oh*ow, oc)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for o := 0; o < oc; o++ {
				window := func(accs []Acc) (best Acc, finite bool) {
					finite = true
					for dy := 0; dy < ph; dy++ {
						for dx := 0; dx < pw; dx++ {
							a := accs[((oy*psh+dy)*cw+ox*psw+dx)*oc+o]
							finite = finite && (a.Int || !math.IsInf(float64(a.F), 0) && !math.IsNaN(float64(a.F)))
							if dy == 0 && dx == 0 || greater(a, best) {
								best = a
							}
						}
					}
					return best, finite
				}
				best, finite := window(accs)
				if (!finite || ScaledForm(os, o)) && Rescued(k, os) {
					if scaled == nil {
						if scaled, _, _, err = convAcc(k, p, in, w, os.Mul); err != nil {
							return Buf{}, err
						}
					}
					best, _ = window(scaled)
					if k.Out == dtype.S1 {
						ScaledS1(os, best, o, out, oy*ow+ox, oc)
					} else {
						Stage(&unscaled, best, o, out, oy*ow+ox, oc)
					}
					continue
				}
				Stage(os, best, o, out, oy*ow+ox, oc)
			}
		}
	}
	return out, nil
}

// PoolParams mirrors dq_pool_params.
type PoolParams struct {
	InH, InW, C      int32
	OutH, OutW       int32
	PoolH, PoolW     int32
	StrideH, StrideW int32
	PadTop, PadLeft  int32
}

// Pool is the reference of dq_maxpool_* and dq_avgpool_f32_f32:
//
//	for oy, ox, c: the valid window positions iy = oy*stride_h + dy - pad_top,
//	  ix = ox*stride_w + dx - pad_left (inside the input), in ascending dy, dx;
//	  maxpool: the first maximum (s1: +1 if any element is +1);
//	  avgpool: fl32(sum ascending) / count. No valid position is an error.
func Pool(k matrix.Kernel, p PoolParams, in Buf) (Buf, error) {
	if err := checkType(k, matrix.MaxPool, in); err != nil {
		return Buf{}, err
	}
	if p.InH < 1 || p.InW < 1 || p.C < 1 || p.OutH < 1 || p.OutW < 1 || p.PoolH < 1 || p.PoolW < 1 || p.StrideH < 1 || p.StrideW < 1 {
		return Buf{}, fmt.Errorf("%s: a size or stride is < 1", k.Name())
	}
	c := int(p.C)
	if err := need("input", in.Len(), int(p.InH*p.InW)*in.T.RowElems(c)); err != nil {
		return Buf{}, fmt.Errorf("%s: %w", k.Name(), err)
	}
	out := NewBuf(k.Out, int(p.OutH*p.OutW), c)
	for oy := 0; oy < int(p.OutH); oy++ {
		for ox := 0; ox < int(p.OutW); ox++ {
			for ch := 0; ch < c; ch++ {
				var m elem
				var sum float32
				count := 0
				for dy := 0; dy < int(p.PoolH); dy++ {
					iy := oy*int(p.StrideH) + dy - int(p.PadTop)
					for dx := 0; dx < int(p.PoolW); dx++ {
						ix := ox*int(p.StrideW) + dx - int(p.PadLeft)
						if iy < 0 || iy >= int(p.InH) || ix < 0 || ix >= int(p.InW) {
							continue
						}
						e := get(in, iy*int(p.InW)+ix, c, ch, 0)
						if k.Op == matrix.AvgPool {
							sum = float32(sum + e.f)
						} else if count == 0 || (k.In == dtype.F32 && e.f > m.f) || (k.In != dtype.F32 && e.i > m.i) {
							m = e
						}
						count++
					}
				}
				if count == 0 {
					return Buf{}, fmt.Errorf("%s: output (%d, %d) has no valid pool position", k.Name(), oy, ox)
				}
				r := oy*int(p.OutW) + ox
				switch {
				case k.Op == matrix.AvgPool:
					out.F32[r*c+ch] = float32(sum / float32(count))
				case k.Out == dtype.F32:
					out.F32[r*c+ch] = m.f
				case k.Out == dtype.S8:
					out.S8[r*c+ch] = int8(m.i)
				default:
					if m.i < 0 {
						SetBit(out.S1, r*dtype.Words(c), ch, 1)
					}
				}
			}
		}
	}
	return out, nil
}

// ConcatParams mirrors dq_concat_params (n = len(C)).
type ConcatParams struct {
	Rows int32
	C    []int32
}

// Concat is the reference of dq_concat_*: for every row, the elements of
// input 0, then input 1, ... at channel offsets sum(c[:i]).
func Concat(k matrix.Kernel, p ConcatParams, ins []Buf) (Buf, error) {
	if err := checkType(k, matrix.Concat, ins...); err != nil {
		return Buf{}, err
	}
	if p.Rows < 1 || len(p.C) < 1 || len(ins) != len(p.C) {
		return Buf{}, fmt.Errorf("%s: rows %d, %d channel counts for %d inputs", k.Name(), p.Rows, len(p.C), len(ins))
	}
	total := 0
	for i, c := range p.C {
		if c < 1 {
			return Buf{}, fmt.Errorf("%s: input %d has %d channels", k.Name(), i, c)
		}
		if err := need(fmt.Sprintf("input %d", i), ins[i].Len(), int(p.Rows)*k.In.RowElems(int(c))); err != nil {
			return Buf{}, fmt.Errorf("%s: %w", k.Name(), err)
		}
		total += int(c)
	}
	out := NewBuf(k.Out, int(p.Rows), total)
	for r := 0; r < int(p.Rows); r++ {
		off := 0
		for i, c := range p.C {
			for j := 0; j < int(c); j++ {
				e := get(ins[i], r, int(c), j, 0)
				switch k.In {
				case dtype.F32:
					out.F32[r*total+off+j] = e.f
				case dtype.S8:
					out.S8[r*total+off+j] = int8(e.i)
				default:
					if e.i < 0 {
						SetBit(out.S1, r*dtype.Words(total), off+j, 1)
					}
				}
			}
			off += int(c)
		}
	}
	return out, nil
}

// ElementwiseParams mirrors dq_elementwise_params.
type ElementwiseParams struct {
	Rows, C         int32
	Scale, InvScale float32
	ZP, QMin, QMax  int32
}

func checkElem(k matrix.Kernel, p ElementwiseParams, bufs ...Buf) error {
	if p.Rows < 1 || p.C < 1 {
		return fmt.Errorf("%s: rows %d, c %d must be >= 1", k.Name(), p.Rows, p.C)
	}
	for i, b := range bufs {
		if err := need(fmt.Sprintf("operand %d", i), b.Len(), int(p.Rows)*b.T.RowElems(int(p.C))); err != nil {
			return fmt.Errorf("%s: %w", k.Name(), err)
		}
	}
	return nil
}

// Convert is the reference of dq_convert_<a>_<b>, element by element:
//
//	real value: f32 x; s8 fl32(scale * float(q - zp)); s1 ±scale (bit 1 = -scale)
//	to f32: real; to s8: Quantize(fl32(real * inv_scale), q_min, q_max) + zp;
//	to s1: +1 iff real >= 0 (sign(0) = +1).
func Convert(k matrix.Kernel, p ElementwiseParams, in Buf) (Buf, error) {
	if err := checkType(k, matrix.Convert, in); err != nil {
		return Buf{}, err
	}
	if err := checkElem(k, p, in); err != nil {
		return Buf{}, err
	}
	if k.Out == dtype.S8 && (p.QMin > p.QMax || p.QMin < -255 || p.QMax > 255 || p.QMin+p.ZP < -128 || p.QMax+p.ZP > 127) {
		return Buf{}, fmt.Errorf("%s: q range [%d, %d] + zero point %d leaves int8", k.Name(), p.QMin, p.QMax, p.ZP)
	}
	rows, c := int(p.Rows), int(p.C)
	out := NewBuf(k.Out, rows, c)
	for r := 0; r < rows; r++ {
		for i := 0; i < c; i++ {
			var x float32
			switch k.In {
			case dtype.F32:
				x = in.F32[r*c+i]
			case dtype.S8:
				x = float32(p.Scale * float32(int32(in.S8[r*c+i])-p.ZP))
			default:
				x = p.Scale
				if Bit(in.S1, r*dtype.Words(c), i) == 1 {
					x = -p.Scale
				}
			}
			switch k.Out {
			case dtype.F32:
				out.F32[r*c+i] = x
			case dtype.S8:
				out.S8[r*c+i] = int8(Quantize(float32(x*p.InvScale), p.QMin, p.QMax) + p.ZP)
			default:
				if !(x >= 0) {
					SetBit(out.S1, r*dtype.Words(c), i, 1)
				}
			}
		}
	}
	return out, nil
}

// Affine is the reference of dq_affine_<in>_<out>: for every row r and
// channel c, acc = x (f32 input) or q - zp (s8 input, int32), then
// out[r][c] = Stage(acc, c).
func Affine(k matrix.Kernel, p ElementwiseParams, in Buf, os *OutputStage) (Buf, error) {
	if err := checkType(k, matrix.Affine, in); err != nil {
		return Buf{}, err
	}
	if err := checkElem(k, p, in); err != nil {
		return Buf{}, err
	}
	if err := checkStage(k, os, k.AccInt()); err != nil {
		return Buf{}, fmt.Errorf("%s: %w", k.Name(), err)
	}
	rows, c := int(p.Rows), int(p.C)
	out := NewBuf(k.Out, rows, c)
	for r := 0; r < rows; r++ {
		for i := 0; i < c; i++ {
			e := get(in, r, c, i, p.ZP)
			Stage(os, Acc{Int: k.AccInt(), I: e.i, F: e.f}, i, out, r, c)
		}
	}
	return out, nil
}

// Unary is the reference of dq_softmax/relu/tanh/sigmoid_f32_f32, per row:
//
//	relu: x < 0 ? 0 : x; tanh: tanh(x); sigmoid: 1 / (1 + exp(-x)) (float32 steps);
//	softmax: m = max(row); e_i = fl32(exp(fl32(x_i - m))); s = sum of e_i ascending; y_i = fl32(e_i / s).
//
// exp and tanh are computed in float64 and rounded once; C uses libm's expf
// and tanhf, so f32 results agree to a few ulp, not bit for bit.
func Unary(k matrix.Kernel, p ElementwiseParams, in Buf) (Buf, error) {
	if err := checkType(k, matrix.Relu, in); err != nil {
		return Buf{}, err
	}
	if err := checkElem(k, p, in); err != nil {
		return Buf{}, err
	}
	rows, c := int(p.Rows), int(p.C)
	out := NewBuf(dtype.F32, rows, c)
	for r := 0; r < rows; r++ {
		x, y := in.F32[r*c:(r+1)*c], out.F32[r*c:(r+1)*c]
		switch k.Op {
		case matrix.Softmax:
			m := x[0]
			for _, v := range x[1:] {
				if v > m {
					m = v
				}
			}
			var s float32
			for i, v := range x {
				y[i] = float32(math.Exp(float64(float32(v - m))))
				s = float32(s + y[i])
			}
			for i := range y {
				y[i] = float32(y[i] / s)
			}
		case matrix.Relu:
			for i, v := range x {
				y[i] = v
				if v < 0 {
					y[i] = 0
				}
			}
		case matrix.Tanh:
			for i, v := range x {
				y[i] = float32(math.Tanh(float64(v)))
			}
		case matrix.Sigmoid:
			for i, v := range x {
				e := float32(math.Exp(float64(-v)))
				y[i] = float32(1 / float32(1+e))
			}
		}
	}
	return out, nil
}

// Add is the reference of dq_add_f32_f32: out[i] = fl32(a[i] + b[i]).
func Add(k matrix.Kernel, p ElementwiseParams, a, b Buf) (Buf, error) {
	if err := checkType(k, matrix.Add, a, b); err != nil {
		return Buf{}, err
	}
	if err := checkElem(k, p, a, b); err != nil {
		return Buf{}, err
	}
	n := int(p.Rows * p.C)
	out := NewBuf(dtype.F32, 1, n)
	for i := 0; i < n; i++ {
		out.F32[i] = float32(a.F32[i] + b.F32[i])
	}
	return out, nil
}
