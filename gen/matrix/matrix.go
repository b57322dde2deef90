// Package matrix is the single source of truth for which C kernels dqnn
// generates: an explicit table of (op, input type, weight type, output type)
// rows, each saying which row of the X-CUBE-AI DQNN reference's tables
// 6.3–6.5 it covers (or "beyond reference"). The kernel generator, the Go
// reference, the test vectors, the documentation and the model emitter all
// read this table, and Name is the one function that names a kernel.
package matrix

import (
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/ir/dtype"
)

// Op is a kernel family.
type Op string

// The kernel families.
const (
	Dense    Op = "dense"    // fully connected
	Conv2D   Op = "conv2d"   // general k_h x k_w convolution, optional fused max-pool
	PWConv2D Op = "pwconv2d" // pointwise (1x1) convolution, optional fused max-pool
	DWConv2D Op = "dwconv2d" // depthwise convolution with depth_multiplier, optional fused max-pool
	MaxPool  Op = "maxpool"
	AvgPool  Op = "avgpool"
	Concat   Op = "concat"  // along channels
	Convert  Op = "convert" // between element types
	Affine   Op = "affine"  // per-channel output stage (batch-norm) on an activation
	Softmax  Op = "softmax" // along the last axis
	Relu     Op = "relu"
	Tanh     Op = "tanh"
	Sigmoid  Op = "sigmoid"
	Add      Op = "add" // element-wise sum of two tensors
)

// Ops lists the families in table order.
var Ops = []Op{Dense, Conv2D, PWConv2D, DWConv2D, MaxPool, AvgPool, Concat, Convert, Affine, Softmax, Relu, Tanh, Sigmoid, Add}

// HasWeights reports whether kernels of the family take a weight tensor.
func (op Op) HasWeights() bool {
	switch op {
	case Dense, Conv2D, PWConv2D, DWConv2D:
		return true
	}
	return false
}

// IsConv reports whether op is one of the convolution families (conv2d,
// pwconv2d, dwconv2d), which share dq_conv_params and the fused max-pool.
func (op Op) IsConv() bool { return op == Conv2D || op == PWConv2D || op == DWConv2D }

// Kernel is one generated C kernel: a family and its element types. W is
// dtype.Invalid for families without weights.
type Kernel struct {
	Op    Op
	In, W dtype.DType
	Out   dtype.DType
}

// Name is THE kernel naming function: dq_<op>_<in>_<w>_<out> for families
// with weights ("dq_conv2d_s1_s1_s1"), dq_<op>_<in>_<out> otherwise
// ("dq_maxpool_s1_s1"). The C function and its file (Name()+".c") use it.
func (k Kernel) Name() string {
	if k.Op.HasWeights() {
		return fmt.Sprintf("dq_%s_%s_%s_%s", k.Op, k.In.Tag(), k.W.Tag(), k.Out.Tag())
	}
	return fmt.Sprintf("dq_%s_%s_%s", k.Op, k.In.Tag(), k.Out.Tag())
}

// AccInt reports whether the kernel accumulates in int32 (input and weights
// both s1/s8, or an s8 affine input); otherwise it accumulates in float.
func (k Kernel) AccInt() bool {
	q := func(t dtype.DType) bool { return t == dtype.S1 || t == dtype.S8 }
	if k.Op.HasWeights() {
		return q(k.In) && q(k.W)
	}
	return k.Op == Affine && k.In == dtype.S8
}

// Row is a table row: a kernel and the row of the reference tool's tables it
// covers.
type Row struct {
	Kernel
	// Covers names the row of X-CUBE-AI DQNN tables 6.3–6.5 this kernel
	// implements, or "beyond reference".
	Covers string
}

// BeyondReference is the Covers value of rows the reference tool lacks.
const BeyondReference = "beyond reference"

// MirrorsReference reports whether the row implements a row of the reference's tables.
func (r Row) MirrorsReference() bool { return r.Covers != BeyondReference }

