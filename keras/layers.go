package keras

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/quant"
)

// supported lists the layer classes the importer converts, for messages.
var supported = []string{"InputLayer", "Dense", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "MaxPooling2D",
	"AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Reshape", "ZeroPadding2D", "Dropout", "Activation", "ReLU", "Softmax", "Concatenate", "Add",
	"QActivation", "QDense", "QConv2D", "QConv2DTranspose", "QDepthwiseConv2D", "QBatchNormalization",
	"QuantDense", "QuantConv2D", "QuantDepthwiseConv2D", "QConv2DBatchnorm", "QDenseBatchnorm", "QDepthwiseConv2DBatchnorm",
	"SeparableConv2D", "QSeparableConv2D", "QuantSeparableConv2D", "QAveragePooling2D", "QGlobalAveragePooling2D",
	"Conv1D", "QConv1D", "QuantConv1D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D"}

// convert adds the nodes of one layer and returns its output tensor.
func (b *builder) convert(l *layer, ins []*ir.Tensor) (*ir.Tensor, error) {
	for _, t := range ins {
		if b.oneD[t] && spatial2D[l.class] {
			return nil, fmt.Errorf("input has shape %s (rank 3 with the batch); %s needs a rank-4 input [batch, height, width, channels]", shapeStr(b.kerasShape(t)), l.class)
		}
	}
	if l.class == "Add" || l.class == "Concatenate" {
		var err error
		if ins, err = b.expandMerge(l, ins); err != nil {
			return nil, err
		}
	}
	t, err := b.convertLayer(l, ins)
	if err == nil && oneDClasses[l.class] == "" {
		b.keepOneD(l.class, ins, t)
	}
	return t, err
}

func (b *builder) convertLayer(l *layer, ins []*ir.Tensor) (*ir.Tensor, error) {
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
	if l.class != "Concatenate" && l.class != "Add" && len(ins) != 1 {
		return nil, fmt.Errorf("the layer takes one input, got %d", len(ins))
	}
	in := ins[0]
	for _, t := range ins {
		if zp := b.zeroPads[t]; zp != nil && !convClasses[l.class] {
			return nil, fmt.Errorf("its input comes from ZeroPadding2D %q: %s", zp.layer, zeroPadUse)
		}
	}
	if oneDClasses[l.class] != "" {
		return b.oneDLayer(l, c, in)
	}
	switch l.class {
	case "ZeroPadding2D":
		return b.zeroPadding(l, c, in)
	case "Dropout", "SpatialDropout2D":
		return in, nil // identity at inference
	case "Flatten":
		return b.add(l.name, l.class, ir.OpReshape, ins, []int{ir.NumElements(in.Shape)}, passQuant(in.Quant), nil), nil
	case "Reshape":
		return b.reshape(l, c, in)
	case "Activation":
		fn, q, err := activation(c["activation"])
		if err != nil {
			return nil, err
		}
		if q != nil {
			return b.quantizeNode(l.name, l.class, in, q, "activation")
		}
		return b.add(l.name, l.class, ir.OpActivation, ins, slices.Clone(in.Shape), ir.Float(), &ir.ActivationAttrs{Function: fn}), nil
	case "ReLU":
		for _, k := range []string{"max_value", "negative_slope", "threshold"} {
			if v, _ := c.float(k, 0); v != 0 {
				return nil, fmt.Errorf("argument %s=%v is not supported; use a plain ReLU", k, v)
			}
		}
		return b.add(l.name, l.class, ir.OpActivation, ins, slices.Clone(in.Shape), ir.Float(), &ir.ActivationAttrs{Function: "relu"}), nil
	case "Softmax":
		if err := lastAxis(c, "axis", len(b.kerasShape(in))); err != nil {
			return nil, err
		}
		return b.add(l.name, l.class, ir.OpActivation, ins, slices.Clone(in.Shape), ir.Float(), &ir.ActivationAttrs{Function: "softmax"}), nil
	case "QActivation":
		fn, q, err := activation(c["activation"])
		if err != nil {
			return nil, err
		}
		if q == nil {
			return b.add(l.name, l.class, ir.OpActivation, ins, slices.Clone(in.Shape), ir.Float(), &ir.ActivationAttrs{Function: fn}), nil
		}
		return b.quantizeNode(l.name, l.class, in, q, "activation")
	case "Dense", "QDense", "QuantDense", "QDenseBatchnorm":
		return b.dense(l, c, in)
	case "Conv2D", "QConv2D", "QuantConv2D", "QConv2DBatchnorm", "DepthwiseConv2D", "QDepthwiseConv2D", "QuantDepthwiseConv2D", "QConv2DTranspose", "QDepthwiseConv2DBatchnorm":
		return b.conv(l, c, in)
	case "QAveragePooling2D", "QGlobalAveragePooling2D":
		return b.qAvgPool(l, c, in)
	case "SeparableConv2D", "QSeparableConv2D", "QuantSeparableConv2D":
		return b.separable(l, c, in)
	case "BatchNormalization", "QBatchNormalization":
		return b.batchNorm(l, c, in)
	case "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D":
		return b.pool(l, c, in)
	case "GlobalAveragePooling2D", "GlobalAvgPool2D", "GlobalMaxPooling2D", "GlobalMaxPool2D":
		return b.globalPool(l, c, in)
	case "Concatenate":
		return b.concat(l, c, ins)
	case "Add":
		if len(ins) < 2 {
			return nil, fmt.Errorf("Add needs at least two inputs, got %d", len(ins))
		}
		for _, t := range ins[1:] {
			if !slices.Equal(t.Shape, in.Shape) {
				return nil, fmt.Errorf("inputs have different shapes %s and %s; broadcasting is not supported", shapeStr(in.Shape), shapeStr(t.Shape))
			}
		}
		return b.add(l.name, l.class, ir.OpAdd, ins, slices.Clone(in.Shape), ir.Float(), nil), nil
	case "Sequential", "Functional", "Model":
		return nil, fmt.Errorf("nested models are not supported; rebuild the model from the inner model's layers (one flat Sequential or Functional model) and re-save")
	}
	return nil, fmt.Errorf("layer class %s is not supported; supported classes: %s", l.class, strings.Join(supported, ", "))
}

