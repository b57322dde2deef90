// Convolutions: Conv2D, DepthwiseConv2D, QConv2DTranspose and their QKeras
// and Larq forms (1-D ones through oned.go).

package keras

import (
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/quant"
)

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
