package passes

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// lowerRest lowers every node that no fusion absorbed: pools, activations,
// concatenation, addition, quantizers that could not fold into a producer
// (they become convert calls), reshapes (free aliases, except for s1
// tensors whose packed layout changes) and compute calls whose output type
// nothing fixed (f32).
func lowerRest(s *State) error {
	var nodes []*ir.Node
	for _, n := range s.G.Nodes {
		add, err := s.lowerOrKeep(n)
		if err != nil {
			return fmt.Errorf("layer %q (%s): %w", layerOf(n), className(n), err)
		}
		nodes = append(nodes, add...)
	}
	s.G.Nodes = nodes
	return nil
}

func className(n *ir.Node) string {
	if n.Class != "" {
		return n.Class
	}
	return string(n.Op)
}

func alias(n *ir.Node) *ir.Node {
	return &ir.Node{Name: n.Name, Class: n.Class, Op: ir.OpAlias, Inputs: n.Inputs[:1], Outputs: n.Outputs}
}

// activationKinds are the kernels of the activation functions with one.
var activationKinds = map[string]ir.KernelKind{"relu": ir.KindRelu, "softmax": ir.KindSoftmax, "tanh": ir.KindTanh, "sigmoid": ir.KindSigmoid}

func elemKernel(n *ir.Node, kind ir.KernelKind, in, out dtype.DType) *ir.Node {
	t := n.Outputs[0]
	c := 1
	if len(t.Shape) > 0 {
		c = t.Shape[len(t.Shape)-1]
	}
	return &ir.Node{Name: n.Name, Class: n.Class, Op: ir.OpKernel, Inputs: n.Inputs, Outputs: n.Outputs,
		Attrs: &ir.KernelAttrs{Kind: kind, In: in, Out: out, Layer: layerOf(n), Fused: []string{n.Name}, Rows: ir.NumElements(t.Shape) / max(c, 1), C: c}}
}