// convClasses are the layers a ZeroPadding2D can merge into.
var convClasses = map[string]bool{"Conv2D": true, "QConv2D": true, "QuantConv2D": true, "QConv2DBatchnorm": true, "QDepthwiseConv2DBatchnorm": true,
	"DepthwiseConv2D": true, "QDepthwiseConv2D": true, "QuantDepthwiseConv2D": true}

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

// storedFold reports whether l is a QDepthwiseConv2DBatchnorm or
// QConv2DBatchnorm saved by a QKeras version that keeps its folded weights
// (folded_[depthwise_]kernel_quantized, folded_bias_quantized: up to 0.9.0,
// the PyPI release) and computes with them at inference; later versions
// save no such weights and refold on every call.
func (b *builder) storedFold(l *layer) bool {
	name := storedFoldKernel[l.class]
	if name == "" || b.w == nil {
		return false
	}
	if _, ok := b.w.(filled); ok {
		return false
	}
	arrays, err := b.w.layer(l)
	if err != nil {
		return false // reported when the weights are read
	}
	for _, a := range arrays {
		if a.base() == name {
			return true
		}
	}
	return false
}

// storedFoldKernel names the stored folded kernel of the QKeras folded
// layers whose 0.9.0 release (PyPI) computes inference with the weights
// training stored.
var storedFoldKernel = map[string]string{
	"QDepthwiseConv2DBatchnorm": "folded_depthwise_kernel_quantized",
	"QConv2DBatchnorm":          "folded_kernel_quantized",
}

