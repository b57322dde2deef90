package passestest

import (
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Case is a named graph for golden and end-to-end tests.
type Case struct {
	Name             string
	Build            func() *ir.Graph
	QuantizedIO      bool
	ReferenceKernels bool // restrict kernels to the reference tool's tables
}

// Cases are the patterns of the reference's §8 and the compiler's own
// fusions (flip and constant channels included).
func Cases() []Case {
	return []Case{
		{Name: "mnist_bnn", Build: func() *ir.Graph { return MNIST(1) }},
		{Name: "mnist_bnn_quantized_io", Build: func() *ir.Graph { return MNIST(1) }, QuantizedIO: true},
		{Name: "mnist_bnn_reference_kernels", Build: func() *ir.Graph { return MNIST(1) }, ReferenceKernels: true},
		{Name: "qkeras_dense_s8", Build: func() *ir.Graph { // §8.2 second example
			b := New("qdense", 2, 8, 8, 1)
			b.Flatten("flatten")
			b.Quantize("q_activation", BitsQuant(7))
			b.Dense("dense_0", 64, dtype.S1, true, "linear")
			b.BatchNorm("batch_normalization", true, true)
			b.Quantize("q_activation_1", SignQuant())
			b.Dense("dense_1", 10, dtype.S1, true, "linear")
			b.Activation("activation", "softmax")
			return b.Done()
		}},
		{Name: "fallback_s8_conv", Build: func() *ir.Graph { // §8.5: s8 x s1 -> s8 conv, reference kernels only
			b := New("fallback", 3, 8, 8, 1)
			b.Quantize("q_activation", BitsQuant(7))
			b.Conv("dense_0", 16, 3, 2, "same", dtype.S1, true, "linear")
			b.BatchNorm("batch_normalization", true, false)
			b.Quantize("q_activation_1", BitsQuant(7))
			return b.Done()
		}, ReferenceKernels: true},
		{Name: "s8_conv_s8", Build: func() *ir.Graph { // the same with the full matrix: one s8 x s1 -> s8 kernel
			b := New("s8conv", 3, 8, 8, 1)
			b.Quantize("q_activation", BitsQuant(7))
			b.Conv("dense_0", 16, 3, 2, "same", dtype.S1, true, "linear")
			b.BatchNorm("batch_normalization", true, false)
			b.Quantize("q_activation_1", BitsQuant(7))
			return b.Done()
		}},
		{Name: "bn_pool_sign_flip", Build: func() *ir.Graph { // BN -> max-pool -> sign with negative and zero gammas
			b := New("bnpool", 4, 8, 8, 32)
			b.Quantize("conv/input_quantizer", SignQuant())
			b.Conv("conv", 32, 3, 1, "same", dtype.S1, false, "linear")
			b.BatchNorm("bn", true, true)
			b.MaxPool("pool", 2)
			b.Quantize("next/input_quantizer", SignQuant())
			return b.Done()
		}},
		{Name: "bn_pool_sign", Build: func() *ir.Graph { // BN (positive gammas) -> max-pool -> sign: pool fused after the quantizer
			b := New("bnpool2", 4, 8, 8, 32)
			b.Quantize("conv/input_quantizer", SignQuant())
			b.Conv("conv", 40, 3, 1, "same", dtype.S1, false, "linear")
			b.BatchNorm("bn", true, false)
			b.MaxPool("pool", 2)
			b.Quantize("next/input_quantizer", SignQuant())
			return b.Done()
		}},
		{Name: "conv_pool_bn_sign_flip", Build: func() *ir.Graph { // conv -> max-pool -> BN(neg gamma) -> sign: fused, flip bits
			b := New("convpool", 5, 8, 8, 32)
			b.Quantize("conv/input_quantizer", SignQuant())
			b.Conv("conv", 32, 3, 1, "valid", dtype.S1, false, "linear")
			b.MaxPool("pool", 2)
			b.BatchNorm("bn", true, true)
			b.Quantize("next/input_quantizer", SignQuant())
			return b.Done()
		}},
		{Name: "s1_flatten_31_channels", Build: func() *ir.Graph { // packed rows padded: not an alias
			b := New("flat31", 6, 4, 4, 31)
			b.Quantize("q", SignQuant())
			b.Flatten("flatten")
			b.Dense("dense", 8, dtype.S1, false, "linear")
			return b.Done()
		}},
		{Name: "relu_s8_chain", Build: func() *ir.Graph { // quantized_relu grid with zero point, relu folded, depthwise
			b := New("relus8", 7, 6, 6, 4)
			b.Quantize("q_in", ReluQuant(0))
			b.DWConv("dw", 2, 3, "same", dtype.S8)
			b.Activation("relu", "relu")
			b.Quantize("q_out", ReluQuant(2))
			return b.Done()
		}},
		{Name: "transpose_bn_sign", Build: func() *ir.Graph { // QConv2DTranspose (valid, stride 1) as a padded conv with a flipped kernel
			b := New("transpose", 8, 5, 5, 16)
			b.Quantize("t/input_quantizer", SignQuant())
			b.Transpose("t", 24, 3, dtype.S1, true)
			b.MaxPool("pool", 2)
			b.BatchNorm("bn", true, true)
			b.Quantize("next/input_quantizer", SignQuant())
			return b.Done()
		}},
		{Name: "step_quantizers", Build: func() *ir.Graph { // Larq SteHeaviside and SteTern activations: affine f32 -> s8 levels
			b := New("steps", 9, 5, 5, 3)
			b.Quantize("conv/input_quantizer", QuantOf("ste_heaviside"))
			b.Conv("conv", 8, 3, 1, "valid", dtype.S8, false, "linear")
			b.BatchNorm("bn", true, true)
			b.Flatten("flatten")
			b.Quantize("dense/input_quantizer", QuantOf("ste_tern(threshold_value=0.3)"))
			b.Dense("dense", 6, dtype.S1, true, "linear")
			return b.Done()
		}},
		{Name: "deep_f32_head", Build: func() *ir.Graph { return Deep(4, 9) }},
	}
}
