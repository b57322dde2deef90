package keras

import (
	"fmt"
	"math"
	"slices"

	"github.com/dqnn/dqnn/ir"
)

// 1-D layers (Conv1D, QConv1D, QuantConv1D, the 1-D poolings) run on the 2-D
// ones with height 1, as TensorFlow itself computes them (conv1d expands
// the input to [batch, 1, width, channels]). A Keras (width, channels)
// tensor is held as a [1, width, channels] IR tensor, recorded in
// builder.oneD, so that the layers after it see Keras's rank: batch
// normalization picks the rank-3 formula, axes count without the height,
// 2-D layers refuse it, and a model output gets Keras's shape back.

// kerasShape is t's shape as Keras sees it (without the batch).
func (b *builder) kerasShape(t *ir.Tensor) []int {
	if b.oneD[t] {
		return t.Shape[1:]
	}
	return t.Shape
}

// keepOneD marks out as a 1-D tensor when a shape-preserving layer made it
// from one.
func (b *builder) keepOneD(class string, ins []*ir.Tensor, out *ir.Tensor) {
	if class == "Reshape" || class == "Flatten" {
		return // the target shape is Keras's own
	}
	if class == "Concatenate" && len(ins) > 0 && b.oneD[ins[0]] {
		b.oneD[out] = true // inputs share all but the channel axis
		return
	}
	for _, t := range ins {
		if b.oneD[t] && slices.Equal(t.Shape, out.Shape) {
			b.oneD[out] = true
			return
		}
	}
}

// expand returns in as a [1, width, channels] tensor: itself when it is
// one already, else a free reshape of a Keras (width, channels) tensor.
func (b *builder) expand(l *layer, in *ir.Tensor) (*ir.Tensor, error) {
	if b.oneD[in] {
		return in, nil
	}
	if len(in.Shape) != 2 {
		return nil, fmt.Errorf("input has shape %s; %s needs a rank-3 input [batch, steps, channels]", shapeStr(in.Shape), l.class)
	}
	if t := b.expanded[in]; t != nil {
		return t, nil // one reshape per tensor, whoever reads it
	}
	t := b.add(in.Name+"/expand", l.class, ir.OpReshape, []*ir.Tensor{in}, []int{1, in.Shape[0], in.Shape[1]}, passQuant(in.Quant), nil)
	b.oneD[t] = true
	b.expanded[in] = t
	return t, nil
}

// expandMerge gives the inputs of a merge layer (Add, Concatenate) one
// form: when one of them is a 1-D tensor, the Keras (steps, channels)
// ones are expanded too.
func (b *builder) expandMerge(l *layer, ins []*ir.Tensor) ([]*ir.Tensor, error) {
	any1D := false
	for _, t := range ins {
		any1D = any1D || b.oneD[t]
	}
	if !any1D {
		return ins, nil
	}
	out := slices.Clone(ins)
	for i, t := range ins {
		if b.oneD[t] {
			continue
		}
		e, err := b.expand(l, t)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// squeeze gives a model output held as [1, width, channels] Keras's shape.
func (b *builder) squeeze(t *ir.Tensor) *ir.Tensor {
	if !b.oneD[t] {
		return t
	}
	for _, n := range b.g.Nodes {
		if n.Name == t.Name+"/squeeze" {
			return n.Outputs[0] // the same tensor is two model outputs
		}
	}
	return b.add(t.Name+"/squeeze", "", ir.OpReshape, []*ir.Tensor{t}, slices.Clone(t.Shape[1:]), passQuant(t.Quant), nil)
}

// single reads a 1-D layer's int or one-element list argument.
func (c cfg) single(k string, def int) (int, error) {
	switch v := c[k].(type) {
	case nil:
		return def, nil
	case float64:
		if v == math.Trunc(v) && v >= 1 && v < 1<<20 {
			return int(v), nil
		}
	case []any:
		if len(v) == 1 {
			return cfg{k: v[0]}.single(k, def)
		}
	}
	return 0, fmt.Errorf("argument %s must be a positive integer or a list of one, got %s", k, compactJSON(c[k]))
}

// oneDLayer converts a 1-D layer on its height-1 2-D form.
func (b *builder) oneDLayer(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	x, err := b.expand(l, in)
	if err != nil {
		return nil, err
	}
	c2 := cfg{}
	for k, v := range c {
		c2[k] = v
	}
	to := layerClasses[l.class].oneD
	l2 := *l
	l2.class, l2.config = to, c2
	set := func(k string, def int) (int, error) {
		v, err := c.single(k, def)
		if err != nil {
			return 0, err
		}
		c2[k] = []any{1.0, float64(v)}
		return v, nil
	}
	conv := to == "Conv2D" || to == "QConv2D" || to == "QuantConv2D"
	switch {
	case conv:
		if !c.has("kernel_size") {
			return nil, fmt.Errorf("argument kernel_size is missing")
		}
		for _, k := range []string{"kernel_size", "strides", "dilation_rate"} {
			if _, err := set(k, 1); err != nil {
				return nil, err
			}
		}
	case to == "MaxPooling2D" || to == "AveragePooling2D":
		p, err := set("pool_size", 2)
		if err != nil {
			return nil, err
		}
		if _, err := set("strides", p); err != nil { // None: the pool size
			return nil, err
		}
	}
	first := len(b.g.Nodes)
	defer func() {
		for _, n := range b.g.Nodes[first:] {
			n.Class = l.class // reports name the layer's own class
		}
	}()
	var t *ir.Tensor
	switch {
	case conv:
		t, err = b.convShaped(&l2, c2, x, true)
	case to == "MaxPooling2D" || to == "AveragePooling2D":
		t, err = b.pool(&l2, c2, x)
	default:
		t, err = b.globalPool(&l2, c2, x)
		if keep, _ := c.boolean("keepdims", false); err == nil && !keep {
			return t, nil // (channels)
		}
	}
	if err != nil {
		return nil, err
	}
	b.oneD[t] = true
	return t, nil
}
