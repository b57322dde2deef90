package passes

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// fusable returns the kernel attrs of n if n is a compute call whose output
// type is still open (nothing has fixed it yet).
func fusable(n *ir.Node) *ir.KernelAttrs {
	k := kattrs(n)
	if k == nil || k.Stage == nil || k.Out != dtype.Invalid {
		return nil
	}
	return k
}

// fusePool folds a valid max-pool that is the only reader of a convolution's
// output into the convolution: the kernel keeps the maximum accumulator of
// each window and sends it through the output stage. This equals Keras's
// pool(stage(acc)) when the stage is non-decreasing in the accumulator in
// every channel (always before batch-norm; after a batch-norm only when no
// channel's BN multiplier is negative; quantizers are non-decreasing too). A
// pool after batch-norm with negative multipliers stays a separate (s1:
// AND-of-bits) pool call.
func fusePool(s *State) error {
	cons := consumers(s.G)
	drop := map[*ir.Node]bool{}
	for _, n := range s.G.Nodes {
		k := kattrs(n)
		if k == nil || k.Stage == nil || k.Conv == nil || k.Conv.PoolH*k.Conv.PoolW > 1 {
			continue
		}
		p := soleConsumer(s.G, cons, n.Outputs[0])
		if p == nil || p.Op != ir.OpMaxPool {
			continue
		}
		pa, ok := p.Attrs.(*ir.PoolAttrs)
		if !ok || pa.Padding == "same" || !stageNonDecreasing(k.Stage) {
			continue
		}
		g := k.Conv
		oh, _, err1 := convOut(g.ConvH, pa.PoolH, max(pa.StrideH, 1), 1, "valid")
		ow, _, err2 := convOut(g.ConvW, pa.PoolW, max(pa.StrideW, 1), 1, "valid")
		out := p.Outputs[0]
		if err1 != nil || err2 != nil || len(out.Shape) != 3 || out.Shape[0] != oh || out.Shape[1] != ow {
			continue
		}
		g.PoolH, g.PoolW = pa.PoolH, pa.PoolW
		g.PoolStrideH, g.PoolStrideW = max(pa.StrideH, 1), max(pa.StrideW, 1)
		g.OutH, g.OutW = oh, ow
		n.Outputs = []*ir.Tensor{out}
		k.Fused = append(k.Fused, p.Name)
		drop[p] = true
		noteFusedPoolBN(s, k, p.Name)
	}
	removeNodes(s.G, drop)
	return nil
}

// stageNonDecreasing reports whether the stage's result never decreases
// when the accumulator grows, in every channel (scales are positive, relu is
// monotone; a batch-norm multiplier must be >= 0).
func stageNonDecreasing(st *ir.Stage) bool {
	if st.BN == nil {
		return true
	}
	for c := range st.BN.Gamma {
		if bnMul(st.BN, c) < 0 {
			return false
		}
	}
	return true
}

// fuseRelu folds a separate relu activation into the preceding compute
// call's stage (the stage applies relu before batch-norm).
func fuseRelu(s *State) error {
	cons := consumers(s.G)
	drop := map[*ir.Node]bool{}
	for _, n := range s.G.Nodes {
		k := fusable(n)
		if k == nil || k.Kind == ir.KindAffine || k.Stage.Relu || k.Stage.BN != nil {
			continue
		}
		a := soleConsumer(s.G, cons, n.Outputs[0])
		if a == nil || a.Op != ir.OpActivation {
			continue
		}
		if aa, ok := a.Attrs.(*ir.ActivationAttrs); !ok || aa.Function != "relu" {
			continue
		}
		k.Stage.Relu = true
		n.Outputs = []*ir.Tensor{a.Outputs[0]}
		k.Fused = append(k.Fused, a.Name)
		drop[a] = true
	}
	removeNodes(s.G, drop)
	return nil
}

// fuseBatchNorm folds a batch-norm that is the only reader of a dense/conv
// output into the call's stage, as a second stage after bias and relu.
func fuseBatchNorm(s *State) error {
	cons := consumers(s.G)
	drop := map[*ir.Node]bool{}
	for _, n := range s.G.Nodes {
		k := fusable(n)
		if k == nil || k.Kind == ir.KindAffine || k.Stage.BN != nil {
			continue
		}
		b := soleConsumer(s.G, cons, n.Outputs[0])
		if b == nil || b.Op != ir.OpBatchNorm {
			continue
		}
		ba, ok := b.Attrs.(*ir.BatchNormAttrs)
		if !ok {
			return fmt.Errorf("layer %q: batch-norm without BatchNormAttrs", b.Name)
		}
		c := outChannels(k)
		if !bnShapesOnly(s, ba) && (len(ba.Gamma) != c || len(ba.Beta) != c || len(ba.Mean) != c || len(ba.Variance) != c) {
			return fmt.Errorf("layer %q (%s): batch-norm parameters do not have %d channels", b.Name, b.Class, c)
		}
		k.Stage.BN = ba
		k.Stage.BNName = b.Name
		n.Outputs = []*ir.Tensor{b.Outputs[0]}
		k.Fused = append(k.Fused, b.Name)
		drop[b] = true
	}
	removeNodes(s.G, drop)
	return nil
}

