package ir

import "github.com/dqnn/dqnn/ir/dtype"

// Lowered nodes. The compiler's passes rewrite the importer's Keras-level
// nodes into OpKernel nodes, each one call of a C kernel from the kernel
// matrix, and OpAlias nodes, which cost nothing (Flatten, Reshape, identity
// quantizers): their output shares its input's storage.
const (
	OpKernel Op = "kernel" // *KernelAttrs
	OpAlias  Op = "alias"  // nil: output = input, same bytes
)

// KernelKind is a kernel family: the op name of the kernel matrix
// (gen/matrix.Op spells the same names; compiler tests check that the two
// lists agree), plus KindUnsupported.
type KernelKind string

// The kernel families.
const (
	KindDense    KernelKind = "dense"
	KindConv2D   KernelKind = "conv2d"
	KindPWConv2D KernelKind = "pwconv2d"
	KindDWConv2D KernelKind = "dwconv2d"
	KindMaxPool  KernelKind = "maxpool"
	KindAvgPool  KernelKind = "avgpool"
	KindConcat   KernelKind = "concat"
	KindConvert  KernelKind = "convert"
	KindAffine   KernelKind = "affine"
	KindSoftmax  KernelKind = "softmax"
	KindRelu     KernelKind = "relu"
	KindTanh     KernelKind = "tanh"
	KindSigmoid  KernelKind = "sigmoid"
	KindAdd      KernelKind = "add"

	// KindUnsupported is the kind of a layer a shapes-only graph keeps
	// although dqnn cannot compile it: it has no kernel (Name ""), writes an
	// f32 output and costs nothing in the figures, so that the pre-analyze
	// reports the rest of the model.
	KindUnsupported KernelKind = "unsupported"
)

// KernelKinds lists the kernel families of the matrix (not KindUnsupported),
// in the matrix's order.
var KernelKinds = []KernelKind{KindDense, KindConv2D, KindPWConv2D, KindDWConv2D, KindMaxPool, KindAvgPool, KindConcat,
	KindConvert, KindAffine, KindSoftmax, KindRelu, KindTanh, KindSigmoid, KindAdd}

func (k KernelKind) String() string { return string(k) }

// IsConv reports whether k is one of the convolution families, which share
// ConvGeom (and dq_conv_params).
func (k KernelKind) IsConv() bool { return k == KindConv2D || k == KindPWConv2D || k == KindDWConv2D }

// IsPool reports whether k is a standalone pooling family (PoolGeom).
func (k KernelKind) IsPool() bool { return k == KindMaxPool || k == KindAvgPool }

// KernelAttrs describes one kernel call. Kind is the kernel family; In, W
// and Out are the data types of the (first) input, the weights
// (dtype.Invalid without weights) and the output. Name is the C function,
// filled by kernel selection.
type KernelAttrs struct {
	Kind       KernelKind
	In, W, Out dtype.DType
	Name       string   // C kernel name, "" until kernels are selected
	Fused      []string // names of the source nodes folded into this call, in graph order
	Layer      string   // Keras layer the call comes from (m_id in reports)

	Dense   *DenseGeom
	Conv    *ConvGeom
	Pool    *PoolGeom
	Weights *KernelWeights
	Stage   *Stage // dense, conv*, affine: output stage in Keras terms

	// Elementwise/affine/convert: rows x C.
	Rows, C int
	// Concat: channels of each input.
	ConcatC []int
}

// DenseGeom is a dense layer's shape.
type DenseGeom struct{ InN, OutN int }

// ConvGeom is a (depthwise) convolution's geometry, with an optional fused
// max-pool (PoolH*PoolW > 1, valid pooling).
type ConvGeom struct {
	InH, InW, InC            int
	OutH, OutW, OutC         int // after the fused pool, if any
	ConvH, ConvW             int // before the fused pool
	KH, KW                   int
	StrideH, StrideW         int
	DilH, DilW               int
	PadTop, PadLeft          int
	PadValue                 float32 // Larq pad_values (0 = zero padding)
	DepthMultiplier          int     // dwconv2d only
	PoolH, PoolW             int     // 1x1 = no fused pool
	PoolStrideH, PoolStrideW int
}

