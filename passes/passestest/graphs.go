// Package passestest builds IR graphs in Go, the way the importer would
// produce them from Keras files, for the compiler's tests and benchmarks:
// the Larq MNIST tutorial model with seeded weights, small patterns
// (QKeras dense/conv, fallbacks) and random chains.
package passestest

import (
	"fmt"
	"math/rand/v2"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/quant"
)

// Builder appends layers to a graph, tracking the current tensor.
type Builder struct {
	G   *ir.Graph
	Cur *ir.Tensor
	R   *rand.Rand
}

// New starts a graph with one f32 input of the given shape.
func New(name string, seed uint64, shape ...int) *Builder {
	in := &ir.Tensor{Name: "input_1", Shape: shape, Quant: ir.Float()}
	return &Builder{G: &ir.Graph{Name: name, Source: name + ".h5", Inputs: []*ir.Tensor{in}}, Cur: in, R: rand.New(rand.NewPCG(seed, 0x5eed))}
}

func (b *Builder) add(name, class string, op ir.Op, attrs any, shape []int, q ir.Quant, inputs ...*ir.Tensor) *ir.Tensor {
	if len(inputs) == 0 {
		inputs = []*ir.Tensor{b.Cur}
	}
	t := &ir.Tensor{Name: name, Shape: shape, Quant: q}
	b.G.Nodes = append(b.G.Nodes, &ir.Node{Name: name, Class: class, Op: op, Inputs: inputs, Outputs: []*ir.Tensor{t}, Attrs: attrs})
	b.Cur = t
	return t
}

// Done marks the current tensor as the model output.
func (b *Builder) Done() *ir.Graph {
	b.G.Outputs = []*ir.Tensor{b.Cur}
	return b.G
}

// QuantOf parses a quantizer as the importer does and returns the Quant of
// its output.
func QuantOf(text string) ir.Quant {
	q, err := quant.ParseString(text)
	if err != nil {
		panic(fmt.Sprintf("passestest: %s: %v", text, err)) // a typo in a test table
	}
	return quant.OutputQuant(q)
}

// SignQuant is the Quant of a Larq ste_sign output.
func SignQuant() ir.Quant { return QuantOf("ste_sign") }

// BitsQuant is QKeras quantized_bits(8, integer, alpha=1): scale
// 2^(integer-7), q in [-128, 127].
func BitsQuant(integer int) ir.Quant {
	return QuantOf(fmt.Sprintf("quantized_bits(8,%d,alpha=1)", integer))
}

// ReluQuant is QKeras quantized_relu(8, integer): q in [0, 255] stored with
// zero point -128.
func ReluQuant(integer int) ir.Quant {
	return QuantOf(fmt.Sprintf("quantized_relu(8,%d)", integer))
}

// Quantize appends a quantizer node.
func (b *Builder) Quantize(name string, q ir.Quant) *ir.Tensor {
	return b.add(name, "QActivation", ir.OpQuantize, &ir.QuantizeAttrs{Quantizer: q.Quantizer}, append([]int(nil), b.Cur.Shape...), q)
}

func (b *Builder) signs(n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		if b.R.IntN(2) == 0 {
			w[i] = 1
		} else {
			w[i] = -1
		}
	}
	return w
}

func (b *Builder) codes(n int, scale float32) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(b.R.IntN(255)-127) * scale
	}
	return w
}

func (b *Builder) floats(n int, lo, hi float32) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = lo + (hi-lo)*b.R.Float32()
	}
	return w
}

func (b *Builder) kernel(wt dtype.DType, n, outC int) ([]float32, ir.Quant) {
	switch wt {
	case dtype.S1:
		return b.signs(n), ir.Quant{DType: dtype.S1, Scale: []float32{1}, Bits: 1}
	case dtype.S8:
		return b.codes(n, 1.0/128), ir.Quant{DType: dtype.S8, Scale: []float32{1.0 / 128}, QMin: -127, QMax: 127, Bits: 8}
	}
	return b.floats(n, -0.5, 0.5), ir.Float()
}

