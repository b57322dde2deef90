package keras

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/quant"
)

// convert adds the nodes of one layer and returns its output tensor.
func (b *builder) convert(l *layer, ins []*ir.Tensor) (*ir.Tensor, error) {
	cls := layerClasses[l.class]
	for _, t := range ins {
		if b.oneD[t] && cls.input2D {
			return nil, fmt.Errorf("input has shape %s (rank 3 with the batch); %s needs a rank-4 input [batch, height, width, channels]", shapeStr(b.kerasShape(t)), l.class)
		}
	}
	if cls.merge {
		var err error
		if ins, err = b.expandMerge(l, ins); err != nil {
			return nil, err
		}
	}
	t, err := b.convertLayer(l, ins)
	if err == nil && cls.oneD == "" {
		b.keepOneD(l.class, ins, t)
	}
	return t, err
}

// convertLayer checks what every class shares (channels_last, the number
// of inputs, where a ZeroPadding2D may go) and runs the class's converter.
func (b *builder) convertLayer(l *layer, ins []*ir.Tensor) (*ir.Tensor, error) {
	cls, known := layerClasses[l.class]
	c := cfg(l.config)
	if df, err := c.str("data_format", "channels_last"); err != nil {
		return nil, err
	} else if df != "channels_last" {
		return nil, fmt.Errorf("data_format=%q is not supported; use channels_last", df)
	}
	if dt := dtypeName(c["dtype"]); dt != "" && dt != "float32" && !b.dtypeNoted[dt] {
		if b.dtypeNoted == nil {
			b.dtypeNoted = map[string]bool{}
		}
		b.dtypeNoted[dt] = true
		b.note("%s: layer %q (%s) and possibly others compute in %s; dqnn computes every layer in float32, so float outputs may differ from Keras in the last bits", b.file, l.name, l.class, dt)
	}
	if !cls.merge && len(ins) != 1 {
		return nil, fmt.Errorf("the layer takes one input, got %d", len(ins))
	}
	for _, t := range ins {
		if zp := b.zeroPads[t]; zp != nil && cls.absorbs&absorbsPadding == 0 {
			return nil, fmt.Errorf("its input comes from ZeroPadding2D %q: %s", zp.layer, zeroPadUse)
		}
	}
	switch {
	case cls.oneD != "":
		return b.oneDLayer(l, c, ins[0])
	case known:
		return cls.convert(b, l, c, ins)
	case nestedModels[l.class]:
		return nil, fmt.Errorf("nested models are not supported; rebuild the model from the inner model's layers (one flat Sequential or Functional model) and re-save")
	}
	return nil, fmt.Errorf("layer class %s is not supported; supported classes: %s", l.class, strings.Join(supported, ", "))
}

// dtypeName returns a layer's compute dtype: the "dtype" string, or the
// name of a Keras 3 DTypePolicy ("mixed_float16" counts as float16).
func dtypeName(v any) string {
	switch t := v.(type) {
	case string:
		return strings.TrimPrefix(t, "mixed_")
	case map[string]any:
		if c, ok := t["config"].(map[string]any); ok {
			if n, ok := c["name"].(string); ok {
				return strings.TrimPrefix(n, "mixed_")
			}
		}
	}
	return ""
}

func lastAxis(c cfg, key string, rank int) error {
	var a int
	switch v := c[key].(type) {
	case nil:
		return nil
	case float64:
		a = int(v)
	case []any:
		if len(v) != 1 {
			return fmt.Errorf("argument %s=%s: only the last axis is supported", key, compactJSON(v))
		}
		f, ok := v[0].(float64)
		if !ok {
			return fmt.Errorf("argument %s=%s must be an integer", key, compactJSON(v))
		}
		a = int(f)
	default:
		return fmt.Errorf("argument %s=%s must be an integer", key, compactJSON(v))
	}
	if a != -1 && a != rank {
		return fmt.Errorf("argument %s=%d: only the last (channel) axis is supported (-1 or %d)", key, a, rank)
	}
	return nil
}

// weights returns the saved arrays of l named want (in that order), checking
// their shapes; nil slices in architecture-only mode.
func (b *builder) weights(l *layer, want []string, shapes [][]int) ([][]float32, error) {
	out := make([][]float32, len(want))
	if b.w == nil {
		return out, nil
	}
	if f, ok := b.w.(filled); ok {
		for i, w := range want {
			v := f.f(l.name, w, slices.Clone(shapes[i]))
			if len(v) != ir.NumElements(shapes[i]) {
				return nil, fmt.Errorf("Options.Fill returned %d values for weight %q of shape %s", len(v), w, shapeStr(shapes[i]))
			}
			out[i] = v
		}
		return out, nil
	}
	arrays, err := b.w.layer(l)
	if err != nil {
		return nil, fmt.Errorf("reading weights from %s: %w", b.w.file(), err)
	}
	if len(arrays) == 0 {
		return nil, fmt.Errorf("no weights saved for this layer in %s (want %s); is this the weights file of this model?", b.w.file(), strings.Join(want, ", "))
	}
	named := arrays[0].name != ""
	var found []string
	for _, a := range arrays {
		found = append(found, a.base())
	}
	for i, w := range want {
		var a *array
		if named {
			for j := range arrays {
				if arrays[j].base() == w {
					a = &arrays[j]
					break
				}
			}
			if a == nil {
				return nil, fmt.Errorf("weight %q is missing in %s (found %s)", w, b.w.file(), strings.Join(found, ", "))
			}
		} else {
			if i >= len(arrays) {
				return nil, fmt.Errorf("%s holds %d weights for this layer, want %d (%s)", b.w.file(), len(arrays), len(want), strings.Join(want, ", "))
			}
			a = &arrays[i]
		}
		if !slices.Equal(a.shape, shapes[i]) {
			return nil, fmt.Errorf("weight %q has shape %s in %s, the layer config implies %s", w, shapeStr(a.shape), b.w.file(), shapeStr(shapes[i]))
		}
		if len(a.data) != ir.NumElements(shapes[i]) {
			return nil, fmt.Errorf("weight %q has %d values for shape %s", w, len(a.data), shapeStr(shapes[i]))
		}
		out[i] = a.data
	}
	return out, nil
}

