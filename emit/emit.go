// Package emit renders a lowered, planned IR graph as a standalone C library
// for one model: NAME.h (API, sizes, shapes), NAME.c (static arena, the
// kernel calls in order with their const parameter structs), NAME_data.c
// (weights packed per kernel layout, thresholds, multipliers), plus
// dq_types.h, dq_kernels.h and exactly the kernel sources the model uses. With
// Amalgamate it renders only NAME.h and NAME.c, everything inlined.
//
// Rendering is a pure function returning file contents (deterministic bytes);
// writing them is the caller's business.
//
// Names from the model (layers, tensors, files) reach the C only as comment
// text or string literals, through the escaping functions of internal/cstr
// (in the templates: ccomment, cstring); every C identifier is derived from
// Options.Name and a layer index and checked with cstr.IsIdent.
package emit

import (
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dqnn/dqnn/gen/render"
	"github.com/dqnn/dqnn/internal/cstr"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	kernelsc "github.com/dqnn/dqnn/kernels_c"
	"github.com/dqnn/dqnn/passes"
	"github.com/dqnn/dqnn/templates"
)

// Options select what is rendered.
type Options struct {
	Name        string // C prefix and file stem; see CheckName
	Target      string // informational: recorded in the header
	QuantizedIO bool
	Amalgamate  bool
	Source      string   // the model for the documentation: its file name(s), no directories
	Sources     []Source // every file the importer read, for the provenance lines
}

// Source is one file the model was read from.
type Source struct {
	Name   string // base name, no directories
	SHA256 string // hex sha256 of the bytes read
}

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
// (dq_types.h, dq_kernels.h, the dq_* kernels, the directory's
// CMakeLists.txt): the same bytes for every model, so models generated into
// one directory share it. CheckName keeps
// model files out of this namespace.
func RuntimeFile(f string) bool { return strings.HasPrefix(f, "dq_") || f == CMakeFile }

// MaxName bounds --name, so that every identifier derived from it
// (NAME_l<index>_bn_sub, ...) stays within cstr.MaxIdent.
const MaxName = 40

// CheckName checks a model's C prefix and file stem: a C identifier of at
// most MaxName characters, not in dqnn's runtime namespace (dq_types.h,
// dq_kernels.h and the dq_* kernels, their DQ_* macros, dqnn_trace).
// Case is ignored for the namespace: NAME.h must not collide with a runtime
// file on a case-insensitive file system either.
func CheckName(name string) error {
	switch l := strings.ToLower(name); {
	case !cstr.IsIdent(name) || len(name) > MaxName:
		return fmt.Errorf("model name %q is not a C identifier of at most %d characters (letters, digits and '_', starting with a letter): choose another with --name", name, MaxName)
	case l == "dq" || l == "dqnn" || strings.HasPrefix(l, "dq_") || strings.HasPrefix(l, "dqnn_"):
		return fmt.Errorf("model name %q collides with dqnn's runtime files and symbols (dq_types.h, dq_kernels.h, dq_* kernels, dqnn_trace): choose another with --name, e.g. --name model_%s", name, l)
	}
	return nil
}

// Output is a rendered library.
type Output struct {
	Files     map[string][]byte
	DataBytes int // bytes of constant data (weights, stage constants): the "weights (ro)" figure
	// NodeDataBytes splits DataBytes by lowered graph node (index as in
	// g.Nodes): the constants each call reads.
	NodeDataBytes []int
}

