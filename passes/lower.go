package passes

import (
	"fmt"
	"math"
	"slices"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// splitInputQuantizers moves a Larq input_quantizer still held in a layer's
// attrs into its own OpQuantize node "<layer>/input_quantizer", the form the
// importer produces, so that later passes see one shape. When the importer
// already made that node (and kept the attr for information), only the attr
// is cleared.
func splitInputQuantizers(s *State) error {
	var nodes []*ir.Node
	producer := map[*ir.Tensor]*ir.Node{}
	for _, n := range s.G.Nodes {
		for _, t := range n.Outputs {
			producer[t] = n
		}
	}
	for _, n := range s.G.Nodes {
		if len(n.Inputs) > 0 {
			if p := producer[n.Inputs[0]]; p != nil && p.Op == ir.OpQuantize && p.Name == n.Name+"/input_quantizer" {
				switch a := n.Attrs.(type) {
				case *ir.DenseAttrs:
					a.InputQuantizer = nil
				case *ir.ConvAttrs:
					a.InputQuantizer = nil
				}
			}
		}
		var q **ir.Quantizer
		switch a := n.Attrs.(type) {
		case *ir.DenseAttrs:
			q = &a.InputQuantizer
		case *ir.ConvAttrs:
			q = &a.InputQuantizer
		}
		if q != nil && *q != nil {
			qt, err := signQuant(*q)
			if err != nil {
				return fmt.Errorf("layer %q: input_quantizer: %w", n.Name, err)
			}
			in := n.Inputs[0]
			t := &ir.Tensor{Name: s.uniqueName(n.Name + "/input_quantizer"), Shape: append([]int(nil), in.Shape...), Quant: qt}
			qn := &ir.Node{Name: t.Name, Op: ir.OpQuantize, Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{t},
				Attrs: &ir.QuantizeAttrs{Quantizer: *q}}
			n.Inputs[0] = t
			*q = nil
			nodes = append(nodes, qn)
		}
		nodes = append(nodes, n)
	}
	s.G.Nodes = nodes
	return nil
}

// signQuant is the Quant of a sign quantizer's output (±scale, stored as s1).
func signQuant(q *ir.Quantizer) (ir.Quant, error) {
	f, ok := q.Form.(ir.Sign)
	if !ok || f.ZeroOne || f.ScaleFromData != "" {
		return ir.Quant{}, fmt.Errorf("quantizer %s is not a sign quantizer with a fixed scale; expected the importer to split it into its own node", q.Text)
	}
	scale := float32(1)
	if f.Scale != 0 {
		scale = float32(f.Scale)
	}
	return ir.Quant{DType: dtype.S1, Scale: []float32{scale}, Bits: 1, Quantizer: q}, nil
}

// quantizedIO: with Options.QuantizedIO, a model input read only by
// quantizers that all produce the same quantized type takes that type, and
// the quantizers disappear: the caller passes already-quantized data.
func quantizedIO(s *State) error {
	if !s.Opt.QuantizedIO {
		return nil
	}
	cons := consumers(s.G)
	drop := map[*ir.Node]bool{}
	for _, in := range s.G.Inputs {
		cs := cons[in]
		if len(cs) == 0 || isGraphOutput(s.G, in) {
			continue
		}
		var q *ir.Quant
		ok := true
		for _, c := range cs {
			if c.Op != ir.OpQuantize || c.Outputs[0].Quant.DType == dtype.F32 {
				ok = false
				break
			}
			cq := c.Outputs[0].Quant
			if q == nil {
				q = &cq
			} else if !sameQuant(*q, cq) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		in.Quant = *q
		for _, c := range cs {
			drop[c] = true
			replaceUses(s.G, c.Outputs[0], in)
		}
	}
	removeNodes(s.G, drop)
	return nil
}

func sameQuant(a, b ir.Quant) bool {
	if a.DType != b.DType || a.ZeroPoint != b.ZeroPoint || a.QMin != b.QMin || a.QMax != b.QMax || len(a.Scale) != len(b.Scale) {
		return false
	}
	for i := range a.Scale {
		if a.Scale[i] != b.Scale[i] {
			return false
		}
	}
	return true
}

// lowerCompute turns dense, conv2d and depthwise_conv2d nodes into kernel
// calls: weights in kernel layout with their storage codes and per-channel
// scales, and a Stage holding the bias and a fused relu. Other activations
// become their own node after the call.
func lowerCompute(s *State) error {
	var nodes []*ir.Node
	for _, n := range s.G.Nodes {
		var k *ir.KernelAttrs
		var act string
		if err := s.checkKernelValues(n); err != nil {
			return fmt.Errorf("layer %q (%s): %w", n.Name, n.Class, err)
		}
		var err error
		switch a := n.Attrs.(type) {
		case *ir.DenseAttrs:
			if n.Op != ir.OpDense {
				break
			}
			k, err = lowerDense(n, a)
			act = a.Activation
		case *ir.ConvAttrs:
			switch n.Op {
			case ir.OpConv2D, ir.OpDepthwiseConv:
				k, err = lowerConv(n, a)
				act = a.Activation
			case ir.OpConv2DTranspose:
				k, err = lowerTranspose(n, a)
				act = a.Activation
			}
		}
		if err != nil {
			return fmt.Errorf("layer %q (%s): %w", n.Name, n.Class, err)
		}
		if k == nil {
			nodes = append(nodes, n)
			continue
		}
		k.Layer = n.Name
		k.Fused = []string{n.Name}
		out := n.Outputs[0]
		kn := &ir.Node{Name: n.Name, Class: n.Class, Op: ir.OpKernel, Inputs: n.Inputs, Outputs: n.Outputs, Attrs: k}
		switch act {
		case "", "linear":
		case "relu":
			k.Stage.Relu = true
		case "softmax", "tanh", "sigmoid":
			// The kernel writes the linear output; the activation gets its own call.
			lin := &ir.Tensor{Name: s.uniqueName(n.Name + "/linear"), Shape: append([]int(nil), out.Shape...), Quant: ir.Float()}
			kn.Outputs = []*ir.Tensor{lin}
			an := &ir.Node{Name: s.uniqueName(n.Name + "/" + act), Class: "Activation", Op: ir.OpActivation,
				Inputs: []*ir.Tensor{lin}, Outputs: []*ir.Tensor{out}, Attrs: &ir.ActivationAttrs{Function: act}}
			nodes = append(nodes, kn, an)
			continue
		default:
			return fmt.Errorf("layer %q (%s): activation %q is not supported; use relu, softmax, tanh, sigmoid or linear", n.Name, n.Class, act)
		}
		nodes = append(nodes, kn)
	}
	s.G.Nodes = nodes
	return nil
}

func lowerDense(n *ir.Node, a *ir.DenseAttrs) (*ir.KernelAttrs, error) {
	in := n.Inputs[0]
	if len(in.Shape) != 1 {
		return nil, fmt.Errorf("input %q has shape %s: dense needs a rank-1 input; add a Flatten before the layer", in.Name, shapeStr(in.Shape))
	}
	if len(a.Kernel.Shape) != 2 || a.Kernel.Shape[0] != in.Shape[0] {
		return nil, fmt.Errorf("kernel shape %s does not match input length %d", shapeStr(a.Kernel.Shape), in.Shape[0])
	}
	inN, outN := a.Kernel.Shape[0], a.Kernel.Shape[1]
	if err := checkValues(a.Kernel); err != nil {
		return nil, err
	}
	var data []float32
	if a.Kernel.Data != nil {
		data = make([]float32, inN*outN)
		for i := 0; i < inN; i++ {
			for o := 0; o < outN; o++ {
				data[o*inN+i] = a.Kernel.Data[i*outN+o]
			}
		}
	}
	w, err := kernelWeights(a.KernelQuant, []int{outN, inN}, data, outN, func(c int) int { return c })
	if err != nil {
		return nil, err
	}
	st, err := newStage(a.Bias, outN)
	if err != nil {
		return nil, err
	}
	return &ir.KernelAttrs{Kind: ir.KindDense, W: w.DType, Dense: &ir.DenseGeom{InN: inN, OutN: outN}, Weights: w, Stage: st}, nil
}

func lowerConv(n *ir.Node, a *ir.ConvAttrs) (*ir.KernelAttrs, error) {
	in, out := n.Inputs[0], n.Outputs[0]
	if len(in.Shape) != 3 || len(out.Shape) != 3 {
		return nil, fmt.Errorf("convolution needs rank-3 (H, W, C) input and output, got %s and %s", shapeStr(in.Shape), shapeStr(out.Shape))
	}
	g := &ir.ConvGeom{InH: in.Shape[0], InW: in.Shape[1], InC: in.Shape[2],
		KH: a.KernelH, KW: a.KernelW, StrideH: max(a.StrideH, 1), StrideW: max(a.StrideW, 1),
		DilH: max(a.DilationH, 1), DilW: max(a.DilationW, 1), PadValue: a.PadValue, PoolH: 1, PoolW: 1, PoolStrideH: 1, PoolStrideW: 1}
	var err error
	if a.Padding == "explicit" {
		// A merged ZeroPadding2D: the kernels take pad_top/pad_left and
		// derive the bottom/right padding from the output size.
		if a.PadTop < 0 || a.PadBottom < 0 || a.PadLeft < 0 || a.PadRight < 0 {
			return nil, fmt.Errorf("negative explicit padding %d,%d,%d,%d", a.PadTop, a.PadBottom, a.PadLeft, a.PadRight)
		}
		if g.ConvH, _, err = convOut(g.InH+a.PadTop+a.PadBottom, g.KH, g.StrideH, g.DilH, "valid"); err != nil {
			return nil, err
		}
		if g.ConvW, _, err = convOut(g.InW+a.PadLeft+a.PadRight, g.KW, g.StrideW, g.DilW, "valid"); err != nil {
			return nil, err
		}
		g.PadTop, g.PadLeft = a.PadTop, a.PadLeft
	} else {
		g.ConvH, g.PadTop, err = convOut(g.InH, g.KH, g.StrideH, g.DilH, a.Padding)
		if err != nil {
			return nil, err
		}
		g.ConvW, g.PadLeft, err = convOut(g.InW, g.KW, g.StrideW, g.DilW, a.Padding)
		if err != nil {
			return nil, err
		}
	}
	g.OutH, g.OutW, g.OutC = g.ConvH, g.ConvW, out.Shape[2]
	if g.OutH != out.Shape[0] || g.OutW != out.Shape[1] {
		return nil, fmt.Errorf("output shape %s does not match the convolution arithmetic (%d x %d)", shapeStr(out.Shape), g.OutH, g.OutW)
	}
	ks := a.Kernel.Shape
	if len(ks) != 4 || ks[0] != g.KH || ks[1] != g.KW || ks[2] != g.InC {
		return nil, fmt.Errorf("kernel shape %s does not match %dx%d over %d input channels", shapeStr(ks), g.KH, g.KW, g.InC)
	}
	if err := checkValues(a.Kernel); err != nil {
		return nil, err
	}
	if g.KH < 1 || g.KW < 1 {
		return nil, fmt.Errorf("kernel size %dx%d is not positive", g.KH, g.KW)
	}
	if n.Op == ir.OpDepthwiseConv {
		mult := ks[3]
		g.DepthMultiplier = mult
		if g.OutC != g.InC*mult {
			return nil, fmt.Errorf("depthwise output has %d channels, want %d x %d", g.OutC, g.InC, mult)
		}
		// Keras's (kh, kw, in, mult) row-major order is already [kh][kw][in*mult].
		data := slices.Clone(a.Kernel.Data)
		w, err := kernelWeights(a.KernelQuant, []int{g.KH, g.KW, g.OutC}, data, g.OutC, func(c int) int {
			if len(a.KernelQuant.Scale) == mult {
				return c % mult // QKeras auto scales are per last kernel axis (the multiplier index)
			}
			return c
		})
		if err != nil {
			return nil, err
		}
		st, err := newStage(a.Bias, g.OutC)
		if err != nil {
			return nil, err
		}
		return &ir.KernelAttrs{Kind: ir.KindDWConv2D, W: w.DType, Conv: g, Weights: w, Stage: st}, nil
	}
	if ks[3] != g.OutC {
		return nil, fmt.Errorf("kernel has %d filters, output has %d channels", ks[3], g.OutC)
	}
	// Keras (kh, kw, in, out) -> OHWI.
	var data []float32
	if a.Kernel.Data != nil {
		data = make([]float32, len(a.Kernel.Data))
	}
	for y := 0; y < g.KH && data != nil; y++ {
		for x := 0; x < g.KW; x++ {
			for i := 0; i < g.InC; i++ {
				for o := 0; o < g.OutC; o++ {
					data[((o*g.KH+y)*g.KW+x)*g.InC+i] = a.Kernel.Data[((y*g.KW+x)*g.InC+i)*g.OutC+o]
				}
			}
		}
	}
	w, err := kernelWeights(a.KernelQuant, []int{g.OutC, g.KH, g.KW, g.InC}, data, g.OutC, func(c int) int { return c })
	if err != nil {
		return nil, err
	}
	st, err := newStage(a.Bias, g.OutC)
	if err != nil {
		return nil, err
	}
	kind := ir.KindConv2D
	if g.KH == 1 && g.KW == 1 && g.PadTop == 0 && g.PadLeft == 0 {
		kind = ir.KindPWConv2D
	}
	return &ir.KernelAttrs{Kind: kind, W: w.DType, Conv: g, Weights: w, Stage: st}, nil
}

// convOut returns the output size and the leading padding of one spatial
// dimension (TF's SAME split: before = total / 2).
func convOut(in, k, stride, dil int, padding string) (out, before int, err error) {
	ek := (k-1)*dil + 1
	switch padding {
	case "valid", "":
		if in < ek {
			return 0, 0, fmt.Errorf("input size %d is smaller than the kernel extent %d", in, ek)
		}
		return (in-ek)/stride + 1, 0, nil
	case "same":
		out = (in + stride - 1) / stride
		total := max((out-1)*stride+ek-in, 0)
		return out, total / 2, nil
	}
	return 0, 0, fmt.Errorf("padding %q is not supported (valid or same)", padding)
}

func newStage(bias *ir.Weights, outC int) (*ir.Stage, error) {
	st := &ir.Stage{}
	if bias != nil && bias.Data == nil && len(bias.Shape) == 1 && bias.Shape[0] == outC {
		st.UnknownBias = true // shapes only
		return st, nil
	}
	if bias != nil {
		if len(bias.Data) != outC {
			return nil, fmt.Errorf("bias has %d values for %d output channels", len(bias.Data), outC)
		}
		st.Bias = append([]float32(nil), bias.Data...)
	}
	return st, nil
}

// kernelWeights derives storage codes from the real weight values:
// S1 stores sign(value) (sign(0) = +1) with the channel's scale, S8 stores
// value/scale, which must be an integer in [-128, 127].
func kernelWeights(q ir.Quant, shape []int, data []float32, outC int, scaleIdx func(c int) int) (*ir.KernelWeights, error) {
	dt := q.DType
	if dt == dtype.Invalid {
		dt = dtype.F32
	}
	w := &ir.KernelWeights{DType: dt, Shape: shape, Data: data, Scale: make([]float32, outC)}
	if data == nil && dt != dtype.F32 && q.Scale == nil {
		// Shapes only, scales computed from the absent values.
		w.Scale, w.ScalesPow2 = nil, q.ScalesPow2
		return w, nil
	}
	chanOf := channelOf(shape)
	for c := range w.Scale {
		w.Scale[c] = 1
		if dt == dtype.F32 {
			continue
		}
		switch len(q.Scale) {
		case 0:
		case 1:
			w.Scale[c] = q.Scale[0]
		default:
			i := scaleIdx(c)
			if i >= len(q.Scale) {
				return nil, fmt.Errorf("kernel quantizer has %d scales for %d output channels", len(q.Scale), outC)
			}
			w.Scale[c] = q.Scale[i]
		}
		if w.Scale[c] <= 0 || math.IsInf(float64(w.Scale[c]), 0) || math.IsNaN(float64(w.Scale[c])) {
			return nil, fmt.Errorf("kernel scale %g of channel %d is not a positive number", w.Scale[c], c)
		}
	}
	if dt == dtype.F32 || data == nil {
		return w, nil
	}
	if dt != dtype.S1 && dt != dtype.S8 {
		return nil, fmt.Errorf("kernel stored as %s is not supported", dt)
	}
	w.Codes = make([]int32, len(data))
	for i, v := range data {
		c := chanOf(i)
		if dt == dtype.S1 {
			if v >= 0 {
				w.Codes[i] = 1
			} else {
				w.Codes[i] = -1
			}
			continue
		}
		code := math.RoundToEven(float64(v) / float64(w.Scale[c]))
		if code < -128 || code > 127 {
			return nil, fmt.Errorf("weight %g / scale %g = %g does not fit 8 bits", v, w.Scale[c], code)
		}
		w.Codes[i] = int32(code)
	}
	return w, nil
}

// channelOf maps a flat weight index in kernel layout to its output channel:
// the first axis for dense/OHWI, the last for depthwise [kh][kw][c].
func channelOf(shape []int) func(i int) int {
	if len(shape) == 3 { // depthwise
		c := shape[2]
		return func(i int) int { return i % c }
	}
	per := 1
	for _, d := range shape[1:] {
		per *= d
	}
	return func(i int) int { return i / per }
}

// lowerBatchNorm turns each batch-norm not folded into a compute kernel into
// an affine call (acc = x, or q - zp for s8 input) whose stage is the BN.
func lowerBatchNorm(s *State) error {
	for i, n := range s.G.Nodes {
		if n.Op != ir.OpBatchNorm {
			continue
		}
		a, ok := n.Attrs.(*ir.BatchNormAttrs)
		if !ok {
			return fmt.Errorf("layer %q: batch-norm without BatchNormAttrs", n.Name)
		}
		in := n.Inputs[0]
		c := in.Shape[len(in.Shape)-1]
		if !bnShapesOnly(s, a) && (len(a.Gamma) != c || len(a.Beta) != c || len(a.Mean) != c || len(a.Variance) != c) {
			return fmt.Errorf("layer %q (%s): batch-norm parameters do not have %d channels", n.Name, n.Class, c)
		}
		s.G.Nodes[i] = &ir.Node{Name: n.Name, Class: n.Class, Op: ir.OpKernel, Inputs: n.Inputs, Outputs: n.Outputs,
			Attrs: &ir.KernelAttrs{Kind: ir.KindAffine, Layer: n.Name, Fused: []string{n.Name}, Rows: ir.NumElements(in.Shape) / c, C: c,
				Stage: &ir.Stage{BN: a, BNName: n.Name}}}
	}
	return nil
}

// lowerTranspose lowers a Conv2DTranspose with strides 1, dilation 1 and
// padding "valid" (the reference tool's limits, §4.1) to the equivalent
// convolution: the input zero-padded by k-1 on every side (padded taps
// contribute nothing) and the kernel flipped spatially with its channel
// axes swapped, OHWI[o][ky][kx][i] = W[kh-1-ky][kw-1-kx][o][i]. Float sums then
// run in the flipped kernel's order. Weight scales along the input-channel
// axis (QKeras auto scales of a transposed kernel) cannot be factored out of
// an output channel's sum, so such kernels are stored as their f32 values.
func lowerTranspose(n *ir.Node, a *ir.ConvAttrs) (*ir.KernelAttrs, error) {
	in, out := n.Inputs[0], n.Outputs[0]
	if len(in.Shape) != 3 || len(out.Shape) != 3 {
		return nil, fmt.Errorf("transposed convolution needs rank-3 (H, W, C) input and output")
	}
	if max(a.StrideH, 1) != 1 || max(a.StrideW, 1) != 1 || max(a.DilationH, 1) != 1 || max(a.DilationW, 1) != 1 || (a.Padding != "valid" && a.Padding != "") {
		return nil, fmt.Errorf("Conv2DTranspose is supported with strides 1, dilation 1 and padding=\"valid\" (as in the reference tool); got strides %dx%d, dilation %dx%d, padding %q",
			a.StrideH, a.StrideW, a.DilationH, a.DilationW, a.Padding)
	}
	kh, kw := a.KernelH, a.KernelW
	ks := a.Kernel.Shape
	g := &ir.ConvGeom{InH: in.Shape[0], InW: in.Shape[1], InC: in.Shape[2], KH: kh, KW: kw, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1,
		PadTop: kh - 1, PadLeft: kw - 1, OutC: out.Shape[2], PoolH: 1, PoolW: 1, PoolStrideH: 1, PoolStrideW: 1}
	g.ConvH, g.ConvW = g.InH+kh-1, g.InW+kw-1
	g.OutH, g.OutW = g.ConvH, g.ConvW
	if kh < 1 || kw < 1 || len(ks) != 4 || ks[0] != kh || ks[1] != kw || ks[2] != g.OutC || ks[3] != g.InC || checkValues(a.Kernel) != nil {
		return nil, fmt.Errorf("kernel shape %s does not match %dx%d, %d filters over %d input channels", shapeStr(ks), kh, kw, g.OutC, g.InC)
	}
	if out.Shape[0] != g.OutH || out.Shape[1] != g.OutW {
		return nil, fmt.Errorf("output shape %s does not match the transposed convolution arithmetic (%d x %d)", shapeStr(out.Shape), g.OutH, g.OutW)
	}
	var data []float32
	if a.Kernel.Data != nil {
		data = make([]float32, len(a.Kernel.Data))
	}
	for o := 0; o < g.OutC && data != nil; o++ {
		for y := 0; y < kh; y++ {
			for x := 0; x < kw; x++ {
				for i := 0; i < g.InC; i++ {
					data[((o*kh+y)*kw+x)*g.InC+i] = a.Kernel.Data[(((kh-1-y)*kw+(kw-1-x))*g.OutC+o)*g.InC+i]
				}
			}
		}
	}
	q := a.KernelQuant
	if len(q.Scale) > 1 || q.Scale == nil && q.DType != dtype.F32 {
		q = ir.Float()
	}
	w, err := kernelWeights(q, []int{g.OutC, kh, kw, g.InC}, data, g.OutC, func(c int) int { return c })
	if err != nil {
		return nil, err
	}
	st, err := newStage(a.Bias, g.OutC)
	if err != nil {
		return nil, err
	}
	return &ir.KernelAttrs{Kind: ir.KindConv2D, W: w.DType, Conv: g, Weights: w, Stage: st}, nil
}