// Rows is the kernel table, written out row by row. The order is the order
// of generation and documentation.
var Rows = []Row{
	// dense: every input x weights x output combination of {f32, s8, s1}.
	{Kernel{Dense, dtype.F32, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{Dense, dtype.F32, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{Dense, dtype.F32, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{Dense, dtype.F32, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{Dense, dtype.F32, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{Dense, dtype.F32, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{Dense, dtype.F32, dtype.S1, dtype.F32}, "6.3 dense: in f32, out f32, weights s1"},
	{Kernel{Dense, dtype.F32, dtype.S1, dtype.S8}, "beyond reference"},
	{Kernel{Dense, dtype.F32, dtype.S1, dtype.S1}, "6.3 dense: in f32, out s1, weights s1"},
	{Kernel{Dense, dtype.S8, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{Dense, dtype.S8, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{Dense, dtype.S8, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{Dense, dtype.S8, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{Dense, dtype.S8, dtype.S8, dtype.S8}, "6.3 dense: in s8, out s8, weights s8"},
	{Kernel{Dense, dtype.S8, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{Dense, dtype.S8, dtype.S1, dtype.F32}, "6.3 dense: in s8, out f32, weights s1"},
	{Kernel{Dense, dtype.S8, dtype.S1, dtype.S8}, "6.3 dense: in s8, out s8, weights s1"},
	{Kernel{Dense, dtype.S8, dtype.S1, dtype.S1}, "6.3 dense: in s8, out s1, weights s1"},
	{Kernel{Dense, dtype.S1, dtype.F32, dtype.F32}, "6.3 dense: in s1, out f32, weights f32"},
	{Kernel{Dense, dtype.S1, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{Dense, dtype.S1, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{Dense, dtype.S1, dtype.S8, dtype.F32}, "6.3 dense: in s1, out f32, weights s8"},
	{Kernel{Dense, dtype.S1, dtype.S8, dtype.S8}, "6.3 dense: in s1, out s8, weights s8"},
	{Kernel{Dense, dtype.S1, dtype.S8, dtype.S1}, "6.3 dense: in s1, out s1, weights s8"},
	{Kernel{Dense, dtype.S1, dtype.S1, dtype.F32}, "6.3 dense: in s1, out f32, weights s1"},
	{Kernel{Dense, dtype.S1, dtype.S1, dtype.S8}, "6.3 dense: in s1, out s8, weights s1"},
	{Kernel{Dense, dtype.S1, dtype.S1, dtype.S1}, "6.3 dense: in s1, out s1, weights s1"},
	// conv2d: every input x weights x output combination of {f32, s8, s1}.
	{Kernel{Conv2D, dtype.F32, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{Conv2D, dtype.F32, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{Conv2D, dtype.F32, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{Conv2D, dtype.F32, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{Conv2D, dtype.F32, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{Conv2D, dtype.F32, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{Conv2D, dtype.F32, dtype.S1, dtype.F32}, "beyond reference"},
	{Kernel{Conv2D, dtype.F32, dtype.S1, dtype.S8}, "beyond reference"},
	{Kernel{Conv2D, dtype.F32, dtype.S1, dtype.S1}, "beyond reference"},
	{Kernel{Conv2D, dtype.S8, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{Conv2D, dtype.S8, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{Conv2D, dtype.S8, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{Conv2D, dtype.S8, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{Conv2D, dtype.S8, dtype.S8, dtype.S8}, "6.4 conv: in s8, out s8, weights s8"},
	{Kernel{Conv2D, dtype.S8, dtype.S8, dtype.S1}, "6.4 conv: in s8, out s1, weights s8"},
	{Kernel{Conv2D, dtype.S8, dtype.S1, dtype.F32}, "beyond reference"},
	{Kernel{Conv2D, dtype.S8, dtype.S1, dtype.S8}, "beyond reference"},
	{Kernel{Conv2D, dtype.S8, dtype.S1, dtype.S1}, "beyond reference"},
	{Kernel{Conv2D, dtype.S1, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{Conv2D, dtype.S1, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{Conv2D, dtype.S1, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{Conv2D, dtype.S1, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{Conv2D, dtype.S1, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{Conv2D, dtype.S1, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{Conv2D, dtype.S1, dtype.S1, dtype.F32}, "6.4 conv: in s1, out f32, weights s1"},
	{Kernel{Conv2D, dtype.S1, dtype.S1, dtype.S8}, "6.4 conv: in s1, out s8, weights s1"},
	{Kernel{Conv2D, dtype.S1, dtype.S1, dtype.S1}, "6.4 conv: in s1, out s1, weights s1"},
	// pwconv2d: every input x weights x output combination of {f32, s8, s1}.
	{Kernel{PWConv2D, dtype.F32, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{PWConv2D, dtype.F32, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{PWConv2D, dtype.F32, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{PWConv2D, dtype.F32, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{PWConv2D, dtype.F32, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{PWConv2D, dtype.F32, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{PWConv2D, dtype.F32, dtype.S1, dtype.F32}, "beyond reference"},
	{Kernel{PWConv2D, dtype.F32, dtype.S1, dtype.S8}, "beyond reference"},
	{Kernel{PWConv2D, dtype.F32, dtype.S1, dtype.S1}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S8, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S8, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S8, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S8, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S8, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S8, dtype.S8, dtype.S1}, "6.4 conv: in s8, out s1, weights s8"},
	{Kernel{PWConv2D, dtype.S8, dtype.S1, dtype.F32}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S8, dtype.S1, dtype.S8}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S8, dtype.S1, dtype.S1}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S1, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S1, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S1, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S1, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S1, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S1, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{PWConv2D, dtype.S1, dtype.S1, dtype.F32}, "6.4 conv: in s1, out f32, weights s1"},
	{Kernel{PWConv2D, dtype.S1, dtype.S1, dtype.S8}, "6.4 conv: in s1, out s8, weights s1"},
	{Kernel{PWConv2D, dtype.S1, dtype.S1, dtype.S1}, "6.4 conv: in s1, out s1, weights s1"},
	// dwconv2d: every input x weights x output combination of {f32, s8, s1}.
	{Kernel{DWConv2D, dtype.F32, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.F32, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.F32, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{DWConv2D, dtype.F32, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.F32, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.F32, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{DWConv2D, dtype.F32, dtype.S1, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.F32, dtype.S1, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.F32, dtype.S1, dtype.S1}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.S1, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.S1, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S8, dtype.S1, dtype.S1}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.F32, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.F32, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.F32, dtype.S1}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.S8, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.S8, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.S8, dtype.S1}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.S1, dtype.F32}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.S1, dtype.S8}, "beyond reference"},
	{Kernel{DWConv2D, dtype.S1, dtype.S1, dtype.S1}, "6.4 conv: in s1, out s1, weights s1 (depthwise version)"},
	// pooling (6.5: maxpool s1 optimized, s8/f32 by the standard kernels).
	{Kernel{MaxPool, dtype.F32, dtype.Invalid, dtype.F32}, "6.5 maxpool: f32 (standard kernel)"},
	{Kernel{MaxPool, dtype.S8, dtype.Invalid, dtype.S8}, "6.5 maxpool: s8 (standard kernel)"},
	{Kernel{MaxPool, dtype.S1, dtype.Invalid, dtype.S1}, "6.5 maxpool: s1"},
	{Kernel{AvgPool, dtype.F32, dtype.Invalid, dtype.F32}, BeyondReference},
	// concatenation along channels (6.5: concat s1 optimized, s8/f32 standard).
	{Kernel{Concat, dtype.F32, dtype.Invalid, dtype.F32}, "6.5 concat: f32 (standard kernel)"},
	{Kernel{Concat, dtype.S8, dtype.Invalid, dtype.S8}, "6.5 concat: s8 (standard kernel)"},
	{Kernel{Concat, dtype.S1, dtype.Invalid, dtype.S1}, "6.5 concat: s1"},
	// conversions (the reference's pre-/post-quantizer and dequantize ops).
	{Kernel{Convert, dtype.F32, dtype.Invalid, dtype.S8}, "3: quantize (f32 fallback pre-quantizer)"},
	{Kernel{Convert, dtype.S8, dtype.Invalid, dtype.F32}, "3: dequantize (f32 fallback post-quantizer)"},
	{Kernel{Convert, dtype.F32, dtype.Invalid, dtype.S1}, "3: binarize (f32 fallback pre-quantizer)"},
	{Kernel{Convert, dtype.S1, dtype.Invalid, dtype.F32}, "3: unpack (f32 fallback post-quantizer)"},
	{Kernel{Convert, dtype.S8, dtype.Invalid, dtype.S1}, BeyondReference},
	{Kernel{Convert, dtype.S1, dtype.Invalid, dtype.S8}, BeyondReference},
	// batch-norm as a per-channel op on an activation (not fused into a conv/dense).
	{Kernel{Affine, dtype.F32, dtype.Invalid, dtype.F32}, BeyondReference},
	{Kernel{Affine, dtype.F32, dtype.Invalid, dtype.S8}, BeyondReference},
	{Kernel{Affine, dtype.F32, dtype.Invalid, dtype.S1}, BeyondReference},
	{Kernel{Affine, dtype.S8, dtype.Invalid, dtype.F32}, BeyondReference},
	{Kernel{Affine, dtype.S8, dtype.Invalid, dtype.S8}, BeyondReference},
	{Kernel{Affine, dtype.S8, dtype.Invalid, dtype.S1}, BeyondReference},
	// float activations and residual add (the reference's standard f32 kernels).
	{Kernel{Softmax, dtype.F32, dtype.Invalid, dtype.F32}, "standard f32 kernel (nl)"},
	{Kernel{Relu, dtype.F32, dtype.Invalid, dtype.F32}, "standard f32 kernel (nl)"},
	{Kernel{Tanh, dtype.F32, dtype.Invalid, dtype.F32}, "standard f32 kernel (nl)"},
	{Kernel{Sigmoid, dtype.F32, dtype.Invalid, dtype.F32}, "standard f32 kernel (nl)"},
	{Kernel{Add, dtype.F32, dtype.Invalid, dtype.F32}, "standard f32 kernel (eltwise)"},
}

// Table lists every kernel, in Rows order.
var Table = kernelsOf(Rows)

func kernelsOf(rows []Row) []Kernel {
	ks := make([]Kernel, len(rows))
	for i, r := range rows {
		ks[i] = r.Kernel
	}
	return ks
}

// Find returns the table's kernel for op and the given types; w is ignored
// (pass dtype.Invalid) for families without weights.
func Find(op Op, in, w, out dtype.DType) (Kernel, bool) {
	if !op.HasWeights() {
		w = dtype.Invalid
	}
	for _, k := range Table {
		if k.Op == op && k.In == in && k.W == w && k.Out == out {
			return k, true
		}
	}
	return Kernel{}, false
}

// RowOf returns the table row of k.
func RowOf(k Kernel) (Row, bool) {
	for _, r := range Rows {
		if r.Kernel == k {
			return r, true
		}
	}
	return Row{}, false
}

// Validate checks one row: known family, compute types, weights exactly for
// the families that have them, and the type rules of each family.
func (k Kernel) Validate() error {
	known := false
	for _, op := range Ops {
		known = known || op == k.Op
	}
	if !known {
		return fmt.Errorf("kernel %s: unknown op %q", k.Name(), k.Op)
	}
	compute := func(t dtype.DType) bool { return t == dtype.F32 || t == dtype.S8 || t == dtype.S1 }
	if !compute(k.In) || !compute(k.Out) {
		return fmt.Errorf("kernel %s: input and output must be f32, s8 or s1", k.Name())
	}
	if k.Op.HasWeights() != (k.W != dtype.Invalid) {
		if k.Op.HasWeights() {
			return fmt.Errorf("kernel %s: op %s needs a weight type", k.Name(), k.Op)
		}
		return fmt.Errorf("kernel %s: op %s takes no weights (W must be dtype.Invalid)", k.Name(), k.Op)
	}
	if k.Op.HasWeights() && !compute(k.W) {
		return fmt.Errorf("kernel %s: weights must be f32, s8 or s1", k.Name())
	}
	switch k.Op {
	case MaxPool, Concat:
		if k.In != k.Out {
			return fmt.Errorf("kernel %s: %s keeps the element type (in %s != out %s)", k.Name(), k.Op, k.In, k.Out)
		}
	case AvgPool, Softmax, Relu, Tanh, Sigmoid, Add:
		if k.In != dtype.F32 || k.Out != dtype.F32 {
			return fmt.Errorf("kernel %s: %s is f32 only", k.Name(), k.Op)
		}
	case Convert:
		if k.In == k.Out {
			return fmt.Errorf("kernel %s: a conversion needs two different types", k.Name())
		}
	case Affine:
		if k.In == dtype.S1 {
			return fmt.Errorf("kernel %s: affine of an s1 input is a constant per channel; fold it instead", k.Name())
		}
	}
	return nil
}

// Validate checks every row of rows and that no kernel appears twice.
func Validate(rows []Row) error {
	seen := map[string]bool{}
	var errs []string
	for _, r := range rows {
		if err := r.Kernel.Validate(); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if strings.TrimSpace(r.Covers) == "" {
			errs = append(errs, fmt.Sprintf("kernel %s: Covers is empty (name the reference row or %q)", r.Name(), BeyondReference))
		}
		if seen[r.Name()] {
			errs = append(errs, fmt.Sprintf("kernel %s: listed twice", r.Name()))
		}
		seen[r.Name()] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("kernel table: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ByName returns the table's kernel called name.
func ByName(name string) (Kernel, bool) {
	for _, k := range Table {
		if k.Name() == name {
			return k, true
		}
	}
	return Kernel{}, false
}
