// The model's C API as the templates see it (NAME.h, NAME.c, NAME_data.c),
// and the rules for the names it derives from Options.Name.

package emit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/gen/cparams"
	"github.com/dqnn/dqnn/internal/cstr"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Model is the data of the model templates.
type Model struct {
	Name, Upper, Guard string
	Marker             string
	Source             string   // raw: templates escape it
	Sources            []Source // raw names: templates escape them
	Target             string
	Inputs, Outputs    []IO
	Multi              bool
	QuantizedIO        bool
	ArenaSize          int
	ArenaWords         int
	Calls              []Call
	Params             []string // static const parameter structs (C definitions)
	Data               []Array
	Kernels            []string
	Amalgamate         bool
	TypesH             string // amalgamation: dq_types.h body
	KernelSrc          string // amalgamation: the kernels' bodies, static
	NeedMath           bool
	DataBytes          int
}

// IO is a model input or output.
type IO struct {
	Index       int
	Name        string // IR tensor name, raw: templates escape it
	CType       string
	Shape       []int
	Elems       int // logical elements
	StoreElems  int // C elements (words for s1)
	Bytes       int
	DType       string
	Scale       string // quantized: real = scale * (q - zp)
	ZP          int32
	Quantized   bool
	ShapeMacros []string
}

// Call is one kernel call (or alias) of NAME_run.
type Call struct {
	Comment string  // raw (layer and tensor names): templates escape it
	Stmt    string  // the call statement ("" for an alias); derived identifiers only
	Trace   []Trace // the tensors to pass to dqnn_trace
}

// Trace is one dqnn_trace call: the tensor's name (raw: the template makes
// it a string literal), its dtype code, storage expression and bytes.
type Trace struct {
	Tensor string
	DType  int
	Ptr    string
	Bytes  int
}

// Array is a const data array.
type Array struct {
	CType, Name string
	Len         int
	Lines       []string
	Comment     string // raw (may hold a layer name): templates escape it
	Node        int    // index of the lowered graph node whose call uses it
}

// RuntimeFile reports whether the generated file f is part of dqnn's runtime
// (dq_types.h, dq_kernels.h, dq_internal.h, the dq_* kernels, the directory's
// CMakeLists.txt): the same bytes for every model, so models generated into
// one directory share it. CheckName keeps
// model files out of this namespace.
func RuntimeFile(f string) bool { return strings.HasPrefix(f, "dq_") || f == CMakeFile }

// MaxName bounds --name, so that every identifier derived from it
// (NAME_l<index>_bn_sub, ...) stays within cstr.MaxIdent.
const MaxName = 40

// CheckName checks a model's C prefix and file stem: a C identifier of at
// most MaxName characters, not in dqnn's runtime namespace (dq_types.h,
// dq_kernels.h, dq_internal.h and the dq_* kernels, their DQ_* macros,
// dqnn_trace).
// Case is ignored for the namespace: NAME.h must not collide with a runtime
// file on a case-insensitive file system either.
func CheckName(name string) error {
	switch l := strings.ToLower(name); {
	case !cstr.IsIdent(name) || len(name) > MaxName:
		return fmt.Errorf("model name %q is not a C identifier of at most %d characters (letters, digits and '_', starting with a letter): choose another with --name", name, MaxName)
	case l == "dq" || l == "dqnn" || strings.HasPrefix(l, "dq_") || strings.HasPrefix(l, "dqnn_"):
		return fmt.Errorf("model name %q collides with dqnn's runtime files and symbols (dq_types.h, dq_kernels.h, dq_internal.h, dq_* kernels, dqnn_trace): choose another with --name, e.g. --name model_%s", name, l)
	}
	return nil
}

func (e *emitter) io(i int, t *ir.Tensor, dir string) IO {
	dt := t.Quant.DType
	o := IO{Index: i, Name: t.Name, CType: dt.CType(), Shape: t.Shape, Elems: ir.NumElements(t.Shape), Bytes: dt.Bytes(t.Shape), DType: dt.Tag(), Quantized: dt != dtype.F32}
	o.StoreElems = o.Bytes / sizeOfC(o.CType)
	if len(t.Quant.Scale) > 0 {
		o.Scale = cparams.Float(t.Quant.Scale[0])
	} else {
		o.Scale = "1.0f"
	}
	o.ZP = t.Quant.ZeroPoint
	pre := e.m.Upper + "_" + dir
	if len(e.g.Inputs) != 1 || len(e.g.Outputs) != 1 {
		pre += strconv.Itoa(i)
	}
	for d, v := range t.Shape {
		o.ShapeMacros = append(o.ShapeMacros, fmt.Sprintf("#define %s_SHAPE_%d %d", pre, d, v))
	}
	return o
}
