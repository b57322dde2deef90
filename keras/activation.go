// Activation layers: Activation, QActivation, ReLU, Softmax.

package keras

import (
	"fmt"
	"slices"

	"github.com/dqnn/dqnn/ir"
)

// activationLayer converts Activation: a Keras activation, or a QKeras
// quantizer string given as the activation.
func (b *builder) activationLayer(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	fn, q, err := activation(c["activation"])
	if err != nil {
		return nil, err
	}
	if q != nil {
		return b.quantizeNode(l.name, l.class, in, q, "activation")
	}
	return b.add(l.name, l.class, ir.OpActivation, []*ir.Tensor{in}, slices.Clone(in.Shape), ir.Float(), &ir.ActivationAttrs{Function: fn}), nil
}

// qActivation converts QActivation: a quantizer, or a plain activation.
func (b *builder) qActivation(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	fn, q, err := activation(c["activation"])
	if err != nil {
		return nil, err
	}
	if q == nil {
		return b.add(l.name, l.class, ir.OpActivation, []*ir.Tensor{in}, slices.Clone(in.Shape), ir.Float(), &ir.ActivationAttrs{Function: fn}), nil
	}
	return b.quantizeNode(l.name, l.class, in, q, "activation")
}

// relu converts ReLU without a cap, slope or threshold.
func (b *builder) relu(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	for _, k := range []string{"max_value", "negative_slope", "threshold"} {
		if v, _ := c.float(k, 0); v != 0 {
			return nil, fmt.Errorf("argument %s=%v is not supported; use a plain ReLU", k, v)
		}
	}
	return b.add(l.name, l.class, ir.OpActivation, []*ir.Tensor{in}, slices.Clone(in.Shape), ir.Float(), &ir.ActivationAttrs{Function: "relu"}), nil
}

// softmax converts Softmax along the last axis.
func (b *builder) softmax(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if err := lastAxis(c, "axis", len(b.kerasShape(in))); err != nil {
		return nil, err
	}
	return b.add(l.name, l.class, ir.OpActivation, []*ir.Tensor{in}, slices.Clone(in.Shape), ir.Float(), &ir.ActivationAttrs{Function: "softmax"}), nil
}
