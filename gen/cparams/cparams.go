// Package cparams is the one source of truth for the parameter structs of
// dqnn's C kernel contract: Go struct types whose fields, in order, are the
// fields of the C structs in dq_types.h. The kernel generator renders the C
// definitions from them (Decls, EnumDecls: gen/kernelgen, template
// kernels/dq_types.h.tmpl) and the model emitter the initialisers (Define),
// so a field is added in one place.
//
// A field's tag names its C field: `c:"name"`, `c:"name,join"` to declare it
// in the declaration of the field before (int32_t in_h, in_w, in_c;), and
// `doc:"..."` for its comment in the header.
package cparams

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Params is a parameter struct; CName is its C typedef.
type Params interface{ CName() string }

// Pointer fields: the C identifier of a const array, "" for NULL.
type (
	FloatArray string // const float *
	Int32Array string // const int32_t *
	WordArray  string // const uint32_t * (packed bits, DQ_WORDS(n) words)
)

// PadMode is dq_pad_mode.
type PadMode int32

// The padding modes.
const (
	PadZero  PadMode = 0
	PadValue PadMode = 1
)

// Act is dq_act.
type Act int32

// The activations of the output stage.
const (
	ActNone Act = 0
	ActRelu Act = 1
)

// OutputStage is dq_output_stage: what a compute kernel does with channel
// c's accumulator (documented in Structs).
type OutputStage struct {
	Mul         FloatArray `c:"mul" doc:"[out_c] multiplier of the accumulator (f32/s8 outputs; f32 x s8 -> s1: the overflow rescue)"`
	Add         FloatArray `c:"add" doc:"[out_c] offset, e.g. the bias (f32/s8 outputs)"`
	Act         Act        `c:"act" doc:"dq_act applied after mul/add"`
	BnSub       FloatArray `c:"bn_sub" doc:"[out_c] second stage, or all three NULL"`
	BnMul       FloatArray `c:"bn_mul" doc:"[out_c]"`
	BnAdd       FloatArray `c:"bn_add" doc:"[out_c]"`
	OutInvScale float32    `c:"out_inv_scale" doc:"s8 output: 1 / output scale"`
	QMin        int32      `c:"q_min" doc:"s8 output: clamp range of q before the zero point"`
	QMax        int32      `c:"q_max,join"`
	OutZP       int32      `c:"out_zp" doc:"s8 output: zero point added after clamping"`
	ThrI        Int32Array `c:"thr_i" doc:"[out_c] s1 output, integer accumulator"`
	ThrF        FloatArray `c:"thr_f" doc:"[out_c] s1 output, float accumulator"`
	Flip        WordArray  `c:"flip" doc:"[DQ_WORDS(out_c)] s1 output: bit c set = compare with <=; NULL = none"`
}

// Dense is dq_dense_params.
type Dense struct {
	InN  int32 `c:"in_n" doc:"input length, >= 1"`
	OutN int32 `c:"out_n" doc:"output length, >= 1"`
	InZP int32 `c:"in_zp" doc:"s8 input: zero point subtracted from every input element"`
	// WSum: computed when the model is generated (gen/ref.WeightSums).
	WSum Int32Array `c:"w_sum" doc:"s8 input x s8 / s1 weights: [out_n] sum of each output's weights (s8: the codes; s1: +1 / -1, so in_n - 2 * the set bits): the zero-point correction -in_zp * w_sum, the s1 rows' popcounts. NULL: the kernel computes what it needs. Must equal the sums if given."`
}

// Conv is dq_conv_params (conv2d, pwconv2d, dwconv2d).
type Conv struct {
	InH             int32      `c:"in_h"`
	InW             int32      `c:"in_w,join"`
	InC             int32      `c:"in_c,join"`
	OutH            int32      `c:"out_h"`
	OutW            int32      `c:"out_w,join"`
	OutC            int32      `c:"out_c,join"`
	KH              int32      `c:"k_h"`
	KW              int32      `c:"k_w,join"`
	StrideH         int32      `c:"stride_h"`
	StrideW         int32      `c:"stride_w,join"`
	DilH            int32      `c:"dil_h"`
	DilW            int32      `c:"dil_w,join"`
	PadTop          int32      `c:"pad_top"`
	PadLeft         int32      `c:"pad_left,join"`
	PadMode         PadMode    `c:"pad_mode" doc:"dq_pad_mode"`
	PadValue        float32    `c:"pad_value" doc:"DQ_PAD_VALUE: value of a padded tap (s1: +1 or -1)"`
	InZP            int32      `c:"in_zp" doc:"s8 input zero point"`
	DepthMultiplier int32      `c:"depth_multiplier" doc:"depthwise only; out_c = in_c * depth_multiplier"`
	ConvH           int32      `c:"conv_h" doc:"size before the fused max-pool (= out_h/out_w without one)"`
	ConvW           int32      `c:"conv_w,join"`
	PoolH           int32      `c:"pool_h" doc:"fused max-pool window; 1 x 1 = none"`
	PoolW           int32      `c:"pool_w,join"`
	PoolStrideH     int32      `c:"pool_stride_h"`
	PoolStrideW     int32      `c:"pool_stride_w,join"`
	WSum            Int32Array `c:"w_sum" doc:"conv2d / pointwise, s8 input x s8 / s1 weights: [out_c] sum of each output channel's k_h * k_w * in_c weights (as dq_dense_params.w_sum); NULL: computed by the kernel."`
}

