// Package interp is dqnn's reference interpreter: it runs an imported
// ir.Graph with Keras's inference semantics in float32 and is the oracle the
// generated C is validated against. It deliberately shares no code with the
// C templates or the kernel generator.
//
// Numerics (see the team's numerics conventions): every operation rounds to
// float32; dot products sum in the canonical order (ascending ky, kx, input
// channel; dense: ascending input index) from 0 and add the bias after the
// sum (±1-weight convolutions over one input channel per output channel: each
// kernel row on its own, then the rows, see rowSums); zero padding contributes nothing, Larq pad_values pads with the value
// after input quantization; batch normalization uses TF's fused (rank 4) or
// non-fused (rank 2) formula; quantizers are evaluated by their importer's
// record (ir.Quantizer.Keras: package quant's Keras formulas, never the
// compiler's lowering of their Form), with the s8 results Keras leaves
// undefined (NaN, and Inf through the straight-through estimator)
// saturated as docs/semantics.md states.
//
// Larq input quantizers and QKeras quantizer activations are OpQuantize
// nodes in an imported graph; DenseAttrs/ConvAttrs.InputQuantizer only
// records them and is applied here only when the layer's input does not come
// from its "<layer>/input_quantizer" node (hand-built graphs).
package interp

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Run evaluates g on one sample: inputs[i] holds the row-major values of
// g.Inputs[i]. It returns the values of g.Outputs in order.
func Run(g *ir.Graph, inputs [][]float32) ([][]float32, error) {
	vals, err := run(g, inputs)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(g.Outputs))
	for i, t := range g.Outputs {
		out[i] = vals[t]
	}
	return out, nil
}

// RunTrace evaluates g like Run and returns every tensor's values (inputs
// included) by tensor name.
func RunTrace(g *ir.Graph, inputs [][]float32) (map[string][]float32, error) {
	vals, err := run(g, inputs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]float32, len(vals))
	for t, v := range vals {
		out[t.Name] = v
	}
	return out, nil
}

func run(g *ir.Graph, inputs [][]float32) (map[*ir.Tensor][]float32, error) {
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("model %s: %d inputs given, the model has %d", g.Name, len(inputs), len(g.Inputs))
	}
	vals := map[*ir.Tensor][]float32{}
	for i, t := range g.Inputs {
		if n := ir.NumElements(t.Shape); len(inputs[i]) != n {
			return nil, fmt.Errorf("model %s: input %q has %d values, want %d for shape %v", g.Name, t.Name, len(inputs[i]), n, t.Shape)
		}
		vals[t] = inputs[i]
	}
	producer := map[*ir.Tensor]string{}
	for _, n := range g.Nodes {
		for _, t := range n.Outputs {
			producer[t] = n.Name
		}
	}
	for _, n := range g.Nodes {
		ins := make([][]float32, len(n.Inputs))
		for i, t := range n.Inputs {
			v, ok := vals[t]
			if !ok {
				return nil, fmt.Errorf("node %q: input %q is not computed yet (graph not topologically sorted?)", n.Name, t.Name)
			}
			ins[i] = v
		}
		if len(n.Outputs) != 1 {
			return nil, fmt.Errorf("node %q: %d outputs; every op has exactly one", n.Name, len(n.Outputs))
		}
		// A layer whose input quantizer was not split into its own node
		// (hand-built graphs) gets it applied here, once.
		if q := inputQuantizer(n); q != nil && len(ins) > 0 && producer[n.Inputs[0]] != n.Name+"/input_quantizer" {
			v, err := applyQuantizer(q, ins[0], n.Inputs[0].Shape)
			if err != nil {
				return nil, fmt.Errorf("node %q: input_quantizer: %w", n.Name, err)
			}
			ins[0] = v
		}
		out, err := eval(n, ins)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s %s): %w", n.Name, n.Class, n.Op, err)
		}
		if want := ir.NumElements(n.Outputs[0].Shape); len(out) != want {
			return nil, fmt.Errorf("node %q: computed %d values for output shape %v", n.Name, len(out), n.Outputs[0].Shape)
		}
		vals[n.Outputs[0]] = out
	}
	return vals, nil
}

