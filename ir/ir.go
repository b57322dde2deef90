// Package ir is dqnn's intermediate representation of a model: a graph of
// nodes (Keras layers, later fused and lowered kernels) connected by tensors.
//
// The importer (package keras) builds a Graph with Keras's inference
// semantics; passes rewrite it; the emitter reads the planned result. Shapes
// leave out the batch dimension and are channels last.
package ir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/ir/dtype"
)

// Graph is a model: its tensors and nodes in a topological order.
type Graph struct {
	Name    string    // model name (Keras model name, or file stem)
	Source  string    // where it came from: file path(s) as given by the user
	Files   []File    // every file the importer read, in reading order (provenance)
	Inputs  []*Tensor // model inputs, in Keras order
	Outputs []*Tensor // model outputs, in Keras order
	Nodes   []*Node   // topologically sorted: every input of a node is produced earlier
	// Notes are importer remarks for the user (accepted but slower
	// constructs, architecture-only imports, ...); they never change semantics.
	Notes []string
	// ShapesOnly marks an architecture imported without weights
	// (keras.LoadArchitecture): every Weights, bias and batch-norm vector
	// has a shape but no values (Data == nil), so the graph can be
	// analyzed (sizes, types, kernels) but not run or emitted.
	ShapesOnly bool
}

// File is a file an importer read: its path as given and the sha256 of
// the bytes it read (what the model is, whatever the file holds later).
type File struct {
	Path   string
	SHA256 string // hex
}

// Tensor is an activation tensor flowing between nodes.
type Tensor struct {
	Name  string
	Shape []int // without the batch dimension, channels last
	Quant Quant // how its values are represented
}

// Quant describes how a tensor's (or a weight's) real values are stored.
//
//	F32: the value itself.
//	S8:  real = Scale[c] * (q - ZeroPoint), q in [QMin, QMax] (before the zero
//	     point; QMin+ZeroPoint >= -128 and QMax+ZeroPoint <= 127).
//	S1:  real = Scale[c] * (+1 or -1).
//
// Scale has one entry (per tensor) or one per channel (last axis).
type Quant struct {
	DType      dtype.DType
	Scale      []float32
	ZeroPoint  int32
	QMin, QMax int32
	Bits       int        // bits of the quantizer that produced it (1 for sign, <= 8 for s8)
	Quantizer  *Quantizer // the quantizer applied to produce these values, nil if none
	// ScalesPow2 is set, in a shapes-only graph, on a kernel whose scales
	// the quantizer computes from the (absent) weight values (Scale is
	// then nil) when they are powers of two whatever the values (auto_po2).
	ScalesPow2 bool
}

// Float is the Quant of an unquantized tensor.
func Float() Quant { return Quant{DType: dtype.F32} }

// Quantizer is a quantizer as the model file writes it, with what it
// computes. The compiler reads Form only; Class and Text are the file's
// spelling, for messages, reports and dumps; Keras is the importer's own
// record of it, which only the reference interpreter evaluates.
type Quantizer struct {
	Form QuantForm // what it computes
	// Class is the canonical name in the file's format ("ste_sign",
	// "quantized_bits", "dorefa", ...), for messages.
	Class string
	Text  string // as written in the file, for messages and reports
	Keras KerasQuantizer
}

// KerasQuantizer is a quantizer with its Keras arguments (package quant's
// record, defaults filled in). Apply computes it with Keras's own formulas:
// the reference interpreter's oracle, which must share nothing with the
// compiler's lowering of the Form.
type KerasQuantizer interface {
	// Apply returns q(x) for a tensor x of the given shape (channels last,
	// no batch dimension), in float32 as Keras's model.predict does.
	Apply(x []float32, shape []int) ([]float32, error)
}

// Node is one operation.
type Node struct {
	Name    string // unique; the Keras layer name, plus a suffix for nodes a pass derived
	Class   string // Keras class it came from ("QConv2D", "QuantDense", ...), "" if synthetic
	Op      Op
	Inputs  []*Tensor
	Outputs []*Tensor
	Attrs   any // one of the *XxxAttrs types below, matching Op
}

// Op is the kind of a node.
type Op string

// Ops produced by the importer.
const (
	OpDense           Op = "dense"            // *DenseAttrs
	OpConv2D          Op = "conv2d"           // *ConvAttrs
	OpDepthwiseConv   Op = "depthwise_conv2d" // *ConvAttrs
	OpConv2DTranspose Op = "conv2d_transpose" // *ConvAttrs
	OpBatchNorm       Op = "batch_norm"       // *BatchNormAttrs
	OpMaxPool         Op = "max_pool"         // *PoolAttrs
	OpAvgPool         Op = "avg_pool"         // *PoolAttrs
	OpQuantize        Op = "quantize"         // *QuantizeAttrs: QActivation, input_quantizer
	OpActivation      Op = "activation"       // *ActivationAttrs: relu, softmax, tanh, sigmoid, linear
	OpReshape         Op = "reshape"          // nil: Flatten, Reshape (row-major, free)
	OpConcat          Op = "concat"           // *ConcatAttrs
	OpAdd             Op = "add"              // nil
	// OpUnsupported stands, in a shapes-only graph only, for a layer dqnn
	// cannot compile, so that a pre-analyze can still report the rest.
	OpUnsupported Op = "unsupported" // *UnsupportedAttrs
)

// Weights is a constant tensor: row-major float32 values in Keras's layout.
type Weights struct {
	Shape []int
	Data  []float32
}