// Pool is dq_pool_params (maxpool, avgpool).
type Pool struct {
	InH     int32 `c:"in_h"`
	InW     int32 `c:"in_w,join"`
	C       int32 `c:"c,join"`
	OutH    int32 `c:"out_h"`
	OutW    int32 `c:"out_w,join"`
	PoolH   int32 `c:"pool_h"`
	PoolW   int32 `c:"pool_w,join"`
	StrideH int32 `c:"stride_h"`
	StrideW int32 `c:"stride_w,join"`
	PadTop  int32 `c:"pad_top"`
	PadLeft int32 `c:"pad_left,join"`
}

// Elementwise is dq_elementwise_params (convert, affine, softmax, relu,
// tanh, sigmoid, add).
type Elementwise struct {
	Rows     int32   `c:"rows" doc:"number of pixels (product of all but the last dimension)"`
	C        int32   `c:"c" doc:"channels (last dimension)"`
	Scale    float32 `c:"scale" doc:"conversions from s8: real = scale * (q - zp)"`
	InvScale float32 `c:"inv_scale" doc:"conversions to s8: q = clamp(round_half_even(x * inv_scale), q_min, q_max) + zp"`
	ZP       int32   `c:"zp"`
	QMin     int32   `c:"q_min"`
	QMax     int32   `c:"q_max,join"`
}

// Concat is dq_concat_params.
type Concat struct {
	Rows int32      `c:"rows"`
	N    int32      `c:"n" doc:"number of inputs, >= 1"`
	C    Int32Array `c:"c" doc:"[n] channels of each input"`
}

// CName implementations: the C typedef of each struct.
func (OutputStage) CName() string { return "dq_output_stage" }
func (Dense) CName() string       { return "dq_dense_params" }
func (Conv) CName() string        { return "dq_conv_params" }
func (Pool) CName() string        { return "dq_pool_params" }
func (Elementwise) CName() string { return "dq_elementwise_params" }
func (Concat) CName() string      { return "dq_concat_params" }

// Struct is one parameter struct of dq_types.h, in header order.
type Struct struct {
	Params Params // its zero value
	Doc    string // the comment before the typedef, without comment markers
}

// Structs lists the parameter structs in the order dq_types.h declares them.
var Structs = []Struct{
	{OutputStage{}, `Output stage, shared by every kernel that produces per-channel results
from an accumulator acc (int32 for s1/s8 inputs with s1/s8 weights, float
otherwise). For output channel c:

  f32 and s8 outputs:
    y = (float)acc * mul[c] + add[c]            (two roundings, never fused)
    if act == DQ_ACT_RELU: y = max(y, 0)
    if bn_mul != NULL: y = (y - bn_sub[c]) * bn_mul[c] + bn_add[c]
  f32 output: y.
  s8 output:  q = clamp(round_half_even(y * out_inv_scale), q_min, q_max) + out_zp,
              stored as int8_t (q_min + out_zp >= -128, q_max + out_zp <= 127).

  s1 output (batch-norm + sign folded into a threshold by the compiler):
    +1 (bit 0) iff acc >= thr[c], or iff acc <= thr[c] when bit c of flip is set;
    -1 (bit 1) otherwise. Integer accumulators use thr_i, float ones thr_f.
    A constant channel uses thr_i = INT32_MIN (always +1) / INT32_MAX, or +-INFINITY.

  f32 x s8 kernels with mul != NULL: a non-finite acc is recomputed with the weights
  w * mul[c] (Keras's dequantized weights) and the output stage skips mul; an s1
  output then takes the sign of y = acc + add[c], relu, batch norm (+1 iff y >= 0).`},
	{Dense{}, `Dense (fully connected): out[o] = sum_i x[i] * w[o][i]. Weights are [out_n][in_n], rows packed per type.`},
	{Conv{}, `2-D convolution (also pointwise and depthwise), input [in_h][in_w][in_c],
output [out_h][out_w][out_c].
Weights: conv2d / pointwise: [out_c][k_h][k_w][in_c] (OHWI), rows of in_c packed per type;
         depthwise: [k_h][k_w][in_c * depth_multiplier] (channel = i * depth_multiplier + m,
         as Keras orders depthwise outputs), rows packed per type.
Input pixel of output (oy, ox), tap (ky, kx):
  iy = oy * stride_h + ky * dil_h - pad_top, ix = ox * stride_w + kx * dil_w - pad_left.
Taps outside the input are padding (pad_mode). Accumulation order: ky, kx, then input channel,
ascending.
Fused max-pool (pool_h * pool_w > 1): the conv is computed for every pixel of each
pool window (valid pooling, window pool_h x pool_w, stride pool_stride_*), the maximum
accumulator of the window goes through the output stage; out_h/out_w are then the pooled sizes
and conv_h/conv_w the sizes before pooling.`},
	{Pool{}, `Pooling: input [in_h][in_w][c] -> output [out_h][out_w][c]; padded positions are ignored.`},
	{Elementwise{}, `Element-wise and per-channel ops over rows rows of c channels.`},
	{Concat{}, `Concatenation along channels of n inputs, each [rows][c_i], into [rows][sum c_i].`},
}

