package keras

import (
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/ir"
)

// convertOrKeep is convert, except that in an architecture-only import
// (no weights: a pre-analyze) a layer the importer refuses is kept as an
// ir.OpUnsupported placeholder when its output shape follows from its
// config (convolutions and poolings of rank 1 or 2, separable and folded
// forms included, and merges of equal shapes), so the report can cover
// the rest of the model. Any other refusal stays an error.
func (b *builder) convertOrKeep(l *layer, ins []*ir.Tensor) (*ir.Tensor, error) {
	nodes, notes := len(b.g.Nodes), len(b.g.Notes)
	t, err := b.convert(l, ins)
	if err == nil || b.w != nil {
		return t, err
	}
	shape, why := placeholderShape(l, ins)
	if shape == nil {
		return nil, fmt.Errorf("%w (the pre-analyze cannot go past this layer: %s)", err, why)
	}
	b.g.Nodes, b.g.Notes = b.g.Nodes[:nodes], b.g.Notes[:notes] // drop what convert added before failing
	src := make([]*ir.Tensor, len(ins))
	for i, t := range ins {
		src[i] = t
		if zp := b.zeroPads[t]; zp != nil {
			src[i] = zp.src // the padding belongs to the unsupported layer
		}
	}
	return b.add(l.name, l.class, ir.OpUnsupported, src, shape, ir.Float(), &ir.UnsupportedAttrs{Reason: err.Error()}), nil
}

// placeholderShape derives a refused layer's output shape (without the
// batch) from Keras's shape rules for its config, or says why it cannot.
func placeholderShape(l *layer, ins []*ir.Tensor) ([]int, string) {
	c := cfg(l.config)
	in := ins[0].Shape
	same := true
	for _, t := range ins[1:] {
		same = same && shapeStr(t.Shape) == shapeStr(in)
	}
	switch {
	case len(ins) > 1 && l.class == "Concatenate":
		out := append([]int(nil), in...)
		for _, t := range ins[1:] {
			if len(t.Shape) != len(in) || len(in) == 0 {
				return nil, "inputs of different ranks"
			}
			out[len(out)-1] += t.Shape[len(in)-1]
		}
		return out, ""
	case len(ins) > 1 && same:
		return append([]int(nil), in...), "" // element-wise merge (Add, Multiply, Average, ...)
	case len(ins) > 1:
		return nil, "a merge of inputs with different shapes"
	case strings.Contains(l.class, "Transpose"):
		return nil, "transposed convolutions grow their input"
	case strings.HasPrefix(l.class, "Global") && len(in) >= 2:
		if keep, _ := c.boolean("keepdims", false); keep {
			out := make([]int, len(in))
			for i := range out {
				out[i] = 1
			}
			out[len(out)-1] = in[len(in)-1]
			return out, ""
		}
		return []int{in[len(in)-1]}, ""
	case c.has("kernel_size"), c.has("pool_size"):
		return windowShape(c, in)
	}
	return nil, "no shape rule for class " + l.class
}

// windowShape is the output of a convolution (kernel_size) or pooling
// (pool_size) over the spatial axes of in (all but the last).
func windowShape(c cfg, in []int) ([]int, string) {
	rank := len(in) - 1
	if rank != 1 && rank != 2 {
		return nil, fmt.Sprintf("input %s is not 1-D or 2-D with channels", shapeStr(in))
	}
	list := func(k string, def int) ([]int, bool) {
		switch v := c[k].(type) {
		case nil:
			if def == 0 {
				return nil, false
			}
			out := make([]int, rank)
			for i := range out {
				out[i] = def
			}
			return out, true
		case float64:
			v1 := []any{}
			for range rank {
				v1 = append(v1, v)
			}
			return listInts(v1, rank)
		case []any:
			return listInts(v, rank)
		}
		return nil, false
	}
	win, ok := list("kernel_size", 0)
	if !ok {
		win, ok = list("pool_size", 0)
	}
	if !ok {
		return nil, "kernel_size / pool_size is not a list of positive integers of the input's spatial rank"
	}
	stride, ok1 := list("strides", 1)
	if c.has("pool_size") && !c.has("strides") {
		stride, ok1 = win, true // Keras pools default strides to pool_size
	}
	dil, ok2 := list("dilation_rate", 1)
	padding, err := c.str("padding", "valid")
	if !ok1 || !ok2 || err != nil {
		return nil, "strides, dilation_rate or padding are malformed"
	}
	out := make([]int, 0, len(in))
	for i := 0; i < rank; i++ {
		o := outSize(in[i], win[i], stride[i], dil[i], strings.ToLower(padding))
		if o < 1 {
			return nil, fmt.Sprintf("input %s is smaller than the window %v", shapeStr(in), win)
		}
		out = append(out, o)
	}
	ch := in[rank]
	switch {
	case c.has("filters"):
		f, err := c.integer("filters", 0)
		if err != nil || f < 1 {
			return nil, "filters is not a positive integer"
		}
		ch = f
	case c.has("depth_multiplier"):
		m, err := c.integer("depth_multiplier", 1)
		if err != nil || m < 1 {
			return nil, "depth_multiplier is not a positive integer"
		}
		ch *= m
	}
	return append(out, ch), ""
}

func listInts(v []any, n int) ([]int, bool) {
	if len(v) != n {
		return nil, false
	}
	out := make([]int, n)
	for i, x := range v {
		f, ok := x.(float64)
		if !ok || f < 1 || f >= 1<<20 || f != float64(int(f)) {
			return nil, false
		}
		out[i] = int(f)
	}
	return out, true
}