// Conv appends a Conv2D (Keras (kh, kw, in, out) kernel) with weights of type wt.
func (b *Builder) Conv(name string, filters, k, stride int, padding string, wt dtype.DType, bias bool, act string) *ir.Tensor {
	in := b.Cur.Shape
	oh, ow := outSize(in[0], k, stride, padding), outSize(in[1], k, stride, padding)
	data, kq := b.kernel(wt, k*k*in[2]*filters, filters)
	a := &ir.ConvAttrs{Filters: filters, KernelH: k, KernelW: k, StrideH: stride, StrideW: stride, DilationH: 1, DilationW: 1,
		Padding: padding, Kernel: ir.Weights{Shape: []int{k, k, in[2], filters}, Data: data}, KernelQuant: kq, Activation: act}
	if bias {
		a.Bias = &ir.Weights{Shape: []int{filters}, Data: b.floats(filters, -2, 2)}
	}
	return b.add(name, "QConv2D", ir.OpConv2D, a, []int{oh, ow, filters}, ir.Float())
}

// DWConv appends a DepthwiseConv2D.
func (b *Builder) DWConv(name string, mult, k int, padding string, wt dtype.DType) *ir.Tensor {
	in := b.Cur.Shape
	oh, ow := outSize(in[0], k, 1, padding), outSize(in[1], k, 1, padding)
	data, kq := b.kernel(wt, k*k*in[2]*mult, in[2]*mult)
	a := &ir.ConvAttrs{DepthMultiplier: mult, KernelH: k, KernelW: k, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1,
		Padding: padding, Kernel: ir.Weights{Shape: []int{k, k, in[2], mult}, Data: data}, KernelQuant: kq, Activation: "linear"}
	return b.add(name, "QDepthwiseConv2D", ir.OpDepthwiseConv, a, []int{oh, ow, in[2] * mult}, ir.Float())
}

// Transpose appends a Conv2DTranspose (strides 1, valid; Keras kernel
// (kh, kw, out, in)).
func (b *Builder) Transpose(name string, filters, k int, wt dtype.DType, bias bool) *ir.Tensor {
	in := b.Cur.Shape
	data, kq := b.kernel(wt, k*k*in[2]*filters, filters)
	a := &ir.ConvAttrs{Filters: filters, KernelH: k, KernelW: k, StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1,
		Padding: "valid", Kernel: ir.Weights{Shape: []int{k, k, filters, in[2]}, Data: data}, KernelQuant: kq, Activation: "linear"}
	if bias {
		a.Bias = &ir.Weights{Shape: []int{filters}, Data: b.floats(filters, -2, 2)}
	}
	return b.add(name, "QConv2DTranspose", ir.OpConv2DTranspose, a, []int{in[0] + k - 1, in[1] + k - 1, filters}, ir.Float())
}

func outSize(in, k, s int, padding string) int {
	if padding == "same" {
		return (in + s - 1) / s
	}
	return (in-k)/s + 1
}

// Dense appends a Dense layer.
func (b *Builder) Dense(name string, units int, wt dtype.DType, bias bool, act string) *ir.Tensor {
	in := b.Cur.Shape[0]
	data, kq := b.kernel(wt, in*units, units)
	a := &ir.DenseAttrs{Units: units, Kernel: ir.Weights{Shape: []int{in, units}, Data: data}, KernelQuant: kq, Activation: act}
	if bias {
		a.Bias = &ir.Weights{Shape: []int{units}, Data: b.floats(units, -2, 2)}
	}
	return b.add(name, "QDense", ir.OpDense, a, []int{units}, ir.Float())
}

// BatchNorm appends a BatchNormalization with random statistics; negGamma
// makes every third gamma negative and one gamma zero (when there are at
// least 4 channels) to exercise the flip and constant cases.
func (b *Builder) BatchNorm(name string, scale, negGamma bool) *ir.Tensor {
	c := b.Cur.Shape[len(b.Cur.Shape)-1]
	a := &ir.BatchNormAttrs{Gamma: make([]float32, c), Beta: b.floats(c, -3, 3), Mean: b.floats(c, -20, 20), Variance: b.floats(c, 1, 60), Epsilon: 1e-3, Fused: len(b.Cur.Shape) == 3}
	for i := range a.Gamma {
		a.Gamma[i] = 1
		if scale {
			a.Gamma[i] = 0.2 + b.R.Float32()
			if negGamma && i%3 == 1 {
				a.Gamma[i] = -a.Gamma[i]
			}
		}
	}
	if negGamma && c >= 4 {
		a.Gamma[3] = 0
	}
	return b.add(name, "BatchNormalization", ir.OpBatchNorm, a, append([]int(nil), b.Cur.Shape...), ir.Float())
}