// Enum is a C enum of the contract: a Go integer type and its constants.
type Enum struct {
	C      string // typedef
	Doc    string
	Values []EnumValue
}

// EnumValue is one constant of an Enum.
type EnumValue struct {
	C     string
	Value int32
	Doc   string
}

// Enums lists the enums of the parameter structs in header order.
var Enums = []Enum{
	{"dq_pad_mode", "Padding of a convolution's input.", []EnumValue{
		{"DQ_PAD_ZERO", int32(PadZero), `padded taps are 0 (Keras/QKeras padding="same"; Larq pad_values=0)`},
		{"DQ_PAD_VALUE", int32(PadValue), "padded taps take pad_value (Larq pad_values=+1/-1, after input quantization)"},
	}},
	{"dq_act", "Activation applied inside the output stage, after bias and before batch-norm.", []EnumValue{
		{"DQ_ACT_NONE", int32(ActNone), ""},
		{"DQ_ACT_RELU", int32(ActRelu), ""},
	}},
}

// enumOf maps each enum's Go type to its table entry.
var enumOf = map[reflect.Type]*Enum{reflect.TypeFor[PadMode](): &Enums[0], reflect.TypeFor[Act](): &Enums[1]}

// field is one C field of a struct.
type field struct {
	name  string
	ctype string
	join  bool // declared with the field before
	doc   string
	index int // Go field index
}

// cTypes are the C types of the Go field types.
var cTypes = map[reflect.Type]string{
	reflect.TypeFor[int32]():      "int32_t",
	reflect.TypeFor[float32]():    "float",
	reflect.TypeFor[PadMode]():    "int32_t",
	reflect.TypeFor[Act]():        "int32_t",
	reflect.TypeFor[FloatArray](): "const float *",
	reflect.TypeFor[Int32Array](): "const int32_t *",
	reflect.TypeFor[WordArray]():  "const uint32_t *",
}

// fields returns the C fields of a parameter struct type, checking the
// tags: every field has a C name and a known type, a joined field has the
// type of the one before.
func fields(t reflect.Type) ([]field, error) {
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("c")
		if !ok || tag == "" {
			return nil, fmt.Errorf("%s.%s: no c tag", t.Name(), f.Name)
		}
		name, opt, _ := strings.Cut(tag, ",")
		ct, ok := cTypes[f.Type]
		if !ok {
			return nil, fmt.Errorf("%s.%s: Go type %s has no C type", t.Name(), f.Name, f.Type)
		}
		fd := field{name: name, ctype: ct, join: opt == "join", doc: f.Tag.Get("doc"), index: i}
		if opt != "" && opt != "join" {
			return nil, fmt.Errorf("%s.%s: unknown tag option %q", t.Name(), f.Name, opt)
		}
		if fd.join && (len(fs) == 0 || fs[len(fs)-1].ctype != ct) {
			return nil, fmt.Errorf("%s.%s: joined to a field of another type", t.Name(), f.Name)
		}
		fs = append(fs, fd)
	}
	return fs, nil
}

// Define renders the C definition of a static const struct named name with
// the values of p, one designated initialiser per line.
func Define(name string, p Params) (string, error) {
	v := reflect.ValueOf(p)
	fs, err := fields(v.Type())
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "static const %s %s = {\n", p.CName(), name)
	for _, f := range fs {
		fmt.Fprintf(&b, "  .%s = %s,\n", f.name, value(v.Field(f.index)))
	}
	b.WriteString("};")
	return b.String(), nil
}

// value is the C expression of a field's value.
func value(v reflect.Value) string {
	if e := enumOf[v.Type()]; e != nil {
		for _, c := range e.Values {
			if c.Value == int32(v.Int()) {
				return c.C
			}
		}
		return Int(int32(v.Int()))
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return "NULL"
		}
		return v.String()
	case reflect.Float32:
		return Float(float32(v.Float()))
	}
	return Int(int32(v.Int()))
}

// Float prints a float32 so that a C compiler reads back the same value.
func Float(x float32) string {
	switch {
	case math.IsInf(float64(x), 1):
		return "INFINITY"
	case math.IsInf(float64(x), -1):
		return "(-INFINITY)"
	}
	return strconv.FormatFloat(float64(x), 'e', -1, 32) + "f"
}

// Int prints an int32 as a C constant expression of type int (INT32_MIN
// without overflowing a literal).
func Int(x int32) string {
	if x == math.MinInt32 {
		return "(-2147483647 - 1)"
	}
	return strconv.Itoa(int(x))
}