// foldedWeights reads a weight layer's kernel (and bias). For QKeras's
// folded layers (QDenseBatchnorm, QConv2DBatchnorm, QDepthwiseConv2DBatchnorm
// without stored folded weights: its (kh, kw, in, mult) kernel's flat index
// modulo in·mult is the output channel, as reshape(inv, [in, mult])
// broadcasts) it also reads the
// batch-norm parameters and folds them the way their call() does at
// inference (training=False, either folding_mode):
//
//	inv = rsqrt(moving_variance + eps) · gamma
//	kernel' = inv · kernel (per output channel), bias' = inv · (bias − moving_mean) + beta
//
// The kernel and bias quantizers are then applied to kernel' and bias' by
// the caller; the result always has a bias.
func (b *builder) foldedWeights(l *layer, c cfg, want []string, shapes [][]int, outC int) ([][]float32, error) {
	if b.storedFold(l) {
		// QKeras <= 0.9.0 folded conv layers: call() with
		// training=False uses the folded, already quantized kernel and
		// bias that training stored, not a fold of the BN statistics.
		return b.weights(l, []string{storedFoldKernel[l.class], "folded_bias_quantized"}, [][]int{shapes[0], {outC}})
	}
	if !strings.HasSuffix(l.class, "Batchnorm") {
		return b.weights(l, want, shapes)
	}
	// The batch-norm axis counts the batch: the output rank is the kernel's
	// rank - 1 for a conv (kh,kw,in,out → N,H,W,C) and 2 for a dense layer.
	outRank := len(shapes[0]) - 1
	if len(shapes[0]) == 2 {
		outRank = 1
	}
	if err := lastAxis(c, "axis", outRank); err != nil {
		return nil, err
	}
	if m, _ := c.str("folding_mode", "ema_stats_folding"); m != "ema_stats_folding" && m != "batch_stats_folding" {
		return nil, fmt.Errorf("argument folding_mode=%q is not supported (want ema_stats_folding or batch_stats_folding)", m)
	}
	eps, err := c.float("epsilon", 1e-3)
	if err != nil {
		return nil, err
	}
	center, err := c.boolean("center", true)
	if err != nil {
		return nil, err
	}
	scale, err := c.boolean("scale", true)
	if err != nil {
		return nil, err
	}
	hasBias := len(want) == 2
	all := append([]string(nil), want...)
	allShapes := append([][]int(nil), shapes...)
	for _, n := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
		if n == "gamma" && !scale || n == "beta" && !center {
			continue
		}
		all, allShapes = append(all, n), append(allShapes, []int{outC})
	}
	ws, err := b.weights(l, all, allShapes)
	if err != nil {
		return nil, err
	}
	kernel := ws[0]
	if kernel == nil { // architecture only
		return [][]float32{nil, nil}, nil
	}
	get := func(n string) []float32 {
		for i, w := range all {
			if w == n {
				return ws[i]
			}
		}
		return nil
	}
	gamma, beta, mean, variance := get("gamma"), get("beta"), get("moving_mean"), get("moving_variance")
	inv := make([]float32, outC)
	bias := make([]float32, outC)
	for ch := range inv {
		inv[ch] = float32(1 / float32(math.Sqrt(float64(float32(variance[ch]+float32(eps))))))
		if gamma != nil {
			inv[ch] = float32(inv[ch] * gamma[ch])
		}
		bv := float32(0)
		if hasBias {
			bv = ws[1][ch]
		}
		bias[ch] = float32(inv[ch] * float32(bv-mean[ch]))
		if beta != nil {
			bias[ch] = float32(bias[ch] + beta[ch])
		}
	}
	folded := make([]float32, len(kernel))
	for i, v := range kernel {
		folded[i] = float32(inv[i%outC] * v)
	}
	return [][]float32{folded, bias}, nil
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

// outSize is TF's output size along one spatial axis.
func outSize(in, k, stride, dil int, padding string) int {
	if padding == "same" {
		return (in + stride - 1) / stride
	}
	eff := (k-1)*dil + 1
	if in < eff {
		return 0
	}
	return (in-eff)/stride + 1
}

func (b *builder) conv(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	return b.convShaped(l, c, in, false)
}