func (s *State) lowerOne(n *ir.Node) ([]*ir.Node, error) {
	if len(n.Inputs) == 0 || len(n.Outputs) != 1 {
		return nil, fmt.Errorf("node has %d inputs and %d outputs; dqnn lowers single-output nodes with inputs", len(n.Inputs), len(n.Outputs))
	}
	in, out := n.Inputs[0], n.Outputs[0]
	din := in.Quant.DType
	switch n.Op {
	case ir.OpKernel:
		k := kattrs(n)
		if k.Out == dtype.Invalid {
			k.Out = dtype.F32
		}
		if out.Quant.DType != k.Out {
			out.Quant = ir.Float()
		}
		return []*ir.Node{n}, nil
	case ir.OpAlias:
		return []*ir.Node{n}, nil
	case ir.OpQuantize:
		dout := out.Quant.DType
		var qz *ir.Quantizer
		if a, ok := n.Attrs.(*ir.QuantizeAttrs); ok {
			qz = a.Quantizer
		}
		f := formOf(n)
		_, identity := f.(ir.Identity)
		tern, isTern := f.(ir.Ternary)
		uni, isUni := f.(ir.Uniform)
		switch _, po2 := f.(ir.PowerOfTwo); {
		case dout == dtype.F32 && (f == nil || identity) && din == dtype.F32:
			return []*ir.Node{alias(n)}, nil
		case dout == dtype.F32 && exactStep(f):
			pre := s.inputToF32(n)
			step, err := s.lowerStep(n, qz)
			return append(pre, step...), err
		case dout == dtype.F32 && po2:
			return nil, fmt.Errorf("quantizer %s is not supported on activations: it produces powers of two (sign·2^e), which fit no s8 grid, and the kernel matrix has no element-wise power-of-two quantizer kernel (it would be dq_po2_f32_f32); use quantized_bits/quantized_relu on activations, or keep %s for weights only", quantText(out.Quant), qz.Class)
		case dout == dtype.F32 && isTern:
			return nil, fmt.Errorf("quantizer %s is not supported on activations: %s; use a ternary quantizer with a power-of-two scale (alpha None or a power of two) and a fixed positive threshold", quantText(out.Quant), tern.Inexact())
		case dout == dtype.F32 && isUni && uni.Relu && !uni.Sigmoid && uni.Leaky():
			return nil, fmt.Errorf("quantizer %s is not supported on activations: its negative branch fits the s8 grid only with a negative_slope that is a power of two in [2^-(bits-1), 1] and at most 8 bits; use such a slope (e.g. 0.5, 0.25)", quantText(out.Quant))
		case dout == dtype.F32:
			return nil, fmt.Errorf("quantizer %s produces values dqnn keeps in f32, which no C kernel computes; use a sign quantizer or an 8-bit quantized_bits/quantized_relu", quantText(out.Quant))
		case din == dtype.S1 && dout == dtype.S1, din == dout && sameQuant(in.Quant, out.Quant):
			return []*ir.Node{alias(n)}, nil // idempotent on these values: same bits
		}
		switch f := f.(type) {
		case ir.DoReFa:
			if dout == dtype.S8 && doReFaSplit(out.Quant) != nil {
				pre := s.inputToF32(n)
				return append(pre, s.lowerDoReFa(n)...), nil
			}
		case ir.Uniform:
			if dout == dtype.S8 && f.Relu && out.Quant.QMin < 0 {
				pre := s.inputToF32(n)
				return append(pre, s.lowerLeakyRelu(n, f)...), nil
			}
		case ir.Tanh:
			if dout == dtype.S8 {
				pre := s.inputToF32(n)
				tn, err := s.lowerTanh(n, f)
				return append(pre, tn...), err
			}
		}
		if dout == dtype.S8 {
			if err := checkS8(out); err != nil {
				return nil, err
			}
			if !isPow2(out.Quant.Scale[0]) {
				s.note(Note{Layer: layerOf(n), Kind: "inexact", Reason: fmt.Sprintf("quantizer %s has a scale (%g) that is not a power of two", quantText(out.Quant), out.Quant.Scale[0]),
					Hint: "use a power-of-two quantizer for bit-exact results"})
			}
		}
		return []*ir.Node{elemKernel(n, ir.KindConvert, din, dout)}, nil
	case ir.OpActivation:
		a, _ := n.Attrs.(*ir.ActivationAttrs)
		if a == nil {
			return nil, fmt.Errorf("activation without ActivationAttrs")
		}
		switch a.Function {
		case "linear", "":
			out.Quant = in.Quant
			return []*ir.Node{alias(n)}, nil
		case "relu", "softmax", "tanh", "sigmoid":
			out.Quant = ir.Float()
			return []*ir.Node{elemKernel(n, activationKinds[a.Function], din, dtype.F32)}, nil
		}
		return nil, fmt.Errorf("activation %q is not supported; use relu, softmax, tanh, sigmoid or linear", a.Function)
	case ir.OpMaxPool, ir.OpAvgPool:
		pa, _ := n.Attrs.(*ir.PoolAttrs)
		if pa == nil || len(in.Shape) != 3 || len(out.Shape) != 3 {
			return nil, fmt.Errorf("pooling needs PoolAttrs and rank-3 tensors")
		}
		pg := &ir.PoolGeom{InH: in.Shape[0], InW: in.Shape[1], C: in.Shape[2], PoolH: pa.PoolH, PoolW: pa.PoolW,
			StrideH: max(pa.StrideH, 1), StrideW: max(pa.StrideW, 1)}
		var err error
		if pg.OutH, pg.PadTop, err = convOut(pg.InH, pg.PoolH, pg.StrideH, 1, pa.Padding); err != nil {
			return nil, err
		}
		if pg.OutW, pg.PadLeft, err = convOut(pg.InW, pg.PoolW, pg.StrideW, 1, pa.Padding); err != nil {
			return nil, err
		}
		if pg.OutH != out.Shape[0] || pg.OutW != out.Shape[1] {
			return nil, fmt.Errorf("output shape %s does not match the pooling arithmetic", shapeStr(out.Shape))
		}
		if n.Op == ir.OpAvgPool && pa.AvgFactor != 0 {
			return s.lowerQAvgPool(n, pa, pg)
		}
		kind, dt := ir.KindMaxPool, din
		if n.Op == ir.OpAvgPool {
			kind, dt = ir.KindAvgPool, dtype.F32
		}
		out.Quant = in.Quant
		if dt == dtype.F32 {
			out.Quant = ir.Float()
		}
		kn := elemKernel(n, kind, din, dt)
		kattrs(kn).Pool = pg
		return []*ir.Node{kn}, nil
	case ir.OpReshape:
		if ir.NumElements(in.Shape) != ir.NumElements(out.Shape) {
			return nil, fmt.Errorf("reshape from %s to %s changes the number of elements", shapeStr(in.Shape), shapeStr(out.Shape))
		}
		out.Quant = in.Quant
		if din != dtype.S1 || sameS1Layout(in.Shape, out.Shape) {
			return []*ir.Node{alias(n)}, nil
		}
		// Packed s1 rows are padded to 32 bits per pixel: the flattened
		// layout differs. Go through f32 (exact for ±1) and say so.
		f := &ir.Tensor{Name: s.uniqueName(in.Name + "/f32"), Shape: append([]int(nil), in.Shape...), Quant: ir.Float()}
		f2 := &ir.Tensor{Name: s.uniqueName(out.Name + "/f32"), Shape: append([]int(nil), out.Shape...), Quant: ir.Float()}
		c1 := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/unpack"), Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{f}}, ir.KindConvert, dtype.S1, dtype.F32)
		a := &ir.Node{Name: n.Name, Class: n.Class, Op: ir.OpAlias, Inputs: []*ir.Tensor{f}, Outputs: []*ir.Tensor{f2}}
		c2 := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/pack"), Inputs: []*ir.Tensor{f2}, Outputs: []*ir.Tensor{out}}, ir.KindConvert, dtype.F32, dtype.S1)
		kattrs(c1).Layer, kattrs(c2).Layer = n.Name, n.Name
		s.note(Note{Layer: n.Name, Kind: "fallback", Wanted: "free s1 reshape", Used: "dq_convert_s1_f32 + dq_convert_f32_s1",
			Reason: fmt.Sprintf("s1 tensor %q has %d channels, not a multiple of 32, so its packed rows are padded and %s cannot be an alias", in.Name, in.Shape[len(in.Shape)-1], shapeStr(out.Shape)),
			Hint:   "use 32·k channels"})
		return []*ir.Node{c1, a, c2}, nil
	case ir.OpConcat:
		ca, _ := n.Attrs.(*ir.ConcatAttrs)
		rank := len(out.Shape)
		if ca == nil || (ca.Axis != -1 && ca.Axis != rank-1) {
			return nil, fmt.Errorf("only concatenation along the last axis is supported")
		}
		dt := din
		cs := make([]int, len(n.Inputs))
		for i, t := range n.Inputs {
			if t.Quant.DType != din || (din == dtype.S8 && !sameQuant(t.Quant, in.Quant)) {
				dt = dtype.F32
			}
			cs[i] = t.Shape[len(t.Shape)-1]
		}
		out.Quant = in.Quant
		if dt == dtype.F32 {
			out.Quant = ir.Float()
		}
		kn := elemKernel(n, ir.KindConcat, dt, dt)
		kattrs(kn).ConcatC = cs
		return []*ir.Node{kn}, nil
	case ir.OpAdd:
		return s.lowerAdd(n)
	}
	return nil, fmt.Errorf("op %s is not supported by the compiler", n.Op)
}

