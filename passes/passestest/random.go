package passestest

import (
	"fmt"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// RandomModel builds a random chain of Keras-level layers the way the
// importer would: quantizers (sign, quantized_bits, quantized_relu),
// convolutions and depthwise convolutions (valid/same, stride 1/2, s1/s8/f32
// weights, bias, relu), max-pools, batch-norms with negative and zero
// gammas, then Flatten and dense layers, sometimes a softmax.
func RandomModel(seed uint64) *ir.Graph {
	b := New(fmt.Sprintf("random%d", seed), seed, 6+int(seed%5), 6+int(seed%4), 1+int(seed%3)*16)
	r := b.R
	wtypes := []dtype.DType{dtype.S1, dtype.S8, dtype.F32}
	quantize := func(name string) {
		switch r.IntN(7) {
		case 0, 1:
			b.Quantize(name, SignQuant())
		case 2:
			b.Quantize(name, BitsQuant(r.IntN(4)))
		case 3:
			b.Quantize(name, ReluQuant(r.IntN(3)))
		case 4:
			b.Quantize(name, QuantOf([]string{"quantized_tanh(bits=8)", "quantized_tanh(bits=4, symmetric=True)"}[r.IntN(2)]))
		case 5:
			b.Quantize(name, QuantOf("ste_tern(threshold_value=0.3)"))
		default:
			b.Quantize(name, QuantOf("ste_heaviside"))
		}
	}
	layers := 1 + r.IntN(4)
	for i := 0; i < layers; i++ {
		h, w := b.Cur.Shape[0], b.Cur.Shape[1]
		if r.IntN(3) > 0 {
			quantize(fmt.Sprintf("conv%d/input_quantizer", i))
		}
		act := "linear"
		if r.IntN(4) == 0 {
			act = "relu"
		}
		switch {
		case r.IntN(4) == 0:
			pad := []string{"same", "valid"}[r.IntN(2)]
			if h < 3 || w < 3 {
				pad = "same"
			}
			b.DWConv(fmt.Sprintf("dw%d", i), 1+r.IntN(2), 3, pad, wtypes[r.IntN(3)])
		default:
			stride := 1
			if h >= 6 && w >= 6 && r.IntN(3) == 0 {
				stride = 2
			}
			pad := []string{"same", "valid"}[r.IntN(2)]
			if h < 3 || w < 3 {
				pad = "same"
			}
			in := b.Cur
			b.Conv(fmt.Sprintf("conv%d", i), []int{8, 16, 32, 33}[r.IntN(4)], 3, stride, pad, wtypes[r.IntN(3)], r.IntN(2) == 0, act)
			if pad == "same" && in.Quant.DType == dtype.S1 && r.IntN(2) == 0 {
				// Larq pad_values=±1: padding after the input quantizer.
				b.G.Nodes[len(b.G.Nodes)-1].Attrs.(*ir.ConvAttrs).PadValue = float32(1 - 2*r.IntN(2))
			}
		}
		if r.IntN(2) == 0 && b.Cur.Shape[0] >= 2 && b.Cur.Shape[1] >= 2 {
			b.MaxPool(fmt.Sprintf("pool%d", i), 2)
		}
		if r.IntN(3) > 0 {
			b.BatchNorm(fmt.Sprintf("bn%d", i), r.IntN(2) == 0, r.IntN(2) == 0)
		}
		if r.IntN(2) == 0 && b.Cur.Shape[0] >= 4 && b.Cur.Shape[1] >= 4 && r.IntN(2) == 0 {
			b.MaxPool(fmt.Sprintf("pool%db", i), 2)
		}
	}
	if r.IntN(3) > 0 {
		quantize("flatten_q")
	}
	b.Flatten("flatten")
	for i := 0; i < r.IntN(3); i++ {
		if r.IntN(3) > 0 {
			quantize(fmt.Sprintf("dense%d/input_quantizer", i))
		}
		b.Dense(fmt.Sprintf("dense%d", i), []int{10, 32, 64, 65}[r.IntN(4)], wtypes[r.IntN(3)], r.IntN(2) == 0, []string{"linear", "relu"}[r.IntN(2)])
		if r.IntN(2) == 0 {
			b.BatchNorm(fmt.Sprintf("dense%d_bn", i), true, true)
		}
	}
	switch r.IntN(3) {
	case 0:
		b.Activation("softmax", "softmax")
	case 1:
		quantize("out_q")
	}
	return b.Done()
}