// convShaped converts a 2-D convolution, or with oneD a 1-D one that
// oneDLayer has rewritten to height 1 (its saved kernel lacks the leading
// kernel-height axis; padding may be "causal").
func (b *builder) convShaped(l *layer, c cfg, in *ir.Tensor, oneD bool) (*ir.Tensor, error) {
	if len(in.Shape) != 3 {
		return nil, fmt.Errorf("input has shape %s; %s needs a rank-4 input [batch, height, width, channels]", shapeStr(in.Shape), l.class)
	}
	depthwise := strings.Contains(l.class, "Depthwise")
	transpose := l.class == "QConv2DTranspose"
	larq := strings.HasPrefix(l.class, "Quant")
	k, s, d, padding, causal, err := convWindow(c, oneD)
	if err != nil {
		return nil, err
	}
	if g, err := c.integer("groups", 1); err != nil || g != 1 {
		return nil, fmt.Errorf("argument groups=%s is not supported; use groups=1", compactJSON(c["groups"]))
	}
	useBias, err := c.boolean("use_bias", true)
	if err != nil {
		return nil, err
	}
	padValue := 0.0
	if larq {
		if padValue, err = c.float("pad_values", 0); err != nil {
			return nil, err
		}
	}
	inQ, kQ, bQ, err := layerQuantizers(l.class, c)
	if err != nil {
		return nil, err
	}
	fn, actQ, err := activation(c["activation"])
	if err != nil {
		return nil, err
	}
	H, W, C := in.Shape[0], in.Shape[1], in.Shape[2]
	a := &ir.ConvAttrs{KernelH: k[0], KernelW: k[1], StrideH: s[0], StrideW: s[1], DilationH: d[0], DilationW: d[1],
		Padding: padding, PadValue: float32(padValue), InputQuantizer: inQ, Activation: fn}
	if zp := b.zeroPads[in]; zp != nil {
		if padding != "valid" || transpose {
			return nil, fmt.Errorf("its input comes from ZeroPadding2D %q: %s", zp.layer, zeroPadUse)
		}
		// Keras pads with zeros first, then the input quantizer (Larq)
		// maps them: the padded taps hold quantizer(0) (+1 for sign).
		pv := float32(0)
		if inQ != nil {
			v, err := quant.Apply(inQ, []float32{0}, []int{1})
			if err != nil {
				return nil, fmt.Errorf("input quantizer: %w", err)
			}
			pv = v[0]
		}
		a.Padding, a.PadValue = "explicit", pv
		a.PadTop, a.PadBottom, a.PadLeft, a.PadRight = zp.top, zp.bottom, zp.left, zp.right
		in = zp.src
	}
	if causal {
		// Keras pads (k-1)·d zeros on the left of the (already input-
		// quantized) sequence, then runs a valid convolution.
		a.Padding, a.PadValue, a.PadLeft = "explicit", 0, (k[1]-1)*d[1]
	}
	var kshape, view []int
	var outC, oh, ow int
	op := ir.OpConv2D
	switch {
	case transpose:
		if padding != "valid" || s != [2]int{1, 1} {
			return nil, fmt.Errorf("QConv2DTranspose needs padding='valid' and strides=(1, 1) (got padding=%q, strides=%v); change the layer or use an up-sampling + QConv2D", padding, s)
		}
		if d != [2]int{1, 1} {
			return nil, fmt.Errorf("QConv2DTranspose with dilation_rate %v is not supported; use dilation_rate=(1, 1)", d)
		}
		if outC, err = c.integer("filters", 0); err != nil || outC < 1 {
			return nil, fmt.Errorf("argument filters must be a positive integer, got %s", compactJSON(c["filters"]))
		}
		a.Filters = outC
		kshape = []int{k[0], k[1], outC, C}
		view = kshape
		oh, ow = H+k[0]-1, W+k[1]-1
		op = ir.OpConv2DTranspose
	case depthwise:
		mult, err := c.integer("depth_multiplier", 1)
		if err != nil || mult < 1 {
			return nil, fmt.Errorf("argument depth_multiplier must be a positive integer, got %s", compactJSON(c["depth_multiplier"]))
		}
		a.DepthMultiplier = mult
		outC = C * mult
		kshape = []int{k[0], k[1], C, mult}
		view = []int{k[0] * k[1], outC}
		oh, ow = outSize(H, k[0], s[0], d[0], padding), outSize(W, k[1], s[1], d[1], padding)
		op = ir.OpDepthwiseConv
		if a.Padding == "explicit" {
			H2, W2 := in.Shape[0]+a.PadTop+a.PadBottom, in.Shape[1]+a.PadLeft+a.PadRight
			oh, ow = outSize(H2, k[0], s[0], d[0], "valid"), outSize(W2, k[1], s[1], d[1], "valid")
		}
	default:
		if outC, err = c.integer("filters", 0); err != nil || outC < 1 {
			return nil, fmt.Errorf("argument filters must be a positive integer, got %s", compactJSON(c["filters"]))
		}
		a.Filters = outC
		kshape = []int{k[0], k[1], C, outC}
		view = kshape
		oh, ow = outSize(H, k[0], s[0], d[0], padding), outSize(W, k[1], s[1], d[1], padding)
		if a.Padding == "explicit" {
			H2, W2 := in.Shape[0]+a.PadTop+a.PadBottom, in.Shape[1]+a.PadLeft+a.PadRight
			oh, ow = outSize(H2, k[0], s[0], d[0], "valid"), outSize(W2, k[1], s[1], d[1], "valid")
		}
	}
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("input %s is smaller than the kernel %v (dilation %v) with padding=%q", shapeStr(in.Shape), k, d, padding)
	}
	kname := "kernel"
	if depthwise {
		kname = "depthwise_kernel"
	}
	want, shapes := []string{kname}, [][]int{kshape}
	if oneD {
		shapes[0] = kshape[1:] // saved as (k, in, out): the same values in the same order
	}
	if useBias {
		want, shapes = append(want, "bias"), append(shapes, []int{outC})
	}
	ws, err := b.foldedWeights(l, c, want, shapes, outC)
	if err != nil {
		return nil, err
	}
	if len(ws) == 2 {
		useBias = true
	}
	x := in
	if inQ != nil {
		if x, err = b.quantizeNode(l.name+"/input_quantizer", l.class, in, inQ, "input_quantizer"); err != nil {
			return nil, err
		}
	}
	a.Kernel = ir.Weights{Shape: kshape, Data: ws[0]}
	switch {
	case b.storedFold(l):
		// The stored fold went through the kernel quantizer already: keep
		// its values, store them on the quantizer's grid when they fit it.
		a.KernelQuant = ir.Quant{DType: ir.Float().DType, Quantizer: kQ}
		if ws[0] != nil {
			a.KernelQuant = quant.KernelQuant(kQ, ws[0], view)
		}
		bQ = nil // the saved folded bias is used as is
	default:
		if a.KernelQuant, err = quantizeKernel(kQ, &a.Kernel, view); err != nil {
			return nil, err
		}
	}
	if transpose && (len(a.KernelQuant.Scale) > 1 || a.KernelQuant.Scale == nil && a.KernelQuant.DType != ir.Float().DType) {
		// Per-channel scales of a transposed kernel are per input channel:
		// store as float (scales computed from absent weights count as per-channel).
		a.KernelQuant = ir.Quant{DType: ir.Float().DType, Quantizer: kQ}
	}
	if useBias {
		if a.Bias, err = biasWeights(bQ, ws[1], outC); err != nil {
			return nil, err
		}
	}
	padded := (oh-1)*s[0]+(k[0]-1)*d[0]+1 > H || (ow-1)*s[1]+(k[1]-1)*d[1]+1 > W
	if larq && padding == "same" && padded && padValue == 0 && quant.IsSign(inQ) {
		b.note("%s: layer %q (%s): binary convolution with padding=\"same\" and pad_values=0 is computed exactly with zero padding; pad_values=1.0 (or -1.0) pads with ±1 and lets the all-binary kernel run faster", b.file, l.name, l.class)
	}
	return b.finish(l, op, []*ir.Tensor{x}, []int{oh, ow, outC}, a, actQ)
}