// lowerAdd lowers an Add of n >= 2 inputs to a chain of binary add calls,
// ((x0 + x1) + x2) + ...: Keras's Add sums in input order (tf-keras
// Add._merge_function and Keras 3 Add both start from inputs[0] and add
// inputs[i] one at a time), so every partial sum rounds to float32 exactly
// as in Keras.
func (s *State) lowerAdd(n *ir.Node) ([]*ir.Node, error) {
	if len(n.Inputs) < 2 {
		return nil, fmt.Errorf("add needs at least two inputs, got %d", len(n.Inputs))
	}
	out := n.Outputs[0]
	for _, t := range n.Inputs[1:] {
		if ir.NumElements(t.Shape) != ir.NumElements(out.Shape) {
			return nil, fmt.Errorf("add input %q has shape %s, the output %s", t.Name, shapeStr(t.Shape), shapeStr(out.Shape))
		}
	}
	out.Quant = ir.Float()
	var nodes []*ir.Node
	acc := n.Inputs[0]
	for i, t := range n.Inputs[1:] {
		step := n
		if i < len(n.Inputs)-2 {
			part := &ir.Tensor{Name: s.uniqueName(fmt.Sprintf("%s/sum%d", out.Name, i+1)), Shape: append([]int(nil), out.Shape...), Quant: ir.Float()}
			step = &ir.Node{Name: s.uniqueName(fmt.Sprintf("%s/add%d", n.Name, i+1)), Class: n.Class, Outputs: []*ir.Tensor{part}}
		}
		kn := elemKernel(&ir.Node{Name: step.Name, Class: n.Class, Inputs: []*ir.Tensor{acc, t}, Outputs: step.Outputs}, ir.KindAdd, acc.Quant.DType, dtype.F32)
		kattrs(kn).Layer = layerOf(n)
		nodes = append(nodes, kn)
		acc = step.Outputs[0]
	}
	return nodes, nil
}