// MaxPool appends a MaxPooling2D (valid).
func (b *Builder) MaxPool(name string, k int) *ir.Tensor {
	in := b.Cur.Shape
	return b.add(name, "MaxPooling2D", ir.OpMaxPool, &ir.PoolAttrs{PoolH: k, PoolW: k, StrideH: k, StrideW: k, Padding: "valid"},
		[]int{in[0] / k, in[1] / k, in[2]}, b.Cur.Quant)
}

// Flatten appends a Flatten.
func (b *Builder) Flatten(name string) *ir.Tensor {
	return b.add(name, "Flatten", ir.OpReshape, nil, []int{ir.NumElements(b.Cur.Shape)}, b.Cur.Quant)
}

// Activation appends a Keras Activation layer.
func (b *Builder) Activation(name, fn string) *ir.Tensor {
	return b.add(name, "Activation", ir.OpActivation, &ir.ActivationAttrs{Function: fn}, append([]int(nil), b.Cur.Shape...), ir.Float())
}

// MNIST is the Larq "Introduction to BNNs" model (semantics spec §5) with
// seeded random weights and batch-norm statistics: 28x28x1 → 10.
func MNIST(seed uint64) *ir.Graph {
	b := New("mnist_bnn", seed, 28, 28, 1)
	b.Conv("quant_conv2d", 32, 3, 1, "valid", dtype.S1, false, "linear")
	b.MaxPool("max_pooling2d", 2)
	b.BatchNorm("batch_normalization", false, false)
	b.Quantize("quant_conv2d_1/input_quantizer", SignQuant())
	b.Conv("quant_conv2d_1", 64, 3, 1, "valid", dtype.S1, false, "linear")
	b.MaxPool("max_pooling2d_1", 2)
	b.BatchNorm("batch_normalization_1", false, false)
	b.Quantize("quant_conv2d_2/input_quantizer", SignQuant())
	b.Conv("quant_conv2d_2", 64, 3, 1, "valid", dtype.S1, false, "linear")
	b.BatchNorm("batch_normalization_2", false, false)
	b.Flatten("flatten")
	b.Quantize("quant_dense/input_quantizer", SignQuant())
	b.Dense("quant_dense", 64, dtype.S1, false, "linear")
	b.BatchNorm("batch_normalization_3", false, false)
	b.Quantize("quant_dense_1/input_quantizer", SignQuant())
	b.Dense("quant_dense_1", 10, dtype.S1, false, "linear")
	b.BatchNorm("batch_normalization_4", false, false)
	b.Activation("activation", "softmax")
	return b.Done()
}

// Deep builds a chain of n binary conv blocks (conv → BN → sign) on a small
// image, ending in a dense softmax head: about 3·n+6 layers.
func Deep(n int, seed uint64) *ir.Graph {
	b := New(fmt.Sprintf("deep%d", n), seed, 8, 8, 3)
	b.Conv("conv_in", 32, 3, 1, "same", dtype.F32, true, "linear")
	b.BatchNorm("bn_in", true, true)
	for i := 0; i < n; i++ {
		b.Quantize(fmt.Sprintf("conv_%d/input_quantizer", i), SignQuant())
		b.Conv(fmt.Sprintf("conv_%d", i), 32, 3, 1, "same", dtype.S1, false, "linear")
		b.BatchNorm(fmt.Sprintf("bn_%d", i), true, true)
	}
	b.Flatten("flatten")
	b.Dense("dense_out", 10, dtype.F32, true, "linear")
	b.Activation("softmax", "softmax")
	return b.Done()
}
