package passes

import (
	"fmt"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// KernelName is the contract's naming rule (gen/matrix Kernel.Name):
// dq_<op>_<in>_<w>_<out>, or dq_<op>_<in>_<out> for ops without weights. It
// is used only to name kernels that do not exist, in fallback notes.
func KernelName(op ir.KernelKind, in, w, out dtype.DType) string {
	if w == dtype.Invalid {
		return fmt.Sprintf("dq_%s_%s_%s", op, in.Tag(), out.Tag())
	}
	return fmt.Sprintf("dq_%s_%s_%s_%s", op, in.Tag(), w.Tag(), out.Tag())
}

// selectKernels picks a kernel for every call. When the matrix lacks the
// combination the layer asks for, it falls back, in this order, to: an f32
// output followed by a convert; an f32 input after a convert; both; f32
// weights (the real values Keras uses). Every fallback is recorded as a Note
// with a hint, as the reference tool's analyze does (§8.5).
func selectKernels(s *State) error {
	conv := map[[2]any]*ir.Tensor{} // (tensor, dtype) -> converted tensor, shared by readers
	var nodes []*ir.Node
	for _, n := range s.G.Nodes {
		k := kattrs(n)
		if k == nil || k.Name != "" || k.Kind == ir.KindUnsupported {
			nodes = append(nodes, n)
			continue
		}
		pre, post, err := s.selectOne(n, k, conv)
		if err != nil {
			return fmt.Errorf("layer %q: %w", k.Layer, err)
		}
		nodes = append(nodes, pre...)
		nodes = append(nodes, n)
		nodes = append(nodes, post...)
	}
	s.G.Nodes = nodes
	return nil
}

type combo struct{ in, w, out dtype.DType }

// f32Only are the families that exist only in f32 (as in the reference);
// converting their input is not a fallback worth a note.
var f32Only = map[ir.KernelKind]bool{ir.KindSoftmax: true, ir.KindRelu: true, ir.KindTanh: true, ir.KindSigmoid: true, ir.KindAdd: true, ir.KindAvgPool: true}

func (s *State) selectOne(n *ir.Node, k *ir.KernelAttrs, conv map[[2]any]*ir.Tensor) (pre, post []*ir.Node, err error) {
	k.In = n.Inputs[0].Quant.DType
	for _, t := range n.Inputs[1:] {
		if t.Quant.DType != k.In {
			k.In = dtype.F32 // mixed input types: meet in f32
		}
	}
	if k.Kind == ir.KindConvert {
		return s.selectConvert(n, k)
	}
	// A conv over one input channel is a depthwise conv with multiplier
	// out_c: its s1 weights then pack along the output channels (9 words
	// instead of 9·out_c for a 3x3 kernel); with f32 inputs each kernel row
	// then sums on its own, as the reference interpreter does (interp.rowSums).
	if k.Kind == ir.KindConv2D && k.Conv.InC == 1 && k.W == dtype.S1 {
		if name, ok := s.Matrix.Find(ir.KindDWConv2D, k.In, k.W, k.Out); ok {
			toDepthwise(k)
			k.Name = name
			return nil, nil, nil
		}
	}
	want := combo{k.In, k.W, k.Out}
	cands := []combo{want}
	if k.Out != dtype.F32 {
		cands = append(cands, combo{k.In, k.W, dtype.F32})
	}
	if k.In != dtype.F32 {
		cands = append(cands, combo{dtype.F32, k.W, k.Out})
		if k.Out != dtype.F32 {
			cands = append(cands, combo{dtype.F32, k.W, dtype.F32})
		}
	}
	if k.W != dtype.F32 && k.W != dtype.Invalid {
		cands = append(cands, combo{k.In, dtype.F32, k.Out}, combo{dtype.F32, dtype.F32, k.Out}, combo{dtype.F32, dtype.F32, dtype.F32})
	}
	for _, c := range cands {
		name, ok := s.Matrix.Find(k.Kind, c.in, c.w, c.out)
		if !ok {
			continue
		}
		if c != want && !f32Only[k.Kind] {
			types := want.in.Tag() + "×" + want.w.Tag() + "→" + want.out.Tag()
			if want.w == dtype.Invalid {
				types = want.in.Tag() + "→" + want.out.Tag()
			}
			s.note(Note{Layer: k.Layer, Kind: "fallback", Wanted: KernelName(k.Kind, want.in, want.w, want.out), Used: name + convertsText(want, c),
				Reason: "the kernel matrix has no " + types + " " + k.Kind.String(), Hint: fallbackHint(n, k)})
		}
		for i, t := range n.Inputs {
			if t.Quant.DType == c.in {
				continue
			}
			ct, cn, err := s.convertTensor(t, c.in, conv, k.Layer)
			if err != nil {
				return nil, nil, err
			}
			pre = append(pre, cn...)
			n.Inputs[i] = ct
		}
		k.In = c.in
		if c.w != k.W {
			w := k.Weights
			k.Weights = &ir.KernelWeights{DType: dtype.F32, Shape: w.Shape, Data: w.Data, Scale: ones(outChannels(k))}
			k.W = dtype.F32
		}
		if c.out != k.Out {
			out := n.Outputs[0]
			f := &ir.Tensor{Name: s.uniqueName(out.Name + "/f32"), Shape: append([]int(nil), out.Shape...), Quant: ir.Float()}
			n.Outputs = []*ir.Tensor{f}
			cn := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/to_" + k.Out.Tag()), Inputs: []*ir.Tensor{f}, Outputs: []*ir.Tensor{out}}, ir.KindConvert, dtype.F32, k.Out)
			kattrs(cn).Layer = k.Layer
			if _, _, err := s.selectConvert(cn, kattrs(cn)); err != nil {
				return nil, nil, err
			}
			k.Out = dtype.F32
			post = append(post, cn)
		}
		k.Name = name
		return pre, post, nil
	}
	return nil, nil, fmt.Errorf("no kernel in the matrix computes %s (wanted %s, and no f32 fallback exists)", k.Kind, KernelName(k.Kind, k.In, k.W, k.Out))
}

func convertsText(want, got combo) string {
	s := ""
	if want.in != got.in {
		s += " after dq_convert_" + want.in.Tag() + "_f32"
	}
	if want.w != got.w {
		s += " with f32 weights"
	}
	if want.out != got.out {
		s += " + dq_convert_f32_" + want.out.Tag()
	}
	return s
}

func fallbackHint(n *ir.Node, k *ir.KernelAttrs) string {
	for _, t := range append(append([]*ir.Tensor(nil), n.Inputs...), n.Outputs...) {
		if t.Quant.DType == dtype.S1 && len(t.Shape) > 0 && t.Shape[len(t.Shape)-1]%32 != 0 {
			return "use 32·k channels"
		}
	}
	return "keep this layer in f32"
}

func ones(n int) []float32 {
	o := make([]float32, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

// selectConvert names a convert call, via f32 when the matrix has no
// direct conversion (two calls).
func (s *State) selectConvert(n *ir.Node, k *ir.KernelAttrs) (pre, post []*ir.Node, err error) {
	if name, ok := s.Matrix.Find(ir.KindConvert, k.In, dtype.Invalid, k.Out); ok {
		k.Name = name
		return nil, nil, nil
	}
	if k.In == dtype.F32 || k.Out == dtype.F32 {
		return nil, nil, fmt.Errorf("no kernel converts %s to %s (%s)", k.In, k.Out, KernelName(ir.KindConvert, k.In, dtype.Invalid, k.Out))
	}
	a, ok1 := s.Matrix.Find(ir.KindConvert, k.In, dtype.Invalid, dtype.F32)
	b, ok2 := s.Matrix.Find(ir.KindConvert, dtype.F32, dtype.Invalid, k.Out)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("no kernel converts %s to %s, directly or through f32", k.In, k.Out)
	}
	in := n.Inputs[0]
	f := &ir.Tensor{Name: s.uniqueName(in.Name + "/f32"), Shape: append([]int(nil), in.Shape...), Quant: ir.Float()}
	first := elemKernel(&ir.Node{Name: s.uniqueName(n.Name + "/f32"), Inputs: []*ir.Tensor{in}, Outputs: []*ir.Tensor{f}}, ir.KindConvert, k.In, dtype.F32)
	kattrs(first).Name, kattrs(first).Layer = a, k.Layer
	n.Inputs = []*ir.Tensor{f}
	k.In, k.Name = dtype.F32, b
	return []*ir.Node{first}, nil, nil
}

// convertTensor returns t converted to dt, creating (once per tensor and
// type) the convert calls.
func (s *State) convertTensor(t *ir.Tensor, dt dtype.DType, cache map[[2]any]*ir.Tensor, layer string) (*ir.Tensor, []*ir.Node, error) {
	key := [2]any{t, dt}
	if c, ok := cache[key]; ok {
		return c, nil, nil
	}
	if dt != dtype.F32 {
		return nil, nil, fmt.Errorf("internal: conversion of %q to %s", t.Name, dt)
	}
	f := &ir.Tensor{Name: s.uniqueName(t.Name + "/f32"), Shape: append([]int(nil), t.Shape...), Quant: ir.Float()}
	cn := elemKernel(&ir.Node{Name: s.uniqueName(t.Name + "/to_f32"), Inputs: []*ir.Tensor{t}, Outputs: []*ir.Tensor{f}}, ir.KindConvert, t.Quant.DType, dtype.F32)
	kattrs(cn).Layer = layer
	pre, _, err := s.selectConvert(cn, kattrs(cn))
	if err != nil {
		return nil, nil, err
	}
	cache[key] = f
	return f, append(pre, cn), nil
}

// toDepthwise rewrites a one-input-channel conv2d as a depthwise conv with
// multiplier out_c: OHWI weights with I = 1 become [kh][kw][out_c].
func toDepthwise(k *ir.KernelAttrs) {
	g, w := k.Conv, k.Weights
	oc := g.OutC
	var data []float32 // nil in a shapes-only graph
	if w.Data != nil {
		data = make([]float32, len(w.Data))
	}
	var codes []int32
	if w.Codes != nil {
		codes = make([]int32, len(w.Codes))
	}
	for o := 0; o < oc; o++ {
		for y := 0; y < g.KH; y++ {
			for x := 0; x < g.KW; x++ {
				src := (o*g.KH+y)*g.KW + x
				dst := (y*g.KW+x)*oc + o
				if data != nil {
					data[dst] = w.Data[src]
				}
				if codes != nil {
					codes[dst] = w.Codes[src]
				}
			}
		}
	}
	k.Weights = &ir.KernelWeights{DType: w.DType, Shape: []int{g.KH, g.KW, oc}, Data: data, Codes: codes, Scale: w.Scale}
	k.Kind = ir.KindDWConv2D
	g.DepthMultiplier = oc
}