// lowerQAvgPool lowers a QKeras quantized average (ir.PoolAttrs.AvgFactor)
// onto existing kernels. Each multiplication by a constant f is an affine
// call whose batch-norm stage has multiplier exactly f (mean 0, variance 1,
// epsilon 0, beta 0: fl32(fl32(x − 0)·f) + 0 = fl32(x·f)).
//
//	QAveragePooling2D:       affine ×area → avgpool → affine ×AvgFactor
//	QGlobalAveragePooling2D: depthwise conv with a unit s8 kernel over the
//	                         whole input (the sum, canonical order), its
//	                         stage ×AvgFactor
func (s *State) lowerQAvgPool(n *ir.Node, pa *ir.PoolAttrs, pg *ir.PoolGeom) ([]*ir.Node, error) {
	in, out := n.Inputs[0], n.Outputs[0]
	C := pg.C
	scaleBN := func(f float32) *ir.BatchNormAttrs {
		bn := &ir.BatchNormAttrs{Gamma: make([]float32, C), Beta: make([]float32, C), Mean: make([]float32, C), Variance: make([]float32, C), Fused: true}
		for i := range bn.Gamma {
			bn.Gamma[i], bn.Variance[i] = f, 1
		}
		return bn
	}
	affine := func(name string, from, to *ir.Tensor, f float32) *ir.Node {
		kn := elemKernel(&ir.Node{Name: name, Class: n.Class, Inputs: []*ir.Tensor{from}, Outputs: []*ir.Tensor{to}}, ir.KindAffine, from.Quant.DType, dtype.F32)
		k := kattrs(kn)
		k.Layer, k.Stage = layerOf(n), &ir.Stage{BN: scaleBN(f), BNName: n.Name}
		return kn
	}
	out.Quant = ir.Float()
	if pa.Sum {
		if pg.OutH != 1 || pg.OutW != 1 || pg.PadTop != 0 || pg.PadLeft != 0 {
			return nil, fmt.Errorf("a quantized global average must cover the whole %dx%d input", pg.InH, pg.InW)
		}
		ones := make([]float32, pg.InH*pg.InW*C)
		for i := range ones {
			ones[i] = 1
		}
		ca := &ir.ConvAttrs{KernelH: pg.InH, KernelW: pg.InW, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Padding: "valid", DepthMultiplier: 1,
			Kernel: ir.Weights{Shape: []int{pg.InH, pg.InW, C, 1}, Data: ones}, KernelQuant: ir.Quant{DType: dtype.S8, Scale: []float32{1}, QMin: -127, QMax: 127, Bits: 8}}
		k, err := lowerConv(&ir.Node{Name: n.Name, Op: ir.OpDepthwiseConv, Inputs: n.Inputs, Outputs: n.Outputs}, ca)
		if err != nil {
			return nil, err
		}
		k.In, k.Out, k.Layer, k.Fused = in.Quant.DType, dtype.F32, layerOf(n), []string{n.Name}
		k.Stage.BN, k.Stage.BNName = scaleBN(pa.AvgFactor), n.Name
		return []*ir.Node{{Name: n.Name, Class: n.Class, Op: ir.OpKernel, Inputs: n.Inputs, Outputs: n.Outputs, Attrs: k}}, nil
	}
	mk := func(suffix string, shape []int) *ir.Tensor {
		return &ir.Tensor{Name: s.uniqueName(out.Name + suffix), Shape: append([]int(nil), shape...), Quant: ir.Float()}
	}
	scaled, avg := mk("/times_area", in.Shape), mk("/avg", out.Shape)
	pre := affine(s.uniqueName(n.Name+"/times_area"), in, scaled, float32(pa.PoolH*pa.PoolW))
	pn := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/avg"), Class: n.Class, Inputs: []*ir.Tensor{scaled}, Outputs: []*ir.Tensor{avg}}, ir.KindAvgPool, dtype.F32, dtype.F32)
	kattrs(pn).Pool, kattrs(pn).Layer = pg, layerOf(n)
	post := affine(n.Name, avg, out, pa.AvgFactor)
	return []*ir.Node{pre, pn, post}, nil
}

