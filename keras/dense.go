// Dense layers: Dense, QDense, QuantDense, QDenseBatchnorm.

package keras

import (
	"fmt"

	"github.com/dqnn/dqnn/ir"
)

func (b *builder) dense(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if len(in.Shape) != 1 {
		return nil, fmt.Errorf("input has shape %s (rank %d with the batch); %s needs a rank-2 input [batch, features]: add a Flatten before it", shapeStr(b.kerasShape(in)), len(b.kerasShape(in))+1, l.class)
	}
	units, err := c.integer("units", 0)
	if err != nil || units < 1 {
		return nil, fmt.Errorf("argument units must be a positive integer, got %s", compactJSON(c["units"]))
	}
	useBias, err := c.boolean("use_bias", true)
	if err != nil {
		return nil, err
	}
	inQ, kQ, bQ, err := layerQuantizers(l.class, c)
	if err != nil {
		return nil, err
	}
	fn, actQ, err := activation(c["activation"])
	if err != nil {
		return nil, err
	}
	x := in
	if inQ != nil {
		if x, err = b.quantizeNode(l.name+"/input_quantizer", l.class, in, inQ, "input_quantizer"); err != nil {
			return nil, err
		}
	}
	kshape := []int{in.Shape[0], units}
	want, shapes := []string{"kernel"}, [][]int{kshape}
	if useBias {
		want, shapes = append(want, "bias"), append(shapes, []int{units})
	}
	ws, err := b.foldedWeights(l, c, want, shapes, units)
	if err != nil {
		return nil, err
	}
	if len(ws) == 2 {
		useBias = true
	}
	a := &ir.DenseAttrs{Units: units, InputQuantizer: inQ, Kernel: ir.Weights{Shape: kshape, Data: ws[0]}, Activation: fn}
	if a.KernelQuant, err = quantizeKernel(kQ, &a.Kernel, kshape); err != nil {
		return nil, err
	}
	if useBias {
		if a.Bias, err = biasWeights(bQ, ws[1], units); err != nil {
			return nil, err
		}
	}
	return b.finish(l, ir.OpDense, []*ir.Tensor{x}, []int{units}, a, actQ)
}