func (b *builder) batchNorm(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if len(in.Shape) == 0 {
		return nil, fmt.Errorf("input has no channel axis")
	}
	if err := lastAxis(c, "axis", len(b.kerasShape(in))); err != nil {
		return nil, err
	}
	eps, err := c.float("epsilon", 1e-3)
	if err != nil {
		return nil, err
	}
	center, err := c.boolean("center", true)
	if err != nil {
		return nil, err
	}
	scale, err := c.boolean("scale", true)
	if err != nil {
		return nil, err
	}
	if r, _ := c.boolean("renorm", false); r {
		return nil, fmt.Errorf("argument renorm=True is not supported")
	}
	C := in.Shape[len(in.Shape)-1]
	var want []string
	if scale {
		want = append(want, "gamma")
	}
	if center {
		want = append(want, "beta")
	}
	want = append(want, "moving_mean", "moving_variance")
	shapes := make([][]int, len(want))
	for i := range shapes {
		shapes[i] = []int{C}
	}
	ws, err := b.weights(l, want, shapes)
	if err != nil {
		return nil, err
	}
	get := func(name string) []float32 {
		for i, w := range want {
			if w == name {
				return ws[i]
			}
		}
		return nil
	}
	// tf-keras uses fused_batch_norm for rank-4/5 inputs unless fused=False;
	// Keras 3 and QBatchNormalization always use the unfused formula.
	rank := len(b.kerasShape(in))
	fused := l.class == "BatchNormalization" && !b.m.keras3 && (rank == 3 || rank == 4)
	if f, ok := c["fused"].(bool); ok && !f {
		fused = false
	}
	if vb, ok := c["virtual_batch_size"].(float64); ok && vb > 0 {
		fused = false
	}
	a := &ir.BatchNormAttrs{Mean: get("moving_mean"), Variance: get("moving_variance"), Epsilon: float32(eps), Fused: fused, NoGamma: !scale, NoBeta: !center}
	a.Gamma, a.Beta = get("gamma"), get("beta")
	if b.w != nil {
		if !scale {
			a.Gamma = fill(C, 1)
		}
		if !center {
			a.Beta = fill(C, 0)
		}
	}
	if l.class == "QBatchNormalization" {
		if err := qbnParams(c, a, scale, center, b.w != nil); err != nil {
			return nil, err
		}
	}
	return b.add(l.name, l.class, ir.OpBatchNorm, []*ir.Tensor{in}, slices.Clone(in.Shape), ir.Float(), a), nil
}

