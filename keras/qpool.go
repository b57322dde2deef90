package keras

import (
	"fmt"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/quant"
)

// qAvgPool converts QKeras QAveragePooling2D and QGlobalAveragePooling2D
// (qkeras/qpooling.py): the Keras pooling, whose average becomes, with an
// average_quantizer, q = average_quantizer(fl32(1/area)) times
// avg_pool(x·area) (QAveragePooling2D) or times reduce_sum(x) over height
// and width (QGlobalAveragePooling2D) — ir.PoolAttrs.AvgFactor — then the
// activation (a QKeras quantizer) if any.
func (b *builder) qAvgPool(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if len(in.Shape) != 3 {
		return nil, fmt.Errorf("input has shape %s; %s needs a rank-4 input", shapeStr(in.Shape), l.class)
	}
	aq, err := quantizerArg(c, "average_quantizer")
	if err != nil {
		return nil, err
	}
	fn, actQ, err := activation(c["activation"])
	if err != nil {
		return nil, err
	}
	if fn != "linear" {
		return nil, fmt.Errorf("activation %q is not supported on %s; use a QKeras quantizer or none", fn, l.class)
	}
	first := len(b.g.Nodes)
	var t *ir.Tensor
	if l.class == "QGlobalAveragePooling2D" {
		t, err = b.globalPool(l, c, in)
	} else {
		t, err = b.pool(l, c, in)
	}
	if err != nil {
		return nil, err
	}
	if aq != nil {
		for _, n := range b.g.Nodes[first:] {
			a, ok := n.Attrs.(*ir.PoolAttrs)
			if !ok {
				continue
			}
			v, err := quant.Apply(aq, []float32{float32(1 / float64(a.PoolH*a.PoolW))}, []int{1})
			if err != nil {
				return nil, fmt.Errorf("average_quantizer: %w", err)
			}
			if v[0] == 0 {
				return nil, fmt.Errorf("average_quantizer %s maps 1/%d to 0, so the layer outputs only zeros; give it more fractional bits", aq.Text, a.PoolH*a.PoolW)
			}
			a.AvgFactor, a.Sum = v[0], l.class == "QGlobalAveragePooling2D"
		}
	}
	if actQ != nil {
		return b.quantizeNode(l.name+"/activation", l.class, t, actQ, "activation")
	}
	return t, nil
}