// quantizerArg parses the quantizer in argument key (nil if none) and
// checks that it can be evaluated.
func quantizerArg(c cfg, key string) (*ir.Quantizer, error) {
	q, err := quant.Parse(c[key])
	if err != nil {
		return nil, fmt.Errorf("argument %s: %w", key, err)
	}
	if err := checkEvaluable(q); err != nil {
		return nil, fmt.Errorf("argument %s: %w", key, err)
	}
	return q, nil
}

// layerQuantizers returns the input, kernel and bias quantizers of a weight layer.
func layerQuantizers(class string, c cfg) (in, kernel, bias *ir.Quantizer, err error) {
	parse := func(key string) (*ir.Quantizer, error) { return quantizerArg(c, key) }
	kkey := "kernel_quantizer"
	if strings.Contains(class, "Depthwise") {
		kkey = "depthwise_quantizer"
	}
	switch {
	case strings.HasPrefix(class, "Quant"): // Larq
		if in, err = parse("input_quantizer"); err != nil {
			return
		}
		kernel, err = parse(kkey)
	case strings.HasPrefix(class, "Q"): // QKeras
		if c.has("mask") {
			return nil, nil, nil, fmt.Errorf("argument mask is not supported; apply the mask to the kernel and remove it")
		}
		if kernel, err = parse(kkey); err != nil {
			return
		}
		kernel = quant.ForKernel(kernel)
		bias, err = parse("bias_quantizer")
	}
	return
}

// quantizeKernel applies the kernel quantizer to the latent weights and
// picks the storage type; view is the (rows, output channels) shape used to
// decide per-channel scales.
func quantizeKernel(q *ir.Quantizer, w *ir.Weights, view []int) (ir.Quant, error) {
	if q == nil {
		return ir.Float(), nil
	}
	if w.Data == nil { // architecture only: the type q gives to weights of this shape
		return quant.PredictKernelQuant(q, w.Shape, view), nil
	}
	v, err := quant.Apply(q, w.Data, w.Shape)
	if err != nil {
		return ir.Quant{}, fmt.Errorf("kernel quantizer: %w", err)
	}
	w.Data = v
	return quant.KernelQuant(q, v, view), nil
}

// finish adds the node, then the QKeras quantizer activation if any.
func (b *builder) finish(l *layer, op ir.Op, ins []*ir.Tensor, shape []int, attrs any, actQ *ir.Quantizer) (*ir.Tensor, error) {
	t := b.add(l.name, l.class, op, ins, shape, ir.Float(), attrs)
	if actQ != nil {
		return b.quantizeNode(l.name+"/activation", l.class, t, actQ, "activation")
	}
	return t, nil
}

func biasWeights(q *ir.Quantizer, data []float32, n int) (*ir.Weights, error) {
	w := &ir.Weights{Shape: []int{n}, Data: data}
	if q != nil && data != nil {
		v, err := quant.Apply(q, data, w.Shape)
		if err != nil {
			return nil, fmt.Errorf("bias quantizer: %w", err)
		}
		w.Data = v
	}
	return w, nil
}

func fill(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Params returns the number of saved parameters a node holds (kernel, bias,
// batch-norm gamma/beta/mean/variance), as Keras's count_params counts them:
// only the weights that exist (no gamma with scale=False, no beta with
// center=False).
func Params(n *ir.Node) int {
	switch a := n.Attrs.(type) {
	case *ir.DenseAttrs:
		p := ir.NumElements(a.Kernel.Shape)
		if a.Bias != nil {
			p += ir.NumElements(a.Bias.Shape)
		}
		return p
	case *ir.ConvAttrs:
		p := ir.NumElements(a.Kernel.Shape)
		if a.Bias != nil {
			p += ir.NumElements(a.Bias.Shape)
		}
		return p
	case *ir.BatchNormAttrs:
		if len(n.Outputs) == 1 && len(n.Outputs[0].Shape) > 0 {
			per := 4 // gamma, beta, moving_mean, moving_variance
			if a.NoGamma {
				per--
			}
			if a.NoBeta {
				per--
			}
			return per * n.Outputs[0].Shape[len(n.Outputs[0].Shape)-1]
		}
	}
	return 0
}