// sameS1Layout reports whether a reshape keeps the packed s1 bytes: both
// last dimensions are multiples of 32 (no padding bits), or the last
// dimension is unchanged.
func sameS1Layout(a, b []int) bool {
	la, lb := a[len(a)-1], b[len(b)-1]
	return la == lb || (la%32 == 0 && lb%32 == 0)
}

// ioTypes converts model outputs to f32 (and f32 model inputs to what their
// readers need is done by kernel selection) unless QuantizedIO.
func ioTypes(s *State) error {
	if s.Opt.QuantizedIO {
		return nil
	}
	for i, in := range s.G.Inputs {
		if in.Quant.DType == dtype.F32 {
			continue
		}
		// The caller passes floats: convert them to the declared type.
		f := &ir.Tensor{Name: s.uniqueName(in.Name + "/f32"), Shape: in.Shape, Quant: ir.Float()}
		c := elemKernel(&ir.Node{Name: s.uniqueName(in.Name + "/quantize"), Inputs: []*ir.Tensor{f}, Outputs: []*ir.Tensor{in}}, ir.KindConvert, dtype.F32, in.Quant.DType)
		s.G.Inputs[i] = f
		s.G.Nodes = append([]*ir.Node{c}, s.G.Nodes...)
	}
	for i, o := range s.G.Outputs {
		if o.Quant.DType == dtype.F32 {
			continue
		}
		f := &ir.Tensor{Name: s.uniqueName(o.Name + "/f32"), Shape: o.Shape, Quant: ir.Float()}
		c := elemKernel(&ir.Node{Name: s.uniqueName(o.Name + "/dequantize"), Inputs: []*ir.Tensor{o}, Outputs: []*ir.Tensor{f}}, ir.KindConvert, o.Quant.DType, dtype.F32)
		s.G.Outputs[i] = f
		s.G.Nodes = append(s.G.Nodes, c)
	}
	return nil
}

// exactStep reports whether f is a step function that lowerStep computes
// exactly: Larq SteHeaviside, and a ternary step (QKeras ternary, Larq
// SteTern) whose Inexact says nothing.
func exactStep(f ir.QuantForm) bool {
	switch f := f.(type) {
	case ir.Heaviside:
		return true
	case ir.Ternary:
		return f.Inexact() == ""
	}
	return false
}