// applyQuantizer evaluates q on x (shape: channels last, no batch) with
// Keras's formulas, as the importer recorded it; a nil q is the identity.
func applyQuantizer(q *ir.Quantizer, x []float32, shape []int) ([]float32, error) {
	if n := ir.NumElements(shape); n != len(x) {
		return nil, fmt.Errorf("quantizer: %d values for shape %v (%d elements)", len(x), shape, n)
	}
	if q == nil {
		return append([]float32(nil), x...), nil
	}
	if q.Keras == nil {
		return nil, fmt.Errorf("quantizer %s has no Keras record to evaluate (the importer sets it)", q.Text)
	}
	return q.Keras.Apply(x, shape)
}

func eval(n *ir.Node, ins [][]float32) ([]float32, error) {
	in0 := n.Inputs[0]
	out0 := n.Outputs[0]
	switch n.Op {
	case ir.OpQuantize:
		a, ok := n.Attrs.(*ir.QuantizeAttrs)
		if !ok {
			return nil, attrsErr(n)
		}
		out, err := applyQuantizer(a.Quantizer, ins[0], in0.Shape)
		if err != nil {
			return nil, err
		}
		saturateEdges(out0.Quant, ins[0], out)
		return out, nil
	case ir.OpDense:
		a, ok := n.Attrs.(*ir.DenseAttrs)
		if !ok {
			return nil, attrsErr(n)
		}
		y, err := dense(a, ins[0], in0.Shape)
		if err != nil {
			return nil, err
		}
		return activate(a.Activation, y, out0.Shape)
	case ir.OpConv2D, ir.OpDepthwiseConv, ir.OpConv2DTranspose:
		a, ok := n.Attrs.(*ir.ConvAttrs)
		if !ok {
			return nil, attrsErr(n)
		}
		y, err := conv(n.Op, a, ins[0], in0.Shape, out0.Shape)
		if err != nil {
			return nil, err
		}
		return activate(a.Activation, y, out0.Shape)
	case ir.OpBatchNorm:
		a, ok := n.Attrs.(*ir.BatchNormAttrs)
		if !ok {
			return nil, attrsErr(n)
		}
		return batchNorm(a, ins[0], in0.Shape)
	case ir.OpMaxPool, ir.OpAvgPool:
		a, ok := n.Attrs.(*ir.PoolAttrs)
		if !ok {
			return nil, attrsErr(n)
		}
		return pool(n.Op == ir.OpMaxPool, a, ins[0], in0.Shape, out0.Shape)
	case ir.OpActivation:
		a, ok := n.Attrs.(*ir.ActivationAttrs)
		if !ok {
			return nil, attrsErr(n)
		}
		return activate(a.Function, ins[0], out0.Shape)
	case ir.OpReshape:
		return append([]float32(nil), ins[0]...), nil
	case ir.OpConcat:
		return concat(n, ins)
	case ir.OpAdd:
		out := append([]float32(nil), ins[0]...)
		for k, v := range ins[1:] {
			if len(v) != len(out) {
				return nil, fmt.Errorf("input %d has %d values, input 0 has %d", k+1, len(v), len(out))
			}
			for i := range out {
				out[i] = float32(out[i] + v[i])
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("op %q is not supported by the reference interpreter", n.Op)
}

func inputQuantizer(n *ir.Node) *ir.Quantizer {
	switch a := n.Attrs.(type) {
	case *ir.DenseAttrs:
		return a.InputQuantizer
	case *ir.ConvAttrs:
		return a.InputQuantizer
	}
	return nil
}

func attrsErr(n *ir.Node) error {
	return fmt.Errorf("attributes have type %T, not the one op %q needs", n.Attrs, n.Op)
}

func needWeights(name string, data []float32, n int) error {
	if data == nil {
		return fmt.Errorf("%s has no values (architecture-only import?); load the model with its weights", name)
	}
	if len(data) != n {
		return fmt.Errorf("%s has %d values, want %d", name, len(data), n)
	}
	return nil
}

func dense(a *ir.DenseAttrs, x []float32, inShape []int) ([]float32, error) {
	nin := len(x)
	u := a.Units
	if err := needWeights("kernel", a.Kernel.Data, nin*u); err != nil {
		return nil, err
	}
	if a.Bias != nil {
		if err := needWeights("bias", a.Bias.Data, u); err != nil {
			return nil, err
		}
	}
	w := a.Kernel.Data
	out := make([]float32, u)
	for o := 0; o < u; o++ {
		var acc float32
		for i := 0; i < nin; i++ {
			acc = float32(acc + float32(x[i]*w[i*u+o]))
		}
		if a.Bias != nil {
			acc = float32(acc + a.Bias.Data[o])
		}
		out[o] = acc
	}
	return out, nil
}

// padBefore is TF's SAME split: total = max((out-1)·s + (k-1)·d + 1 - in, 0), before = total/2.
func padBefore(padding string, in, out, k, s, d int) int {
	if padding != "same" {
		return 0
	}
	total := (out-1)*s + (k-1)*d + 1 - in
	if total < 0 {
		return 0
	}
	return total / 2
}

// convPads returns the rows and columns padded before the input of a
// convolution: TF's SAME split, the explicit amounts of a merged
// ZeroPadding2D, or 0.
func convPads(a *ir.ConvAttrs, H, W, OH, OW int) (top, left int) {
	if a.Padding == "explicit" {
		return a.PadTop, a.PadLeft
	}
	return padBefore(a.Padding, H, OH, a.KernelH, max(a.StrideH, 1), max(a.DilationH, 1)), padBefore(a.Padding, W, OW, a.KernelW, max(a.StrideW, 1), max(a.DilationW, 1))
}

// rowSums reports whether a convolution sums each kernel row from 0 before
// adding the rows from 0 (instead of the canonical order): one input channel
// per output channel (depthwise, or conv2d over one input channel) with ±1
// (s1) weights, the order of the C kernel dq_dwconv2d_f32_s1_* (gen/ref.RowSums),
// which shares the row sums between channels. For inputs whose sums are
// exact (quantized inputs) the order makes no difference.
func rowSums(a *ir.ConvAttrs, oneInputChannel bool) bool {
	return oneInputChannel && a.KernelQuant.DType == dtype.S1
}

func conv(op ir.Op, a *ir.ConvAttrs, x []float32, inShape, outShape []int) ([]float32, error) {
	if len(inShape) != 3 || len(outShape) != 3 {
		return nil, fmt.Errorf("needs rank-3 (HWC) input and output shapes, got %v and %v", inShape, outShape)
	}
	H, W, C := inShape[0], inShape[1], inShape[2]
	OH, OW, OC := outShape[0], outShape[1], outShape[2]
	kh, kw := a.KernelH, a.KernelW
	sh, sw, dh, dw := max(a.StrideH, 1), max(a.StrideW, 1), max(a.DilationH, 1), max(a.DilationW, 1)
	if err := needWeights("kernel", a.Kernel.Data, ir.NumElements(a.Kernel.Shape)); err != nil {
		return nil, err
	}
	if a.Bias != nil {
		if err := needWeights("bias", a.Bias.Data, OC); err != nil {
			return nil, err
		}
	}
	w := a.Kernel.Data
	out := make([]float32, OH*OW*OC)
	bias := func(co int, acc float32) float32 {
		if a.Bias != nil {
			return float32(acc + a.Bias.Data[co])
		}
		return acc
	}
	switch op {
	case ir.OpConv2D:
		if ir.NumElements(a.Kernel.Shape) != kh*kw*C*OC {
			return nil, fmt.Errorf("kernel shape %v does not match (%d,%d,%d,%d)", a.Kernel.Shape, kh, kw, C, OC)
		}
		pt, pl := convPads(a, H, W, OH, OW)
		pv := a.PadValue
		rows := rowSums(a, C == 1)
		for oy := 0; oy < OH; oy++ {
			for ox := 0; ox < OW; ox++ {
				for co := 0; co < OC; co++ {
					var acc float32
					for ky := 0; ky < kh; ky++ {
						iy := oy*sh + ky*dh - pt
						var row float32
						dst := &acc
						if rows {
							dst = &row
						}
						for kx := 0; kx < kw; kx++ {
							ix := ox*sw + kx*dw - pl
							wb := ((ky*kw+kx)*C)*OC + co
							if iy < 0 || iy >= H || ix < 0 || ix >= W {
								if pv != 0 {
									for ci := 0; ci < C; ci++ {
										*dst = float32(*dst + float32(pv*w[wb+ci*OC]))
									}
								}
								continue
							}
							xb := (iy*W + ix) * C
							for ci := 0; ci < C; ci++ {
								*dst = float32(*dst + float32(x[xb+ci]*w[wb+ci*OC]))
							}
						}
						if rows {
							acc = float32(acc + row)
						}
					}
					out[(oy*OW+ox)*OC+co] = bias(co, acc)
				}
			}
		}
	case ir.OpDepthwiseConv:
		m := max(a.DepthMultiplier, 1)
		if OC != C*m || ir.NumElements(a.Kernel.Shape) != kh*kw*C*m {
			return nil, fmt.Errorf("kernel shape %v / output channels %d do not match input channels %d × multiplier %d", a.Kernel.Shape, OC, C, m)
		}
		pt, pl := convPads(a, H, W, OH, OW)
		pv := a.PadValue
		rows := rowSums(a, true)
		for oy := 0; oy < OH; oy++ {
			for ox := 0; ox < OW; ox++ {
				for co := 0; co < OC; co++ {
					ci := co / m
					var acc float32
					for ky := 0; ky < kh; ky++ {
						iy := oy*sh + ky*dh - pt
						var row float32
						dst := &acc
						if rows {
							dst = &row
						}
						for kx := 0; kx < kw; kx++ {
							ix := ox*sw + kx*dw - pl
							wv := w[(ky*kw+kx)*OC+co]
							if iy < 0 || iy >= H || ix < 0 || ix >= W {
								if pv != 0 {
									*dst = float32(*dst + float32(pv*wv))
								}
								continue
							}
							*dst = float32(*dst + float32(x[(iy*W+ix)*C+ci]*wv))
						}
						if rows {
							acc = float32(acc + row)
						}
					}
					out[(oy*OW+ox)*OC+co] = bias(co, acc)
				}
			}
		}
	case ir.OpConv2DTranspose:
		// Stride 1, valid: out[oy][ox][co] = Σ_{ky,kx,ci} x[oy-ky][ox-kx][ci] · W[ky][kx][co][ci].
		if sh != 1 || sw != 1 || dh != 1 || dw != 1 || a.Padding != "valid" {
			return nil, fmt.Errorf("transposed convolution is supported with strides 1, dilation 1, padding valid only")
		}
		if ir.NumElements(a.Kernel.Shape) != kh*kw*OC*C {
			return nil, fmt.Errorf("kernel shape %v does not match (%d,%d,%d,%d)", a.Kernel.Shape, kh, kw, OC, C)
		}
		for oy := 0; oy < OH; oy++ {
			for ox := 0; ox < OW; ox++ {
				for co := 0; co < OC; co++ {
					var acc float32
					for ky := 0; ky < kh; ky++ {
						iy := oy - ky
						if iy < 0 || iy >= H {
							continue
						}
						for kx := 0; kx < kw; kx++ {
							ix := ox - kx
							if ix < 0 || ix >= W {
								continue
							}
							xb := (iy*W + ix) * C
							wb := ((ky*kw+kx)*OC + co) * C
							for ci := 0; ci < C; ci++ {
								acc = float32(acc + float32(x[xb+ci]*w[wb+ci]))
							}
						}
					}
					out[(oy*OW+ox)*OC+co] = bias(co, acc)
				}
			}
		}
	}
	return out, nil
}

func batchNorm(a *ir.BatchNormAttrs, x []float32, shape []int) ([]float32, error) {
	if len(shape) == 0 {
		return nil, fmt.Errorf("input has no channel axis")
	}
	C := shape[len(shape)-1]
	for name, p := range map[string][]float32{"gamma": a.Gamma, "beta": a.Beta, "moving_mean": a.Mean, "moving_variance": a.Variance} {
		if err := needWeights(name, p, C); err != nil {
			return nil, err
		}
	}
	out := make([]float32, len(x))
	for c := 0; c < C; c++ {
		inv := float32(1 / float32(math.Sqrt(float64(float32(a.Variance[c]+a.Epsilon)))))
		if a.Fused {
			sf := float32(inv * a.Gamma[c])
			for i := c; i < len(x); i += C {
				out[i] = float32(float32(float32(x[i]-a.Mean[c])*sf) + a.Beta[c])
			}
			continue
		}
		inv2 := float32(inv * a.Gamma[c])
		off := float32(a.Beta[c] - float32(a.Mean[c]*inv2))
		for i := c; i < len(x); i += C {
			out[i] = float32(float32(x[i]*inv2) + off)
		}
	}
	return out, nil
}

func pool(isMax bool, a *ir.PoolAttrs, x []float32, inShape, outShape []int) ([]float32, error) {
	if len(inShape) != 3 || len(outShape) != 3 {
		return nil, fmt.Errorf("needs rank-3 (HWC) shapes, got %v and %v", inShape, outShape)
	}
	H, W, C := inShape[0], inShape[1], inShape[2]
	OH, OW := outShape[0], outShape[1]
	sh, sw := max(a.StrideH, 1), max(a.StrideW, 1)
	pt, pl := padBefore(a.Padding, H, OH, a.PoolH, sh, 1), padBefore(a.Padding, W, OW, a.PoolW, sw, 1)
	out := make([]float32, OH*OW*C)
	// QKeras QAveragePooling2D averages x·area, then scales by the
	// quantized 1/area; QGlobalAveragePooling2D scales the plain sum.
	qavg := !isMax && a.AvgFactor != 0
	area := float32(a.PoolH * a.PoolW)
	for oy := 0; oy < OH; oy++ {
		for ox := 0; ox < OW; ox++ {
			for c := 0; c < C; c++ {
				var acc float32
				n := 0
				for ky := 0; ky < a.PoolH; ky++ {
					iy := oy*sh + ky - pt
					if iy < 0 || iy >= H {
						continue
					}
					for kx := 0; kx < a.PoolW; kx++ {
						ix := ox*sw + kx - pl
						if ix < 0 || ix >= W {
							continue
						}
						v := x[(iy*W+ix)*C+c]
						if qavg && !a.Sum {
							v = float32(v * area)
						}
						switch {
						case n == 0:
							acc = v
						case isMax:
							if v > acc {
								acc = v
							}
						default:
							acc = float32(acc + v)
						}
						n++
					}
				}
				if !isMax && n > 0 && !(qavg && a.Sum) {
					acc = float32(acc / float32(n))
				}
				if qavg {
					acc = float32(acc * a.AvgFactor)
				}
				out[(oy*OW+ox)*C+c] = acc
			}
		}
	}
	return out, nil
}

func activate(fn string, x []float32, shape []int) ([]float32, error) {
	switch fn {
	case "", "linear":
		return x, nil
	case "relu":
		out := make([]float32, len(x))
		for i, v := range x {
			if v > 0 {
				out[i] = v
			}
		}
		return out, nil
	case "tanh":
		out := make([]float32, len(x))
		for i, v := range x {
			out[i] = float32(math.Tanh(float64(v)))
		}
		return out, nil
	case "sigmoid":
		out := make([]float32, len(x))
		for i, v := range x {
			e := float32(math.Exp(float64(-v)))
			out[i] = float32(1 / float32(1+e))
		}
		return out, nil
	case "softmax":
		n := 1
		if len(shape) > 0 {
			n = shape[len(shape)-1]
		}
		out := make([]float32, len(x))
		for r := 0; r+n <= len(x); r += n {
			row := x[r : r+n]
			m := row[0]
			for _, v := range row[1:] {
				if v > m {
					m = v
				}
			}
			var s float32
			for i, v := range row {
				e := float32(math.Exp(float64(float32(v - m))))
				out[r+i] = e
				s = float32(s + e)
			}
			for i := range row {
				out[r+i] = float32(out[r+i] / s)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("activation %q is not supported", fn)
}

func concat(n *ir.Node, ins [][]float32) ([]float32, error) {
	out := make([]float32, 0, ir.NumElements(n.Outputs[0].Shape))
	rows := -1
	widths := make([]int, len(ins))
	for i, t := range n.Inputs {
		if len(t.Shape) == 0 {
			return nil, fmt.Errorf("input %q has no axis to concatenate", t.Name)
		}
		widths[i] = t.Shape[len(t.Shape)-1]
		r := 0
		if widths[i] > 0 {
			r = len(ins[i]) / widths[i]
		}
		if rows >= 0 && r != rows {
			return nil, fmt.Errorf("inputs differ in more than the last axis")
		}
		rows = r
	}
	for r := 0; r < rows; r++ {
		for i, v := range ins {
			out = append(out, v[r*widths[i]:(r+1)*widths[i]]...)
		}
	}
	return out, nil
}

// saturateEdges gives an s8-quantized tensor out (quantizer output for
// input x) the values the C output stage stores where Keras has none: TF's
// quantizers return NaN for a NaN input, and for +-Inf (x + (xq - x) is
// Inf - Inf in the straight-through estimator). +Inf becomes the highest
// code (QMax), -Inf and NaN the lowest (QMin), as dq_quantize does
// (docs/semantics.md). Finite inputs keep Keras's value.
func saturateEdges(q ir.Quant, x, out []float32) {
	if q.DType != dtype.S8 || len(q.Scale) == 0 {
		return
	}
	for i, v := range out {
		var code int32
		switch xi := float64(x[i]); {
		case math.IsInf(xi, 1):
			code = q.QMax
		case math.IsInf(xi, -1), math.IsNaN(xi), math.IsNaN(float64(v)):
			code = q.QMin
		default:
			continue
		}
		out[i] = float32(q.Scale[i%len(q.Scale)] * float32(code))
	}
}
