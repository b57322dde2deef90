// Pooling: max and average, windowed and global (QKeras quantized averages
// in qpool.go).

package keras

import (
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/ir"
)

func (b *builder) pool(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if len(in.Shape) != 3 {
		return nil, fmt.Errorf("input has shape %s; %s needs a rank-4 input", shapeStr(in.Shape), l.class)
	}
	p, err := c.pair("pool_size", [2]int{2, 2})
	if err != nil {
		return nil, err
	}
	s, err := c.pair("strides", p)
	if err != nil {
		return nil, err
	}
	padding, err := c.str("padding", "valid")
	if err != nil {
		return nil, err
	}
	padding = strings.ToLower(padding)
	if padding != "valid" && padding != "same" {
		return nil, fmt.Errorf("padding=%q is not supported; use \"valid\" or \"same\"", padding)
	}
	if b.wholePools[l.name] && (p[0] != in.Shape[0] || p[1] != in.Shape[1]) {
		b.note("%s: layer %q (%s): pool_size %v covered the whole input at the declared input shape; with the overridden input shape it covers the whole %dx%d input", b.file, l.name, l.class, p, in.Shape[0], in.Shape[1])
		p, s = [2]int{in.Shape[0], in.Shape[1]}, [2]int{in.Shape[0], in.Shape[1]}
	}
	oh, ow := outSize(in.Shape[0], p[0], s[0], 1, padding), outSize(in.Shape[1], p[1], s[1], 1, padding)
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("input %s is smaller than pool_size %v with padding=%q", shapeStr(in.Shape), p, padding)
	}
	a := &ir.PoolAttrs{PoolH: p[0], PoolW: p[1], StrideH: s[0], StrideW: s[1], Padding: padding}
	op, q := ir.OpMaxPool, passQuant(in.Quant)
	if strings.Contains(l.class, "Av") {
		op, q = ir.OpAvgPool, ir.Float()
	}
	return b.add(l.name, l.class, op, []*ir.Tensor{in}, []int{oh, ow, in.Shape[2]}, q, a), nil
}

// globalPool is a whole-image pool (valid, window = input size) followed,
// unless keepdims, by a reshape to (channels). The average sums in the
// canonical row-major order, which may differ from TF's reduce_mean in the
// last bits (float outputs are compared with a tolerance).
func (b *builder) globalPool(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if len(in.Shape) != 3 {
		return nil, fmt.Errorf("input has shape %s; %s needs a rank-4 input", shapeStr(in.Shape), l.class)
	}
	keep, err := c.boolean("keepdims", false)
	if err != nil {
		return nil, err
	}
	H, W, C := in.Shape[0], in.Shape[1], in.Shape[2]
	a := &ir.PoolAttrs{PoolH: H, PoolW: W, StrideH: H, StrideW: W, Padding: "valid"}
	op, q := ir.OpMaxPool, passQuant(in.Quant)
	if strings.Contains(l.class, "Av") {
		op, q = ir.OpAvgPool, ir.Float()
	}
	name := l.name
	if !keep {
		name = l.name + "/pool"
	}
	t := b.add(name, l.class, op, []*ir.Tensor{in}, []int{1, 1, C}, q, a)
	if keep {
		return t, nil
	}
	return b.add(l.name, l.class, ir.OpReshape, []*ir.Tensor{t}, []int{C}, q, nil), nil
}