// qbnDefaults are QBatchNormalization's constructor defaults, used when the
// config lacks the key (a null value means "no quantizer").
var qbnDefaults = map[string]string{
	"gamma_quantizer":    "quantized_relu_po2(6, 2048)",
	"beta_quantizer":     "quantized_po2(5)",
	"mean_quantizer":     "quantized_po2(5)",
	"variance_quantizer": "quantized_relu_po2(6, quadratic_approximation=True)",
}

func qbnParams(c cfg, a *ir.BatchNormAttrs, scale, center, haveWeights bool) error {
	if c.has("inverse_quantizer") {
		return fmt.Errorf("argument inverse_quantizer is not supported; set it to None")
	}
	keys := []string{"gamma_quantizer", "beta_quantizer", "mean_quantizer", "variance_quantizer"}
	params := []*[]float32{&a.Gamma, &a.Beta, &a.Mean, &a.Variance}
	use := []bool{scale, center, true, true}
	for i, k := range keys {
		v, present := c[k]
		if !present {
			v = qbnDefaults[k]
		}
		q, err := quant.Parse(v)
		if err != nil {
			return fmt.Errorf("argument %s: %w", k, err)
		}
		if q == nil || !use[i] || !haveWeights {
			continue
		}
		out, err := quant.Apply(q, *params[i], []int{len(*params[i])})
		if err != nil {
			return fmt.Errorf("argument %s: %w", k, err)
		}
		*params[i] = out
	}
	return nil
}

func fill(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

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

// convWindow reads a convolution's kernel_size, strides, dilation_rate and
// padding. causal (1-D layers only, when allowCausal) comes back as padding
// "valid" with causal set: the caller adds the (k-1)·d leading zeros.
func convWindow(c cfg, allowCausal bool) (k, s, d [2]int, padding string, causal bool, err error) {
	if !c.has("kernel_size") {
		return k, s, d, "", false, fmt.Errorf("argument kernel_size is missing")
	}
	if k, err = c.pair("kernel_size", [2]int{0, 0}); err != nil {
		return
	}
	if s, err = c.pair("strides", [2]int{1, 1}); err != nil {
		return
	}
	if d, err = c.pair("dilation_rate", [2]int{1, 1}); err != nil {
		return
	}
	if padding, err = c.str("padding", "valid"); err != nil {
		return
	}
	padding = strings.ToLower(padding)
	if causal = allowCausal && padding == "causal"; causal {
		padding = "valid"
	}
	if padding != "valid" && padding != "same" {
		err = fmt.Errorf("padding=%q is not supported; use \"valid\" or \"same\"", padding)
		return
	}
	if (s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1) {
		err = fmt.Errorf("strides %v with dilation_rate %v: TensorFlow does not allow both > 1", s, d)
	}
	return
}