// lowerStep computes a step quantizer with an affine f32 → s8 call whose
// rounding falls exactly on the quantizer's thresholds; the output becomes
// an s8 tensor of the integer levels (scale 1), which the next layer's
// integer kernels consume exactly.
//
//	SteHeaviside: 1 iff x > 0: x·2^127·2^127 reaches 0.5 for the smallest
//	              positive float, stays <= 0 otherwise; q in [0, 1].
//	SteTern(Δ):   ±1 iff ±x >= Δ: x·m rounds past 0.5 exactly from Δ on,
//	              m searched near 0.5/Δ; q in [-1, 1].
//	ternary(α, t): the same step at Δ = t; the s8 tensor's scale is α.
func (s *State) lowerStep(n *ir.Node, q *ir.Quantizer) ([]*ir.Node, error) {
	out := n.Outputs[0]
	c := 1
	if len(out.Shape) > 0 {
		c = out.Shape[len(out.Shape)-1]
	}
	st := &ir.Stage{Step: true}
	var mul float32
	scale := float32(1)
	switch f := q.Form.(type) {
	case ir.Ternary:
		d := float32(f.Threshold)
		m, ok := ternMultiplier(d)
		if !ok {
			return nil, fmt.Errorf("quantizer %s: no float32 multiplier puts the rounding step exactly at the threshold %g; use a threshold that is a power of two", quantText(out.Quant), d)
		}
		mul, scale = m, float32(f.Scale)
		st.OutInvScale, st.QMin, st.QMax = 1, -1, 1
	case ir.Heaviside:
		mul = float32(math.Ldexp(1, 127))
		st.OutInvScale, st.QMin, st.QMax = mul, 0, 1
	}
	st.Mul = make([]float32, c)
	for i := range st.Mul {
		st.Mul[i] = mul
	}
	out.Quant = ir.Quant{DType: dtype.S8, Scale: []float32{scale}, QMin: st.QMin, QMax: st.QMax, Bits: 2, Quantizer: q}
	kn := elemKernel(n, ir.KindAffine, dtype.F32, dtype.S8)
	kattrs(kn).Stage = st
	return []*ir.Node{kn}, nil
}

// ternMultiplier finds m with round_he(fl32(Δ·m)) = 1 and
// round_he(fl32(prev(Δ)·m)) = 0: since x·m is monotone in x (and odd),
// clamp(round_he(x·m), -1, 1) is then SteTern(Δ) for every float32 x.
func ternMultiplier(delta float32) (float32, bool) {
	m := float32(0.5 / float64(delta))
	prev := math.Nextafter32(delta, 0)
	for i := 0; i < 64; i++ {
		hi, lo := float32(delta*m), float32(prev*m)
		if roundHE(hi) >= 1 && roundHE(lo) == 0 {
			return m, true
		}
		m = math.Nextafter32(m, float32(math.Inf(1)))
	}
	return 0, false
}

func roundHE(v float32) float64 { return math.RoundToEven(float64(v)) }

// lowerTanh computes QKeras quantized_tanh(bits, symmetric) exactly:
// Keras evaluates p = fl32(2·clip(fl32(fl32(0.5·x) + 0.5), 0, 1) − 1) and
// q = round_he(fl32(p·m)), m = 2^(bits−1), clipped to the grid. An affine
// f32 → s8 call does the same arithmetic: y = fl32(fl32(x·0.5) + 0.5), then
// the batch-norm stage fl32(fl32(y − 0.5)·2m) equals fl32(p·m) because
// scaling by powers of two commutes with rounding, and the clip to [0, 1]
// is subsumed by the final clamp to [q_min, q_max]. With use_real_tanh the
// tanh kernel (libm tanhf) runs first, then a conversion (not bit-exact).
func (s *State) lowerTanh(n *ir.Node, f ir.Tanh) ([]*ir.Node, error) {
	in, out := n.Inputs[0], n.Outputs[0]
	if err := checkS8(out); err != nil {
		return nil, err
	}
	if in.Quant.DType != dtype.F32 {
		return nil, fmt.Errorf("internal: quantized_tanh of a %s tensor", in.Quant.DType)
	}
	if f.RealTanh {
		t := &ir.Tensor{Name: s.uniqueName(out.Name + "/tanh"), Shape: append([]int(nil), out.Shape...), Quant: ir.Float()}
		tn := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/tanh"), Inputs: n.Inputs, Outputs: []*ir.Tensor{t}}, ir.KindTanh, dtype.F32, dtype.F32)
		kattrs(tn).Layer = layerOf(n)
		cn := elemKernel(&ir.Node{Name: n.Name, Class: n.Class, Inputs: []*ir.Tensor{t}, Outputs: n.Outputs}, ir.KindConvert, dtype.F32, dtype.S8)
		s.note(Note{Layer: layerOf(n), Kind: "inexact", Reason: "quantized_tanh(use_real_tanh=True) uses the C library's tanhf, which may differ from TensorFlow's tanh in the last bit",
			Hint: "use use_real_tanh=False (hard-sigmoid form) for bit-exact results"})
		return []*ir.Node{tn, cn}, nil
	}
	m := InvScale(out.Quant.Scale[0])
	if !isPow2(m) {
		return nil, fmt.Errorf("quantized_tanh output scale %g is not 2^-(bits-1)", out.Quant.Scale[0])
	}
	fill := func(v float32) []float32 { return perChannel(out, v) }
	st := &ir.Stage{Step: true, Mul: fill(0.5), Add: fill(0.5), BnSub: fill(0.5), BnMul: fill(2 * m), BnAdd: fill(0),
		OutInvScale: 1, QMin: out.Quant.QMin, QMax: out.Quant.QMax, OutZP: out.Quant.ZeroPoint}
	kn := elemKernel(n, ir.KindAffine, dtype.F32, dtype.S8)
	kattrs(kn).Stage = st
	return []*ir.Node{kn}, nil
}