// Render renders the library of g with its memory plan p.
func Render(g *ir.Graph, p *passes.Plan, opt Options) (*Output, error) {
	if err := CheckName(opt.Name); err != nil {
		return nil, fmt.Errorf("emit: %w", err)
	}
	if !g.IsLowered() {
		return nil, fmt.Errorf("emit: graph %q is not lowered", g.Name)
	}
	e := &emitter{g: g, p: p, opt: opt, m: &Model{Name: opt.Name, Upper: strings.ToUpper(opt.Name), Marker: render.Marker,
		Source: opt.Source, Sources: opt.Sources, Target: opt.Target, QuantizedIO: opt.QuantizedIO, Amalgamate: opt.Amalgamate}}
	e.m.Guard = e.m.Upper + "_H"
	if err := e.build(); err != nil {
		return nil, err
	}
	t, err := render.Load(templates.ModelFS, "model/*.tmpl")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	out := func(file, tmpl string) error {
		b, err := render.Execute(t, tmpl, e.m)
		if err != nil {
			return err
		}
		files[file] = render.Tidy(b)
		return nil
	}
	if opt.Amalgamate {
		if err := e.amalgamate(); err != nil {
			return nil, err
		}
	}
	if err := out(opt.Name+".h", "model/model.h.tmpl"); err != nil {
		return nil, err
	}
	if opt.Amalgamate {
		if err := out(opt.Name+".c", "model/model.c.tmpl"); err != nil {
			return nil, err
		}
		return e.output(files), nil
	}
	if err := out(opt.Name+".c", "model/model.c.tmpl"); err != nil {
		return nil, err
	}
	if err := out(opt.Name+"_data.c", "model/model_data.c.tmpl"); err != nil {
		return nil, err
	}
	for _, f := range append([]string{"dq_types.h", "dq_kernels.h"}, kernelFiles(e.m.Kernels)...) {
		b, err := fs.ReadFile(kernelsc.FS, f)
		if err != nil {
			return nil, fmt.Errorf("emit: kernel library has no %s: %w", f, err)
		}
		files[f] = b
	}
	return e.output(files), nil
}

func (e *emitter) output(files map[string][]byte) *Output {
	o := &Output{Files: files, DataBytes: e.m.DataBytes, NodeDataBytes: make([]int, len(e.g.Nodes))}
	for _, a := range e.m.Data {
		o.NodeDataBytes[a.Node] += a.Len * sizeOfC(a.CType)
	}
	return o
}

func kernelFiles(names []string) []string {
	fs := make([]string, len(names))
	for i, n := range names {
		fs[i] = n + ".c"
	}
	return fs
}

type emitter struct {
	g    *ir.Graph
	p    *passes.Plan
	opt  Options
	m    *Model
	used map[string]bool
	node int // index of the node being emitted (owner of the arrays it adds)
}

func dtypeCode(t dtype.DType) int {
	switch t {
	case dtype.F32:
		return 1
	case dtype.S8:
		return 2
	case dtype.S1:
		return 3
	}
	return 0
}

func (e *emitter) build() error {
	e.used = map[string]bool{}
	m := e.m
	m.ArenaSize = e.p.ArenaSize
	m.ArenaWords = max(1, (e.p.ArenaSize+3)/4)
	m.Multi = len(e.g.Inputs) != 1 || len(e.g.Outputs) != 1
	for i, t := range e.g.Inputs {
		m.Inputs = append(m.Inputs, e.io(i, t, "IN"))
	}
	for i, t := range e.g.Outputs {
		m.Outputs = append(m.Outputs, e.io(i, t, "OUT"))
	}
	for i, n := range e.g.Nodes {
		e.node = i
		c, err := e.call(i, n)
		if err != nil {
			return fmt.Errorf("emit: node %q: %w", n.Name, err)
		}
		m.Calls = append(m.Calls, c)
	}
	for k := range e.used {
		m.Kernels = append(m.Kernels, k)
	}
	sort.Strings(m.Kernels)
	for _, a := range m.Data {
		m.DataBytes += a.Len * sizeOfC(a.CType)
	}
	return e.checkIdents()
}

// checkIdents checks every identifier the model emits (derived, never
// copied from a name) against the identifier grammar.
func (e *emitter) checkIdents() error {
	ids := append([]string{e.m.Name + "_arena", e.m.Name + "_run", e.m.Guard}, e.m.Kernels...)
	for _, a := range e.m.Data {
		ids = append(ids, a.Name)
	}
	for _, id := range ids {
		if !cstr.IsIdent(id) {
			return fmt.Errorf("emit: derived identifier %q is not a valid C identifier", id)
		}
	}
	return nil
}

func sizeOfC(ct string) int {
	if ct == "int8_t" {
		return 1
	}
	return 4
}

