package passes

import (
	"fmt"
	"slices"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Shapes-only graphs (ir.Graph.ShapesOnly: an architecture without weights)
// run the same passes, which then derive types, kernels, fusions and the
// memory plan but no constants. Every decision that depends on weight values
// is taken under the assumption written in its Note of kind NoteWeights
// (docs/analyze.md lists them), so the report can say which rows and bytes
// real weights may change.

// NoteWeights is the Note kind of a decision that depends on weight values
// in a shapes-only graph.
const NoteWeights = "weights"

// checkValues refuses a kernel whose values do not match its shape; a
// kernel without values is a shapes-only one.
func checkValues(w ir.Weights) error {
	if w.Data != nil && len(w.Data) != ir.NumElements(w.Shape) {
		return fmt.Errorf("kernel has %d values for shape %s", len(w.Data), shapeStr(w.Shape))
	}
	return nil
}

// checkKernelValues refuses a dense/conv kernel or bias without values in
// a graph that is not shapes-only (weights missing).
func (s *State) checkKernelValues(n *ir.Node) error {
	var w ir.Weights
	var b *ir.Weights
	switch a := n.Attrs.(type) {
	case *ir.DenseAttrs:
		w, b = a.Kernel, a.Bias
	case *ir.ConvAttrs:
		w, b = a.Kernel, a.Bias
	default:
		return nil
	}
	switch {
	case s.G.ShapesOnly:
	case w.Data == nil:
		return fmt.Errorf("kernel %s has no values (weights missing?)", shapeStr(w.Shape))
	case b != nil && b.Data == nil:
		return fmt.Errorf("bias %s has no values (weights missing?)", shapeStr(b.Shape))
	}
	return nil
}

// bnShapesOnly reports a batch-norm imported without its statistics.
func bnShapesOnly(s *State, bn *ir.BatchNormAttrs) bool {
	return s.G.ShapesOnly && bn.Gamma == nil && bn.Beta == nil && bn.Mean == nil && bn.Variance == nil
}

// shapesOnlyStage is computeStage without values: it derives no constants
// and notes what the constants' values decide.
func shapesOnlyStage(s *State, k *ir.KernelAttrs, ai accInfo) {
	w := k.Weights
	unknownW := w != nil && w.DType != dtype.F32 && w.Scale == nil
	if k.Kind != ir.KindAffine {
		for c, m := range ai.mul {
			if m != 1 && !isPow2(m) {
				s.note(Note{Layer: k.Layer, Kind: "inexact", Reason: fmt.Sprintf("channel %d scale %g is not a power of two: the scaled sum can differ from Keras's by rounding", c, m),
					Hint: "use power-of-two (auto_po2) or unit scales"})
				break
			}
		}
		if unknownW && !w.ScalesPow2 {
			s.note(Note{Layer: k.Layer, Kind: "inexact", Reason: "the kernel quantizer computes its per-channel scales from the weights, and they are not powers of two: the scaled sum can differ from Keras's by rounding",
				Hint: "use power-of-two (auto_po2) or unit scales"})
		}
	}
	if unknownW && w.DType == dtype.S8 {
		s.note(Note{Layer: k.Layer, Kind: NoteWeights, Reason: "the kernel quantizer's per-channel scales come from the weights; assumed every weight lands on their s8 grid (else the layer keeps f32 weights and runs on an f32-weight kernel)"})
	}
}

// noteFusedPoolBN records, in a shapes-only graph, that a max-pool fused
// after a batch-norm assumes no negative batch-norm multiplier.
func noteFusedPoolBN(s *State, k *ir.KernelAttrs, pool string) {
	if !s.G.ShapesOnly || k.Stage.BN == nil || !bnShapesOnly(s, k.Stage.BN) {
		return
	}
	s.note(Note{Layer: k.Layer, Kind: NoteWeights, Reason: fmt.Sprintf("max-pool %s runs inside this call assuming every multiplier (gamma) of batch-norm %s is >= 0; a negative one keeps the pool as a separate call after it (one more C-layer, and a flip mask)", pool, k.Stage.BNName)})
}

// AccMultipliers returns the per-output-channel factors r = acc·mul[c] of a
// compute or affine call's accumulator, and whether they are all known:
// false in a shapes-only graph whose kernel scales come from the absent
// weights (the unknown factor then counts as 1). pow2 reports whether every
// factor is 1 or a power of two, which holds for unknown scales too when the
// quantizer makes them powers of two.
func AccMultipliers(n *ir.Node, k *ir.KernelAttrs) (mul []float32, known, pow2 bool, err error) {
	ai, err := accOf(n, k)
	if err != nil {
		return nil, false, false, err
	}
	w := k.Weights
	known = k.Kind == ir.KindAffine || w == nil || w.Scale != nil || w.DType == dtype.F32
	pow2 = allPow2(ai.mul) && (known || w.ScalesPow2)
	return ai.mul, known, pow2, nil
}

// lowerOrKeep is lowerOne, except that in a shapes-only graph a node that
// cannot be lowered becomes an ir.KindUnsupported call instead of an error.
func (s *State) lowerOrKeep(n *ir.Node) ([]*ir.Node, error) {
	if !s.G.ShapesOnly {
		return s.lowerOne(n)
	}
	ins := slices.Clone(n.Inputs) // lowerOne may have rewired them before failing
	add, err := s.lowerOne(n)
	if err == nil {
		return add, nil
	}
	n.Inputs = ins
	return s.unsupportedCall(n, err), nil
}

// unsupportedCall replaces a node that cannot be lowered (or an importer
// placeholder, ir.OpUnsupported) by an ir.KindUnsupported call, with a note
// saying why.
func (s *State) unsupportedCall(n *ir.Node, err error) []*ir.Node {
	reason := err.Error()
	if a, ok := n.Attrs.(*ir.UnsupportedAttrs); ok && n.Op == ir.OpUnsupported {
		reason = a.Reason
	}
	for _, t := range n.Outputs {
		t.Quant = ir.Float()
	}
	in := dtype.F32
	if len(n.Inputs) > 0 {
		in = n.Inputs[0].Quant.DType
	}
	kn := elemKernel(n, ir.KindUnsupported, in, dtype.F32)
	kattrs(kn).Layer = layerOf(n)
	s.note(Note{Layer: layerOf(n), Kind: NoteUnsupported, Wanted: className(n), Reason: reason,
		Hint: "the figures leave this layer's operations and constants out; replace it by supported layers (docs/analyze.md lists them) to compile the model"})
	return []*ir.Node{kn}
}

// NoteUnsupported is the Note kind of a layer a shapes-only graph keeps
// without a kernel (see ir.KindUnsupported).
const NoteUnsupported = "unsupported"
