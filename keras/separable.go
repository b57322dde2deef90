package keras

import (
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/quant"
)

// separable converts SeparableConv2D, QKeras QSeparableConv2D and Larq
// QuantSeparableConv2D into the two convolutions TensorFlow runs
// (tf.nn.separable_conv2d): a depthwise one (no bias, linear) whose float
// output feeds a 1×1 convolution that carries the bias and activation.
// Each kernel has its own quantizer: QKeras depthwise_quantizer and
// pointwise_quantizer (both switched to auto_po2 when alpha is None, as
// _set_trainable_parameter does) and bias_quantizer; Larq input_quantizer
// (applied once, before the depthwise convolution and its pad_values
// padding), depthwise_quantizer and pointwise_quantizer. The intermediate
// tensor is not quantized in either library.
func (b *builder) separable(l *layer, c cfg, in *ir.Tensor) (*ir.Tensor, error) {
	if len(in.Shape) != 3 {
		return nil, fmt.Errorf("input has shape %s; %s needs a rank-4 input [batch, height, width, channels]", shapeStr(in.Shape), l.class)
	}
	larq := strings.HasPrefix(l.class, "Quant")
	qkeras := !larq && strings.HasPrefix(l.class, "Q")
	k, s, d, padding, _, err := convWindow(c, false)
	if err != nil {
		return nil, err
	}
	filters, err := c.integer("filters", 0)
	if err != nil || filters < 1 {
		return nil, fmt.Errorf("argument filters must be a positive integer, got %s", compactJSON(c["filters"]))
	}
	mult, err := c.integer("depth_multiplier", 1)
	if err != nil || mult < 1 {
		return nil, fmt.Errorf("argument depth_multiplier must be a positive integer, got %s", compactJSON(c["depth_multiplier"]))
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
	var inQ, dwQ, pwQ, bQ *ir.Quantizer
	switch {
	case larq:
		if inQ, err = quantizerArg(c, "input_quantizer"); err != nil {
			return nil, err
		}
		if dwQ, err = quantizerArg(c, "depthwise_quantizer"); err != nil {
			return nil, err
		}
		if pwQ, err = quantizerArg(c, "pointwise_quantizer"); err != nil {
			return nil, err
		}
	case qkeras:
		if dwQ, err = quantizerArg(c, "depthwise_quantizer"); err != nil {
			return nil, err
		}
		if pwQ, err = quantizerArg(c, "pointwise_quantizer"); err != nil {
			return nil, err
		}
		dwQ, pwQ = quant.ForKernel(dwQ), quant.ForKernel(pwQ)
		if bQ, err = quantizerArg(c, "bias_quantizer"); err != nil {
			return nil, err
		}
	}
	fn, actQ, err := activation(c["activation"])
	if err != nil {
		return nil, err
	}
	H, W, C := in.Shape[0], in.Shape[1], in.Shape[2]
	oh, ow := outSize(H, k[0], s[0], d[0], padding), outSize(W, k[1], s[1], d[1], padding)
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("input %s is smaller than the kernel %v (dilation %v) with padding=%q", shapeStr(in.Shape), k, d, padding)
	}
	mid := C * mult
	dwShape, pwShape := []int{k[0], k[1], C, mult}, []int{1, 1, mid, filters}
	want, shapes := []string{"depthwise_kernel", "pointwise_kernel"}, [][]int{dwShape, pwShape}
	if useBias {
		want, shapes = append(want, "bias"), append(shapes, []int{filters})
	}
	ws, err := b.weights(l, want, shapes)
	if err != nil {
		return nil, err
	}
	x := in
	if inQ != nil {
		if x, err = b.quantizeNode(l.name+"/input_quantizer", l.class, in, inQ, "input_quantizer"); err != nil {
			return nil, err
		}
	}
	dw := &ir.ConvAttrs{KernelH: k[0], KernelW: k[1], StrideH: s[0], StrideW: s[1], DilationH: d[0], DilationW: d[1],
		Padding: padding, PadValue: float32(padValue), DepthMultiplier: mult, Activation: "linear",
		Kernel: ir.Weights{Shape: dwShape, Data: ws[0]}}
	if dw.KernelQuant, err = quantizeKernel(dwQ, &dw.Kernel, []int{k[0] * k[1], mid}); err != nil {
		return nil, fmt.Errorf("depthwise_quantizer: %w", err)
	}
	t := b.add(l.name+"/depthwise", l.class, ir.OpDepthwiseConv, []*ir.Tensor{x}, []int{oh, ow, mid}, ir.Float(), dw)
	pw := &ir.ConvAttrs{Filters: filters, KernelH: 1, KernelW: 1, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1,
		Padding: "valid", Activation: fn, Kernel: ir.Weights{Shape: pwShape, Data: ws[1]}}
	if pw.KernelQuant, err = quantizeKernel(pwQ, &pw.Kernel, pwShape); err != nil {
		return nil, fmt.Errorf("pointwise_quantizer: %w", err)
	}
	if useBias {
		if pw.Bias, err = biasWeights(bQ, ws[2], filters); err != nil {
			return nil, err
		}
	}
	return b.finish(l, ir.OpConv2D, []*ir.Tensor{t}, []int{oh, ow, filters}, pw, actQ)
}