// doReFaSplit returns constants c1, c2 with fl32(fl32(q·c1) + fl32(q·c2))
// = fl32(q/n) for every DoReFa code q in [0, n], n = 2^k − 1, or nil. With
// c1 = Σ_{j=1..J} 2^(−kj) (J = ⌊24/k⌋ periods of the repeating binary
// expansion of q/n, exactly representable) and c2 = c1·2^(−Jk), the exact
// sum holds 2J periods, enough to round like the true quotient; every q is
// checked anyway.
func doReFaSplit(q ir.Quant) []float32 {
	if len(q.Scale) != 1 || q.QMin != 0 || q.QMax < 1 || q.QMax > 255 || q.QMax&(q.QMax+1) != 0 {
		return nil
	}
	n := int(q.QMax)
	k := 0
	for 1<<k <= n {
		k++
	}
	J := 24 / k
	c1 := 0.0
	for j := 1; j <= J; j++ {
		c1 += math.Ldexp(1, -k*j)
	}
	a, b := float32(c1), float32(math.Ldexp(c1, -J*k))
	for v := 0; v <= n; v++ {
		f := float32(v)
		if float32(float32(f*a)+float32(f*b)) != float32(f/float32(n)) {
			return nil
		}
	}
	return []float32{a, b}
}

// lowerDoReFa computes a DoReFa activation quantizer exactly. Keras's value
// is fl32(q/n) with q = round_he(clip(x, 0, 1)·n); an s8 grid q·scale
// differs from it by an ulp for some q (n = 255: 126 of 256 codes). So:
// q = convert f32 → s8 (inv_scale n, clamp [0, n]: clip then round, since
// x·n is monotone and 0·n, 1·n are exact); A = fl32(q·c1) and B = fl32(q·c2)
// by two affine s8 → f32 calls; the output is the f32 add A + B (see
// doReFaSplit). Its readers then see exactly Keras's values.
func (s *State) lowerDoReFa(n *ir.Node) []*ir.Node {
	out := n.Outputs[0]
	cq := out.Quant
	ab := doReFaSplit(cq)
	fill := func(v float32) []float32 { return perChannel(out, v) }
	mk := func(suffix string, q ir.Quant) *ir.Tensor {
		return &ir.Tensor{Name: s.uniqueName(out.Name + suffix), Shape: append([]int(nil), out.Shape...), Quant: q}
	}
	codes := mk("/codes", cq)
	hi, lo := mk("/hi", ir.Float()), mk("/lo", ir.Float())
	layer := layerOf(n)
	conv := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/round"), Inputs: n.Inputs, Outputs: []*ir.Tensor{codes}}, ir.KindConvert, dtype.F32, dtype.S8)
	ah := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/hi"), Inputs: []*ir.Tensor{codes}, Outputs: []*ir.Tensor{hi}}, ir.KindAffine, dtype.S8, dtype.F32)
	kattrs(ah).Stage = &ir.Stage{Step: true, Mul: fill(ab[0])}
	al := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/lo"), Inputs: []*ir.Tensor{codes}, Outputs: []*ir.Tensor{lo}}, ir.KindAffine, dtype.S8, dtype.F32)
	kattrs(al).Stage = &ir.Stage{Step: true, Mul: fill(ab[1])}
	out.Quant = ir.Float()
	sum := elemKernel(&ir.Node{Name: n.Name, Class: n.Class, Inputs: []*ir.Tensor{hi, lo}, Outputs: n.Outputs}, ir.KindAdd, dtype.F32, dtype.F32)
	for _, k := range []*ir.Node{conv, ah, al, sum} {
		kattrs(k).Layer = layer
	}
	return []*ir.Node{conv, ah, al, sum}
}