// DenseAttrs: out = activation(input_quantizer(x) · kernel_quantizer(W) + b).
type DenseAttrs struct {
	Units          int
	InputQuantizer *Quantizer // Larq input_quantizer; nil if none
	Kernel         Weights    // (in, units): quantized values as Keras uses them at inference
	KernelQuant    Quant      // how Kernel's values are stored (F32, S8 codes, S1 signs)
	Bias           *Weights   // (units) or nil; already passed through a QKeras bias_quantizer
	Activation     string     // "linear", "relu", ...; a quantizer activation becomes its own OpQuantize node
}

// ConvAttrs covers Conv2D, DepthwiseConv2D and Conv2DTranspose.
type ConvAttrs struct {
	Filters              int // output channels (Conv2D, Conv2DTranspose)
	DepthMultiplier      int // DepthwiseConv2D
	KernelH, KernelW     int
	StrideH, StrideW     int
	DilationH, DilationW int
	Padding              string  // "valid", "same", or "explicit" (PadTop... below)
	PadValue             float32 // Larq pad_values: 0 = zero padding (native SAME)
	// PadTop, PadBottom, PadLeft, PadRight are the padded rows/columns of
	// Padding "explicit": a ZeroPadding2D merged into the convolution (its
	// taps are PadValue, the input quantizer's value of 0 for Larq layers).
	PadTop, PadBottom, PadLeft, PadRight int
	InputQuantizer                       *Quantizer
	Kernel                               Weights // Conv2D (kh,kw,in,out); Depthwise (kh,kw,in,mult); Transpose (kh,kw,out,in)
	KernelQuant                          Quant
	Bias                                 *Weights
	Activation                           string
}

// BatchNormAttrs: inference-time batch normalization over the last axis.
// Fused reports which TF formula Keras uses (rank-4 input: fused_batch_norm,
// y = (x-μ)·(rsqrt(σ²+ε)·γ) + β; rank 2: y = x·inv + (β - μ·inv), inv = rsqrt(σ²+ε)·γ).
type BatchNormAttrs struct {
	Gamma, Beta, Mean, Variance []float32 // Gamma all 1 when scale=False, Beta 0 when center=False
	Epsilon                     float32
	Fused                       bool
	// NoGamma / NoBeta: the layer has scale=False / center=False, so
	// Gamma / Beta are the implicit 1 / 0, not saved weights (parameter
	// counts leave them out, as Keras's count_params does).
	NoGamma, NoBeta bool
}

// PoolAttrs: MaxPooling2D / AveragePooling2D.
type PoolAttrs struct {
	PoolH, PoolW     int
	StrideH, StrideW int
	Padding          string // "valid" or "same"
	// AvgFactor, when not 0, is a QKeras average_quantizer(1/area): an
	// average pool then computes avg_pool(x·PoolH·PoolW)·AvgFactor
	// (QAveragePooling2D) or, with Sum, Σx·AvgFactor over the window
	// (QGlobalAveragePooling2D), instead of the mean.
	AvgFactor float32
	Sum       bool
}

// QuantizeAttrs applies an activation quantizer element-wise.
type QuantizeAttrs struct {
	Quantizer *Quantizer
}

// ActivationAttrs applies a Keras activation function.
type ActivationAttrs struct {
	Function string // "relu", "softmax", "tanh", "sigmoid", "linear"
}

// UnsupportedAttrs says why a layer of a shapes-only graph is not
// supported (the importer's or the compiler's error).
type UnsupportedAttrs struct {
	Reason string
}

// ConcatAttrs: concatenation along an axis (only the last axis is supported).
type ConcatAttrs struct {
	Axis int
}

// NumElements returns the product of a shape.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Verify checks the structural invariants every pass must keep: unique node
// and tensor names, every input produced before use (or a graph input), each
// tensor produced once, outputs produced, and valid data types.
func (g *Graph) Verify() error {
	produced := map[*Tensor]string{}
	names := map[string]bool{}
	for _, t := range g.Inputs {
		produced[t] = "graph input"
	}
	for _, n := range g.Nodes {
		if names[n.Name] {
			return fmt.Errorf("ir: node name %q is used twice", n.Name)
		}
		names[n.Name] = true
		for _, in := range n.Inputs {
			if _, ok := produced[in]; !ok {
				return fmt.Errorf("ir: node %q reads tensor %q before it is produced", n.Name, in.Name)
			}
		}
		for _, out := range n.Outputs {
			if by, ok := produced[out]; ok {
				return fmt.Errorf("ir: tensor %q is produced by both %s and node %q", out.Name, by, n.Name)
			}
			produced[out] = "node " + n.Name
			if !out.Quant.DType.Valid() {
				return fmt.Errorf("ir: tensor %q (node %q) has no data type", out.Name, n.Name)
			}
		}
	}
	for _, t := range g.Outputs {
		if _, ok := produced[t]; !ok {
			return fmt.Errorf("ir: graph output %q is never produced", t.Name)
		}
	}
	return nil
}

// SourceName is how reports name the model: the base names of the files it
// came from (no directories), or the graph's name when it has none.
func (g *Graph) SourceName() string {
	if len(g.Files) > 0 {
		out := make([]string, len(g.Files))
		for i, f := range g.Files {
			out[i] = filepath.Base(f.Path)
		}
		return strings.Join(out, ", ")
	}
	if g.Source == "" {
		return g.Name
	}
	var out []string
	for _, p := range strings.Split(g.Source, ",") {
		out = append(out, filepath.Base(strings.TrimSpace(p)))
	}
	return strings.Join(out, ", ")
}

// SHA256 identifies the model by the files its importer read: the hex
// sha256 of their hashes (each as read), in reading order; "" when the graph
// was not read from files. A board's firmware and the host compute it the
// same way, so the host can tell a board running another model.
func (g *Graph) SHA256() string {
	if len(g.Files) == 0 {
		return ""
	}
	h := sha256.New()
	for _, f := range g.Files {
		io.WriteString(h, f.SHA256+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}