// PoolGeom is a standalone pooling call.
type PoolGeom struct {
	InH, InW, C      int
	OutH, OutW       int
	PoolH, PoolW     int
	StrideH, StrideW int
	PadTop, PadLeft  int
}

// KernelWeights are a kernel's weights in the kernel's layout (dense
// [out][in], conv OHWI, depthwise [kh][kw][c*mult]) as real values as Keras
// uses them; DType says how they are stored (S1: sign bits, S8: Codes with
// per-channel Scale, F32: Data). Scale has one entry per output channel.
type KernelWeights struct {
	DType dtype.DType
	Shape []int     // kernel layout
	Data  []float32 // real values, kernel layout
	Codes []int32   // S1: ±1, S8: integer codes; nil for F32
	Scale []float32 // per output channel: real = Scale[c] * code (all 1 for F32)
	// In a shapes-only graph Data and Codes are nil, and Scale is nil when
	// the quantizer derives the scales from the weight values (ScalesPow2:
	// they are powers of two whatever the values).
	ScalesPow2 bool
}

// Stage is the output stage of a compute kernel stated in Keras terms: what
// Keras computes after the accumulation, before the kernel-level constants
// (multipliers, thresholds) are derived from it for the selected input type.
//
//	y = fl32(r + Bias[c])          r = the real accumulator (Σ x·w)
//	y = relu(y)                    if Relu
//	y = BN(y)                      if BN != nil (Keras's fused or rank-2 formula)
//	output = OutQuant applied to y (s1: sign; s8: the quantizer's grid; f32: y)
type Stage struct {
	Bias []float32
	// UnknownBias is set instead of Bias in a shapes-only graph: the layer
	// has a bias whose values were not given.
	UnknownBias bool
	Relu        bool
	BN          *BatchNormAttrs
	BNName      string // layer name of the folded batch-norm

	// Step marks an affine call whose constants lowering fixed: a
	// step-function activation quantizer (Larq SteHeaviside, SteTern, QKeras
	// ternary) computed exactly by saturating rounding,
	// q = clamp(round_he(fl32(fl32(x·Mul[c])·OutInvScale)), QMin, QMax), with
	// the steps on the quantizer's thresholds; or one s8 → f32 part
	// fl32(q·Mul[c]) of DoReFa's exact division (see passes.lowerDoReFa).
	Step bool

	// Kernel-level constants, derived after kernel selection (see dq_output_stage).
	Mul, Add            []float32
	BnSub, BnMul, BnAdd []float32
	OutInvScale         float32
	QMin, QMax, OutZP   int32
	ThrI                []int32
	ThrF                []float32
	Flip                []bool // nil when no channel is flipped
}

// IsLowered reports whether every node of g is a kernel call or an alias.
func (g *Graph) IsLowered() bool {
	for _, n := range g.Nodes {
		if n.Op != OpKernel && n.Op != OpAlias {
			return false
		}
	}
	return true
}

// CLayer names the C-layer (kernel call) that writes a tensor, as every
// report numbers and names its rows: CID counts the kernel calls of the
// lowered graph in order (aliases are not calls), Name is the Keras layer
// the call comes from.
type CLayer struct {
	CID  int
	Name string
}

// CLayers maps each tensor written by a node of the lowered graph g to its
// C-layer. An alias's output (a view, no call) maps to the C-layer of the
// tensor it views, or to CID -1 when that is a model input.
func CLayers(g *Graph) map[string]CLayer {
	m := map[string]CLayer{}
	cid := 0
	for _, n := range g.Nodes {
		var l CLayer
		switch k, ok := n.Attrs.(*KernelAttrs); {
		case n.Op == OpKernel && ok:
			l = CLayer{CID: cid, Name: k.Layer}
			cid++
		case len(n.Inputs) > 0:
			var known bool
			if l, known = m[n.Inputs[0].Name]; !known {
				l = CLayer{CID: -1, Name: n.Name}
			}
		default:
			l = CLayer{CID: -1, Name: n.Name}
		}
		for _, t := range n.Outputs {
			m[t.Name] = l
		}
	}
	return m
}
