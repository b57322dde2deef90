// Merges: Add, Concatenate.

package keras

import (
	"fmt"
	"slices"

	"github.com/dqnn/dqnn/ir"
)

// addLayer converts Add: an element-wise sum of inputs of one shape.
func (b *builder) addLayer(l *layer, c cfg, ins []*ir.Tensor) (*ir.Tensor, error) {
	if len(ins) < 2 {
		return nil, fmt.Errorf("Add needs at least two inputs, got %d", len(ins))
	}
	in := ins[0]
	for _, t := range ins[1:] {
		if !slices.Equal(t.Shape, in.Shape) {
			return nil, fmt.Errorf("inputs have different shapes %s and %s; broadcasting is not supported", shapeStr(in.Shape), shapeStr(t.Shape))
		}
	}
	return b.add(l.name, l.class, ir.OpAdd, ins, slices.Clone(in.Shape), ir.Float(), nil), nil
}

func (b *builder) concat(l *layer, c cfg, ins []*ir.Tensor) (*ir.Tensor, error) {
	if len(ins) < 2 {
		return nil, fmt.Errorf("Concatenate needs at least two inputs, got %d", len(ins))
	}
	rank := len(ins[0].Shape)
	if err := lastAxis(c, "axis", len(b.kerasShape(ins[0]))); err != nil {
		return nil, err
	}
	shape := slices.Clone(ins[0].Shape)
	shape[rank-1] = 0
	q := ins[0].Quant
	for _, t := range ins {
		if len(t.Shape) != rank || !slices.Equal(t.Shape[:rank-1], ins[0].Shape[:rank-1]) {
			return nil, fmt.Errorf("inputs %s and %s differ in more than the last axis", shapeStr(ins[0].Shape), shapeStr(t.Shape))
		}
		shape[rank-1] += t.Shape[rank-1]
		if !sameQuant(q, t.Quant) {
			q = ir.Float()
		}
	}
	return b.add(l.name, l.class, ir.OpConcat, ins, shape, passQuant(q), &ir.ConcatAttrs{Axis: rank - 1}), nil
}