// fuseQuantize folds a quantizer that is the only reader of a compute call's
// output into the call: its output becomes s1 (batch-norm + sign as a
// threshold) or s8 (the quantizer's grid in the output stage). This is how
// the quantize node "defines the producer's output stage" (reference §8.1).
func fuseQuantize(s *State) error {
	cons := consumers(s.G)
	drop := map[*ir.Node]bool{}
	for _, n := range s.G.Nodes {
		k := fusable(n)
		if k == nil {
			continue
		}
		q := soleConsumer(s.G, cons, n.Outputs[0])
		if q == nil || q.Op != ir.OpQuantize {
			continue
		}
		out := q.Outputs[0]
		switch f := formOf(q).(type) {
		case ir.Tanh:
			continue // its hard-sigmoid arithmetic is not the s8 stage's round(y/scale): see lowerTanh
		case ir.DoReFa:
			if doReFaSplit(out.Quant) != nil {
				continue // Keras's q/n is not the s8 grid's q·scale: see lowerDoReFa
			}
		case ir.Uniform:
			if f.Relu && out.Quant.QMin < 0 {
				continue // a leaky quantized_relu rounds x·ns on the negative side, not x: see lowerLeakyRelu
			}
		}
		switch out.Quant.DType {
		case dtype.S1:
		case dtype.S8:
			if err := checkS8(out); err != nil {
				return fmt.Errorf("layer %q: %w", q.Name, err)
			}
			if !isPow2(out.Quant.Scale[0]) {
				s.note(Note{Layer: q.Name, Kind: "inexact", Reason: fmt.Sprintf("quantizer %s has a scale (%g) that is not a power of two: dqnn's s8 grid q·scale can differ from Keras's value by one ulp", quantText(out.Quant), out.Quant.Scale[0]),
					Hint: "use a power-of-two quantizer (quantized_bits/quantized_relu) for bit-exact results"})
			}
		default:
			continue
		}
		k.Out = out.Quant.DType
		n.Outputs = []*ir.Tensor{out}
		k.Fused = append(k.Fused, q.Name)
		drop[q] = true
	}
	removeNodes(s.G, drop)
	return nil
}

// formOf is what quantize node n computes (nil for any other node, or
// one without a quantizer).
func formOf(n *ir.Node) ir.QuantForm {
	if a, ok := n.Attrs.(*ir.QuantizeAttrs); ok && a.Quantizer != nil {
		return a.Quantizer.Form
	}
	return nil
}

func checkS8(t *ir.Tensor) error {
	q := t.Quant
	if len(q.Scale) != 1 {
		return fmt.Errorf("tensor %q: s8 activations need one scale per tensor, got %d", t.Name, len(q.Scale))
	}
	if !(q.Scale[0] > 0) || math.IsInf(float64(q.Scale[0]), 0) {
		return fmt.Errorf("tensor %q: s8 scale %g is not a positive number", t.Name, q.Scale[0])
	}
	if q.QMin > q.QMax || q.QMin+q.ZeroPoint < -128 || q.QMax+q.ZeroPoint > 127 {
		return fmt.Errorf("tensor %q: s8 range [%d, %d] + zero point %d does not fit int8", t.Name, q.QMin, q.QMax, q.ZeroPoint)
	}
	return nil
}

func quantText(q ir.Quant) string {
	if q.Quantizer != nil {
		if q.Quantizer.Text != "" {
			return q.Quantizer.Text
		}
		return q.Quantizer.Class
	}
	return q.DType.Tag()
}

// isPow2 reports whether f is a (positive) power of two.
func isPow2(f float32) bool {
	if !(f > 0) || math.IsInf(float64(f), 0) {
		return false
	}
	m, _ := math.Frexp(float64(f))
	return m == 0.5
}

func outChannels(k *ir.KernelAttrs) int {
	switch {
	case k.Dense != nil:
		return k.Dense.OutN
	case k.Conv != nil:
		return k.Conv.OutC
	}
	return k.C
}

// hoistQuantize moves a quantizer above a max-pool or a reshape that is the
// only reader of its input: quantizers are non-decreasing, so q(max(x)) =
// max(q(x)), and element-wise, so they commute with reshapes. The quantizer
// then sits right after the layer that computes x and folds into it (BN →
// max-pool → sign becomes a thresholded conv and an s1 pool; a Larq
// QuantDense's input_quantizer after Flatten folds into the previous conv).
// An s1 reshape that would change the packed layout is left alone.
func hoistQuantize(s *State) error {
	for changed := true; changed; {
		changed = false
		cons := consumers(s.G)
		for i, p := range s.G.Nodes {
			if (p.Op != ir.OpMaxPool && p.Op != ir.OpReshape) || len(p.Inputs) != 1 {
				continue
			}
			q := soleConsumer(s.G, cons, p.Outputs[0])
			x := p.Inputs[0]
			if q == nil || q.Op != ir.OpQuantize || soleConsumer(s.G, cons, x) != p {
				continue
			}
			z := q.Outputs[0]
			dt := z.Quant.DType
			if dt != dtype.S1 && dt != dtype.S8 {
				continue
			}
			if p.Op == ir.OpReshape && dt == dtype.S1 && !sameS1Layout(x.Shape, z.Shape) {
				continue
			}
			xq := &ir.Tensor{Name: s.uniqueName(x.Name + "/q"), Shape: append([]int(nil), x.Shape...), Quant: z.Quant}
			q.Inputs, q.Outputs = []*ir.Tensor{x}, []*ir.Tensor{xq}
			p.Inputs, p.Outputs = []*ir.Tensor{xq}, []*ir.Tensor{z}
			j := -1
			for jj, n := range s.G.Nodes {
				if n == q {
					j = jj
				}
			}
			// Order: ... q p ... in place of ... p ... q ...
			nodes := append([]*ir.Node(nil), s.G.Nodes[:i]...)
			nodes = append(nodes, q, p)
			for jj := i + 1; jj < len(s.G.Nodes); jj++ {
				if jj != j {
					nodes = append(nodes, s.G.Nodes[jj])
				}
			}
			s.G.Nodes = nodes
			changed = true
			break
		}
	}
	return nil
}