// lowerLeakyRelu computes QKeras quantized_relu with a negative_slope ns
// exactly. Keras's codes on the grid g = m_i/m are k = clip(round_he(p), 0,
// m−1) for the positive branch and j = clip(round_he(p·ns), −ns·m, 0) for
// the negative one (p = x·m/m_i), value (k + j)·g; one of k, j is always 0.
// Two affine f32 → s8 steps compute k (Mul 1) and j (Mul ns): the products
// by ns and m/m_i are powers of two, so they round like Keras's p and p·ns.
// Their sum (an f32 add of the exact s8 values) is then put back on the
// grid by a conversion, which is exact.
func (s *State) lowerLeakyRelu(n *ir.Node, f ir.Uniform) []*ir.Node {
	out := n.Outputs[0]
	q := out.Quant
	ns := f.NegativeSlope
	fill := func(v float32) []float32 { return perChannel(out, v) }
	layer := layerOf(n)
	part := func(suffix string, mul float32, lo, hi int32) *ir.Node {
		pq := ir.Quant{DType: dtype.S8, Scale: q.Scale, QMin: lo, QMax: hi, Bits: q.Bits, Quantizer: q.Quantizer}
		t := &ir.Tensor{Name: s.uniqueName(out.Name + suffix), Shape: append([]int(nil), out.Shape...), Quant: pq}
		kn := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + suffix), Inputs: n.Inputs, Outputs: []*ir.Tensor{t}}, ir.KindAffine, dtype.F32, dtype.S8)
		kattrs(kn).Stage = &ir.Stage{Step: true, Mul: fill(mul), OutInvScale: InvScale(q.Scale[0]), QMin: lo, QMax: hi}
		kattrs(kn).Layer = layer
		return kn
	}
	pos := part("/pos", 1, 0, q.QMax)
	neg := part("/neg", float32(ns), q.QMin, 0)
	sum := &ir.Tensor{Name: s.uniqueName(out.Name + "/sum"), Shape: append([]int(nil), out.Shape...), Quant: ir.Float()}
	add := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/add"), Inputs: []*ir.Tensor{pos.Outputs[0], neg.Outputs[0]}, Outputs: []*ir.Tensor{sum}}, ir.KindAdd, dtype.S8, dtype.F32)
	conv := elemKernel(&ir.Node{Name: n.Name, Class: n.Class, Inputs: []*ir.Tensor{sum}, Outputs: n.Outputs}, ir.KindConvert, dtype.F32, dtype.S8)
	kattrs(add).Layer, kattrs(conv).Layer = layer, layer
	return []*ir.Node{pos, neg, add, conv}
}

// inputToF32 makes n read its input as f32 (exact for s1 and power-of-two
// s8 values), returning the convert call to run first, if any.
func (s *State) inputToF32(n *ir.Node) []*ir.Node {
	in := n.Inputs[0]
	if in.Quant.DType == dtype.F32 {
		return nil
	}
	f := &ir.Tensor{Name: s.uniqueName(in.Name + "/f32"), Shape: append([]int(nil), in.Shape...), Quant: ir.Float()}
	c := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/to_f32"), Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{f}}, ir.KindConvert, in.Quant.DType, dtype.F32)
	kattrs(c).Layer = layerOf(n)
	n.Inputs = []*ir.Tensor{f}
	return []*ir.Node{c}
}

// perChannel is a per-channel stage array of t (one value per element of its
// last axis; one for a scalar) with every entry v.
func perChannel(t *ir.Tensor, v float32) []float32 {
	c := 1
	if len(t.Shape) > 0 {
		c = t.Shape[len(t.Shape)-1]
	}
	a := make([]float32, c)
	for i := range a {
		a[i] = v
	}
	return a
}