func (e *emitter) io(i int, t *ir.Tensor, dir string) IO {
	dt := t.Quant.DType
	o := IO{Index: i, Name: t.Name, CType: dt.CType(), Shape: t.Shape, Elems: ir.NumElements(t.Shape), Bytes: dt.Bytes(t.Shape), DType: dt.Tag(), Quantized: dt != dtype.F32}
	o.StoreElems = o.Bytes / sizeOfC(o.CType)
	if len(t.Quant.Scale) > 0 {
		o.Scale = cFloat(t.Quant.Scale[0])
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

// ptr returns the C expression of a tensor's storage with the given C type.
func (e *emitter) ptr(t *ir.Tensor, write bool) (string, error) {
	b, ok := e.p.Buffers[t]
	if !ok {
		return "", fmt.Errorf("tensor %q has no planned storage", t.Name)
	}
	ct := t.Quant.DType.CType()
	cst := "const "
	if write {
		cst = ""
	}
	switch b.Kind {
	case passes.InInput:
		if e.m.Multi {
			return fmt.Sprintf("((const %s *)inputs[%d])", ct, b.Index), nil
		}
		return "input", nil
	case passes.InOutput:
		if e.m.Multi {
			return fmt.Sprintf("((%s *)outputs[%d])", ct, b.Index), nil
		}
		if write {
			return "output", nil
		}
		return fmt.Sprintf("((const %s *)output)", ct), nil
	}
	return fmt.Sprintf("((%s%s *)(arena + %d))", cst, ct, b.Offset), nil
}

func (e *emitter) addArray(ct, base string, lines []string, n int, comment string) string {
	name := fmt.Sprintf("%s_%s", e.m.Name, base)
	e.m.Data = append(e.m.Data, Array{CType: ct, Name: name, Len: n, Lines: lines, Comment: comment, Node: e.node})
	return name
}

func (e *emitter) floatArray(base string, v []float32, comment string) string {
	if v == nil {
		return "NULL"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = cFloat(x)
		if math.IsInf(float64(x), 0) {
			e.m.NeedMath = true
		}
	}
	return e.addArray("float", base, wrap(s, 6), len(v), comment)
}

func (e *emitter) intArray(base string, v []int32, comment string) string {
	if v == nil {
		return "NULL"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = cInt(x)
	}
	return e.addArray("int32_t", base, wrap(s, 10), len(v), comment)
}

func (e *emitter) wordArray(base string, w []uint32, comment string) string {
	s := make([]string, len(w))
	for i, x := range w {
		s[i] = fmt.Sprintf("0x%08xu", x)
	}
	return e.addArray("uint32_t", base, wrap(s, 6), len(w), comment)
}

func wrap(s []string, per int) []string {
	var lines []string
	for i := 0; i < len(s); i += per {
		j := min(i+per, len(s))
		lines = append(lines, strings.Join(s[i:j], ", ")+",")
	}
	return lines
}

// cFloat prints a float32 so that a C compiler reads back the same value.
func cFloat(x float32) string {
	switch {
	case math.IsInf(float64(x), 1):
		return "INFINITY"
	case math.IsInf(float64(x), -1):
		return "(-INFINITY)"
	}
	s := strconv.FormatFloat(float64(x), 'e', -1, 32)
	return s + "f"
}

func cInt(x int32) string {
	if x == math.MinInt32 {
		return "(-2147483647 - 1)"
	}
	return strconv.Itoa(int(x))
}

func allEq(v []float32, c float32) bool {
	for _, x := range v {
		if x != c || math.Signbit(float64(x)) != math.Signbit(float64(c)) {
			return false
		}
	}
	return true
}

// packWeights lays out weights per the kernel contract: rows along the
// last dimension of the kernel layout, s1 rows packed into words.
func (e *emitter) packWeights(base string, w *ir.KernelWeights) (string, error) {
	row := w.Shape[len(w.Shape)-1]
	rows := ir.NumElements(w.Shape) / row
	comment := fmt.Sprintf("%s %v", w.DType, w.Shape)
	switch w.DType {
	case dtype.S1:
		words := dtype.Words(row)
		out := make([]uint32, rows*words)
		for r := 0; r < rows; r++ {
			for i := 0; i < row; i++ {
				if w.Codes[r*row+i] < 0 {
					out[r*words+i/32] |= 1 << (i % 32)
				}
			}
		}
		return e.wordArray(base, out, comment+", packed rows (bit 1 = -1)"), nil
	case dtype.S8:
		s := make([]string, len(w.Codes))
		for i, c := range w.Codes {
			s[i] = strconv.Itoa(int(c))
		}
		return e.addArray("int8_t", base, wrap(s, 16), len(s), comment), nil
	case dtype.F32:
		return e.floatArray(base, w.Data, comment), nil
	}
	return "", fmt.Errorf("weights stored as %s", w.DType)
}

func (e *emitter) stage(base string, k *ir.KernelAttrs) (string, error) {
	st := k.Stage
	f := map[string]string{}
	mul, add := "NULL", "NULL"
	if st.Mul != nil && !allEq(st.Mul, 1) {
		mul = e.floatArray(base+"_mul", st.Mul, "output stage multiplier")
	}
	if st.Add != nil && !allEq(st.Add, 0) {
		add = e.floatArray(base+"_add", st.Add, "output stage offset")
	}
	f["mul"], f["add"] = mul, add
	act := "DQ_ACT_NONE"
	if st.Relu {
		act = "DQ_ACT_RELU"
	}
	f["act"] = act
	f["bn_sub"], f["bn_mul"], f["bn_add"] = "NULL", "NULL", "NULL"
	if st.BnMul != nil {
		f["bn_sub"] = e.floatArray(base+"_bn_sub", st.BnSub, "batch-norm "+st.BNName+": subtrahend")
		f["bn_mul"] = e.floatArray(base+"_bn_mul", st.BnMul, "batch-norm "+st.BNName+": multiplier")
		f["bn_add"] = e.floatArray(base+"_bn_add", st.BnAdd, "batch-norm "+st.BNName+": offset")
	}
	f["out_inv_scale"] = cFloat(st.OutInvScale)
	f["q_min"], f["q_max"], f["out_zp"] = cInt(st.QMin), cInt(st.QMax), cInt(st.OutZP)
	f["thr_i"] = e.intArray(base+"_thr", st.ThrI, "s1 output thresholds (integer accumulator)")
	f["thr_f"] = e.floatArray(base+"_thr", st.ThrF, "s1 output thresholds (float accumulator)")
	f["flip"] = "NULL"
	if st.Flip != nil {
		w := make([]uint32, dtype.Words(len(st.Flip)))
		for c, fl := range st.Flip {
			if fl {
				w[c/32] |= 1 << (c % 32)
			}
		}
		f["flip"] = e.wordArray(base+"_flip", w, "s1 output: bit c set = +1 iff acc <= thr")
	}
	name := e.m.Name + "_" + base + "_os"
	e.m.Params = append(e.m.Params, structDef("dq_output_stage", name, []string{"mul", "add", "act", "bn_sub", "bn_mul", "bn_add", "out_inv_scale", "q_min", "q_max", "out_zp", "thr_i", "thr_f", "flip"}, f))
	return name, nil
}

func structDef(typ, name string, order []string, f map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "static const %s %s = {\n", typ, name)
	for _, k := range order {
		fmt.Fprintf(&b, "  .%s = %s,\n", k, f[k])
	}
	b.WriteString("};")
	return b.String()
}

func (e *emitter) call(i int, n *ir.Node) (Call, error) {
	c := Call{}
	base := fmt.Sprintf("l%d", i)
	for _, t := range n.Outputs {
		ptr, err := e.ptr(t, false)
		if err != nil {
			return c, err
		}
		c.Trace = append(c.Trace, Trace{Tensor: t.Name, DType: dtypeCode(t.Quant.DType), Ptr: ptr, Bytes: t.Quant.DType.Bytes(t.Shape)})
	}
	if n.Op == ir.OpAlias {
		c.Comment = fmt.Sprintf("%s: %s is %s (no copy)", n.Name, n.Outputs[0].Name, n.Inputs[0].Name)
		return c, nil
	}
	k, _ := n.Attrs.(*ir.KernelAttrs)
	if k == nil || k.Name == "" {
		return c, fmt.Errorf("kernel call without a selected kernel")
	}
	e.used[k.Name] = true
	c.Comment = fmt.Sprintf("%s: %s", strings.Join(k.Fused, " + "), k.Name)
	var args []string
	var pname string
	switch k.Kind {
	case "dense":
		pname = e.m.Name + "_" + base + "_p"
		fields := []string{"in_n", "out_n", "in_zp"}
		vals := map[string]string{"in_n": strconv.Itoa(k.Dense.InN), "out_n": strconv.Itoa(k.Dense.OutN), "in_zp": cInt(n.Inputs[0].Quant.ZeroPoint)}
		if ws := weightSums(n, k); ws != nil {
			fields, vals["w_sum"] = append(fields, "w_sum"), e.intArray(base+"_wsum", ws, "weight sums (zero-point correction)")
		}
		e.m.Params = append(e.m.Params, structDef("dq_dense_params", pname, fields, vals))
	case "conv2d", "pwconv2d", "dwconv2d":
		g := k.Conv
		padMode, padValue := "DQ_PAD_ZERO", float32(0)
		if g.PadValue != 0 {
			padMode, padValue = "DQ_PAD_VALUE", g.PadValue
			if k.In == dtype.S8 {
				q := n.Inputs[0].Quant
				padValue = float32(math.RoundToEven(float64(g.PadValue / q.Scale[0])))
			}
		}
		dm := 0
		if k.Kind == "dwconv2d" {
			dm = g.DepthMultiplier
		}
		pname = e.m.Name + "_" + base + "_p"
		fields := []string{"in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h", "stride_w", "dil_h", "dil_w", "pad_top", "pad_left", "pad_mode", "pad_value", "in_zp", "depth_multiplier", "conv_h", "conv_w", "pool_h", "pool_w", "pool_stride_h", "pool_stride_w"}
		vals := map[string]string{"in_h": itoa(g.InH), "in_w": itoa(g.InW), "in_c": itoa(g.InC), "out_h": itoa(g.OutH), "out_w": itoa(g.OutW), "out_c": itoa(g.OutC),
			"k_h": itoa(g.KH), "k_w": itoa(g.KW), "stride_h": itoa(g.StrideH), "stride_w": itoa(g.StrideW), "dil_h": itoa(g.DilH), "dil_w": itoa(g.DilW),
			"pad_top": itoa(g.PadTop), "pad_left": itoa(g.PadLeft), "pad_mode": padMode, "pad_value": cFloat(padValue), "in_zp": cInt(n.Inputs[0].Quant.ZeroPoint),
			"depth_multiplier": itoa(dm), "conv_h": itoa(g.ConvH), "conv_w": itoa(g.ConvW), "pool_h": itoa(g.PoolH), "pool_w": itoa(g.PoolW),
			"pool_stride_h": itoa(g.PoolStrideH), "pool_stride_w": itoa(g.PoolStrideW)}
		if ws := weightSums(n, k); ws != nil {
			fields, vals["w_sum"] = append(fields, "w_sum"), e.intArray(base+"_wsum", ws, "weight sums (zero-point correction)")
		}
		e.m.Params = append(e.m.Params, structDef("dq_conv_params", pname, fields, vals))
	case "maxpool", "avgpool":
		pg := k.Pool
		pname = e.m.Name + "_" + base + "_p"
		e.m.Params = append(e.m.Params, structDef("dq_pool_params", pname,
			[]string{"in_h", "in_w", "c", "out_h", "out_w", "pool_h", "pool_w", "stride_h", "stride_w", "pad_top", "pad_left"},
			map[string]string{"in_h": itoa(pg.InH), "in_w": itoa(pg.InW), "c": itoa(pg.C), "out_h": itoa(pg.OutH), "out_w": itoa(pg.OutW),
				"pool_h": itoa(pg.PoolH), "pool_w": itoa(pg.PoolW), "stride_h": itoa(pg.StrideH), "stride_w": itoa(pg.StrideW), "pad_top": itoa(pg.PadTop), "pad_left": itoa(pg.PadLeft)}))
	case "concat":
		cs := make([]int32, len(k.ConcatC))
		for j, v := range k.ConcatC {
			cs[j] = int32(v)
		}
		carr := e.intArray(base+"_c", cs, "channels of each input")
		pname = e.m.Name + "_" + base + "_p"
		e.m.Params = append(e.m.Params, structDef("dq_concat_params", pname, []string{"rows", "n", "c"},
			map[string]string{"rows": itoa(k.Rows), "n": itoa(len(cs)), "c": carr}))
	default: // element-wise: convert, affine, softmax, relu, tanh, sigmoid, add
		in, out := n.Inputs[0].Quant, n.Outputs[0].Quant
		scale, inv, zp, qmin, qmax := float32(1), float32(1), int32(0), int32(0), int32(0)
		switch {
		case k.Kind == "convert" && k.Out == dtype.S8:
			inv, zp, qmin, qmax = passes.InvScale(out.Scale[0]), out.ZeroPoint, out.QMin, out.QMax
			if k.In == dtype.S1 && len(in.Scale) > 0 {
				scale = in.Scale[0]
			}
		case k.In == dtype.S8:
			scale, zp = in.Scale[0], in.ZeroPoint
		case k.In == dtype.S1 && len(in.Scale) > 0:
			scale = in.Scale[0]
		}
		pname = e.m.Name + "_" + base + "_p"
		e.m.Params = append(e.m.Params, structDef("dq_elementwise_params", pname, []string{"rows", "c", "scale", "inv_scale", "zp", "q_min", "q_max"},
			map[string]string{"rows": itoa(k.Rows), "c": itoa(k.C), "scale": cFloat(scale), "inv_scale": cFloat(inv), "zp": cInt(zp), "q_min": cInt(qmin), "q_max": cInt(qmax)}))
	}
	args = append(args, "&"+pname)
	// Inputs.
	if k.Kind == "concat" {
		arr := e.m.Name + "_" + base + "_in"
		var ps []string
		for _, t := range n.Inputs {
			p, err := e.ptr(t, false)
			if err != nil {
				return c, err
			}
			ps = append(ps, p)
		}
		op, err := e.ptr(n.Outputs[0], true)
		if err != nil {
			return c, err
		}
		c.Stmt = fmt.Sprintf("{\n    const %s *const %s[%d] = { %s };\n    st = %s(&%s, %s, %s);\n    if (st != DQ_OK) return (int)st;\n  }",
			k.In.CType(), arr, len(ps), strings.Join(ps, ", "), k.Name, pname, arr, op)
		return c, nil
	}
	for _, t := range n.Inputs {
		p, err := e.ptr(t, false)
		if err != nil {
			return c, err
		}
		args = append(args, p)
	}
	if k.Weights != nil {
		w, err := e.packWeights(base+"_w", k.Weights)
		if err != nil {
			return c, err
		}
		args = append(args, w)
	}
	if k.Stage != nil {
		os, err := e.stage(base, k)
		if err != nil {
			return c, err
		}
		args = append(args, "&"+os)
	}
	op, err := e.ptr(n.Outputs[0], true)
	if err != nil {
		return c, err
	}
	args = append(args, op)
	c.Stmt = fmt.Sprintf("st = %s(%s);\n  if (st != DQ_OK) return (int)st;", k.Name, strings.Join(args, ", "))
	return c, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

var (
	reInclude = regexp.MustCompile(`(?m)^#include "dq_(types|kernels)\.h"\n`)
	reDef     = regexp.MustCompile(`(?m)^dq_status (dq_[a-z0-9_]+)\(`)
	reBuild   = regexp.MustCompile(`(?m)^//go:build ignore\n`)
)

// amalgamate inlines dq_types.h and the used kernels (made static) into NAME.c.
func (e *emitter) amalgamate() error {
	th, err := fs.ReadFile(kernelsc.FS, "dq_types.h")
	if err != nil {
		return err
	}
	e.m.TypesH = string(th)
	var b strings.Builder
	sys := map[string]bool{}
	for _, k := range e.m.Kernels {
		src, err := fs.ReadFile(kernelsc.FS, k+".c")
		if err != nil {
			return fmt.Errorf("emit: kernel library has no %s.c: %w", k, err)
		}
		s := string(src)
		s = strings.TrimPrefix(s, render.Marker+"\n")
		s = reBuild.ReplaceAllString(s, "")
		s = reInclude.ReplaceAllString(s, "")
		s = regexp.MustCompile(`(?m)^#include <([a-z.]+)>\n`).ReplaceAllStringFunc(s, func(l string) string {
			sys[l] = true
			return ""
		})
		s = reDef.ReplaceAllString(s, "static dq_status $1(")
		b.WriteString(s)
		b.WriteString("\n")
	}
	var incs []string
	for l := range sys {
		incs = append(incs, strings.TrimSpace(l))
	}
	sort.Strings(incs)
	e.m.KernelSrc = strings.Join(incs, "\n") + "\n\n" + b.String()
	return nil
}
