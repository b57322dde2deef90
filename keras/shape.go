// Shape layers: Flatten, Reshape, ZeroPadding2D (absorbed by the
// convolution reading it), and the dropouts (identities at inference).

package keras

import (
	"fmt"
	"math"

	"github.com/dqnn/dqnn/ir"
)

// flatten converts Flatten: a free reshape to one axis.
func (b *builder) flatten(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	return b.add(l.name, l.class, ir.OpReshape, []*ir.Tensor{in}, []int{ir.NumElements(in.Shape)}, passQuant(in.Quant), nil), nil
}

// dropout converts Dropout and SpatialDropout2D: the identity at inference.
func dropout(b *builder, l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) { return in, nil }

func (b *builder) reshape(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	ts, ok := c["target_shape"].([]any)
	if !ok || len(ts) == 0 {
		return nil, fmt.Errorf("argument target_shape must be a non-empty list, got %s", compactJSON(c["target_shape"]))
	}
	n := ir.NumElements(in.Shape)
	shape := make([]int, len(ts))
	unknown := -1
	known := 1
	for i, v := range ts {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || f == 0 || f < -1 || f > 1<<24 {
			return nil, fmt.Errorf("target_shape %s: entries must be positive integers or one -1", compactJSON(ts))
		}
		if f == -1 {
			if unknown >= 0 {
				return nil, fmt.Errorf("target_shape %s: at most one -1", compactJSON(ts))
			}
			unknown = i
			continue
		}
		shape[i] = int(f)
		known *= int(f)
	}
	if unknown >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("target_shape %s does not fit %d elements", compactJSON(ts), n)
		}
		shape[unknown] = n / known
	} else if known != n {
		return nil, fmt.Errorf("target_shape %s has %d elements, the input %s has %d", compactJSON(ts), known, shapeStr(in.Shape), n)
	}
	return b.add(l.name, l.class, ir.OpReshape, []*ir.Tensor{in}, shape, passQuant(in.Quant), nil), nil
}

// zeroPadUse says where dqnn accepts a ZeroPadding2D.
const zeroPadUse = "ZeroPadding2D is supported only when every layer reading it is a convolution (Conv2D, DepthwiseConv2D or their QKeras/Larq forms) with padding=\"valid\"; give the convolution padding=\"same\" instead where the amounts match"

// zeroPadding records a ZeroPadding2D: no node is added; the convolutions
// reading its output take its input with explicit padding (zero taps
// contribute nothing to a dot product, exactly as the padded zeros do).
func (b *builder) zeroPadding(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if len(in.Shape) != 3 {
		return nil, fmt.Errorf("input has shape %s; ZeroPadding2D needs a rank-4 input", shapeStr(in.Shape))
	}
	if b.zeroPads[in] != nil {
		return nil, fmt.Errorf("two ZeroPadding2D layers in a row are not supported; merge them into one")
	}
	num := func(v any) (int, bool) {
		f, ok := v.(float64)
		if !ok || f < 0 || f != math.Trunc(f) || f > 1<<16 {
			return 0, false
		}
		return int(f), true
	}
	bad := fmt.Errorf("argument padding=%s must be an integer, a pair of integers or a pair of pairs", compactJSON(c["padding"]))
	var p [4]int // top, bottom, left, right
	switch v := c["padding"].(type) {
	case nil:
		p = [4]int{1, 1, 1, 1}
	case float64:
		n, ok := num(v)
		if !ok {
			return nil, bad
		}
		p = [4]int{n, n, n, n}
	case []any:
		if len(v) != 2 {
			return nil, bad
		}
		for i, e := range v {
			if n, ok := num(e); ok {
				p[2*i], p[2*i+1] = n, n
				continue
			}
			pr, ok := e.([]any)
			if !ok || len(pr) != 2 {
				return nil, bad
			}
			a, ok1 := num(pr[0])
			z, ok2 := num(pr[1])
			if !ok1 || !ok2 {
				return nil, bad
			}
			p[2*i], p[2*i+1] = a, z
		}
	default:
		return nil, bad
	}
	t := &ir.Tensor{Name: l.name, Shape: []int{in.Shape[0] + p[0] + p[1], in.Shape[1] + p[2] + p[3], in.Shape[2]}, Quant: passQuant(in.Quant)}
	b.zeroPads[t] = &zeroPad{layer: l.name, src: in, top: p[0], bottom: p[1], left: p[2], right: p[3]}
	return t, nil
}
