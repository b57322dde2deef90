// Package kernelgen generates dqnn's C kernel library from gen/matrix: one
// file per kernel in kernels_c/ (named after the kernel's function), the
// prototype header dq_kernels.h, the kernels' internal header dq_internal.h
// (helpers shared by several kernels, defined once) and docs/kernels.md. Generate is a pure
// function returning files; writing them is render.Write's job.
package kernelgen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dqnn/dqnn/gen/cparams"
	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/gen/render"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/templates"
)

// KernelData is the data every kernel template renders (templates declare it
// with a gotype comment). Tags are "f32", "s8", "s1"; C types the element
// types of the kernel's pointers.
type KernelData struct {
	Name     string // C function name = file stem
	Template string // template path inside templates.FS
	Covers   string // the reference-table row, or "beyond reference"
	Op       string
	In, W    string // tags; W is "" without weights
	Out      string
	IT, WT   string // C element types of input and weights
	OT       string // C element type of the output
	XT       string // C type of one loaded input element: uint32_t (s1 bit), int32_t (s8 q - zp), float
	AccInt   bool   // int32 accumulator
	AccT     string // C type of the accumulator
	Proto    string // the prototype, without ';'
	Doc      string // one-line description
	ISAs     []ISASel
	Paths    []matrix.Path // the fast paths, in dispatch order (kernels/dispatch)
}

// HeaderData is the data of dq_kernels.h.tmpl.
type HeaderData struct {
	Template string
	Kernels  []KernelData
}

// TypesData is the data of dq_types.h.tmpl: the contract's enums and
// parameter structs, from gen/cparams.
type TypesData struct {
	Template string
	Enums    []cparams.EnumDecl
	Structs  []cparams.Decl
}

// InternalData is the data of dq_internal.h.tmpl: the helpers it holds
// ("*/shared" blocks) use no kernel data, since they are defined once for all.
type InternalData struct {
	Template string
}

// ISASel is one ISA's selection macro (kernels/head renders them into every
// kernel file): the gen/matrix.ISAs that have a C condition.
type ISASel struct {
	Name, Macro, Disable, Cond, Cores string
}

// DocsData is the data of kernels.md.tmpl.
type DocsData struct {
	Template string
	Rows     []DocRow
	Families []FamilyCount
	Grid     []GridRow
	Refs     []RefRow
	Variants []VariantRow
	Rules    []RuleRow
	Total    int
	Mirrored int
}

// GridRow is one line of the op x types overview: for an op and input type,
// the output types available with f32, s8 and s1 weights (a '*' marks a
// type the reference tool's tables list).
type GridRow struct {
	Op, In      string
	F32, S8, S1 string
}

// DocRow is one table row in docs/kernels.md; Variants names the fast
// paths of gen/matrix.Variants the kernel holds ("-": portable loops only).
type DocRow struct {
	Name, Op, In, W, Out, Acc, Covers, Variants string
}

// VariantRow is one row of the variant table (from gen/matrix.Variants).
type VariantRow struct {
	Name, ISA, Macros, Cores, Kernels, Technique, Sources string
	Count                                                 int
	Asm                                                   bool
}

// RuleRow is one selection rule of the dispatch table in docs/kernels.md
// (from gen/matrix.Variants' rules), in dispatch order per site.
type RuleRow struct {
	Variant, Kernels, Site, Cond, Shape, Words string
}

// RefRow is one row of the reference's tables and the kernels implementing it.
type RefRow struct {
	Covers  string
	Kernels []string
}

// FamilyCount counts the kernels of one op.
type FamilyCount struct {
	Op              string
	Kernels, Mirror int
}

// Template of each family.
func templateOf(op matrix.Op) string {
	switch op {
	case matrix.Dense:
		return "kernels/dense.c.tmpl"
	case matrix.Conv2D, matrix.PWConv2D, matrix.DWConv2D:
		return "kernels/conv.c.tmpl"
	case matrix.MaxPool, matrix.AvgPool:
		return "kernels/pool.c.tmpl"
	case matrix.Concat:
		return "kernels/concat.c.tmpl"
	case matrix.Convert:
		return "kernels/convert.c.tmpl"
	case matrix.Affine:
		return "kernels/affine.c.tmpl"
	case matrix.Softmax, matrix.Relu, matrix.Tanh, matrix.Sigmoid:
		return "kernels/unary.c.tmpl"
	case matrix.Add:
		return "kernels/add.c.tmpl"
	}
	return ""
}

// Proto returns the C prototype of k (without the final ';'), as fixed by
// the team contract.
func Proto(k matrix.Kernel) string {
	in, out := k.In.CType(), k.Out.CType()
	switch k.Op {
	case matrix.Dense:
		return fmt.Sprintf("dq_status %s(const dq_dense_params *p, const %s *input, const %s *weights, const dq_output_stage *os, %s *output)", k.Name(), in, k.W.CType(), out)
	case matrix.Conv2D, matrix.PWConv2D, matrix.DWConv2D:
		return fmt.Sprintf("dq_status %s(const dq_conv_params *p, const %s *input, const %s *weights, const dq_output_stage *os, %s *output)", k.Name(), in, k.W.CType(), out)
	case matrix.Affine:
		return fmt.Sprintf("dq_status %s(const dq_elementwise_params *p, const %s *input, const dq_output_stage *os, %s *output)", k.Name(), in, out)
	case matrix.MaxPool, matrix.AvgPool:
		return fmt.Sprintf("dq_status %s(const dq_pool_params *p, const %s *input, %s *output)", k.Name(), in, out)
	case matrix.Concat:
		return fmt.Sprintf("dq_status %s(const dq_concat_params *p, const %s *const *inputs, %s *output)", k.Name(), in, out)
	case matrix.Add:
		return fmt.Sprintf("dq_status %s(const dq_elementwise_params *p, const float *a, const float *b, float *output)", k.Name())
	default: // convert, softmax, relu, tanh, sigmoid
		return fmt.Sprintf("dq_status %s(const dq_elementwise_params *p, const %s *input, %s *output)", k.Name(), in, out)
	}
}

// Doc returns the one-line description of k used in dq_kernels.h and the kernel file.
func Doc(k matrix.Kernel) string {
	acc := "float accumulator"
	if k.AccInt() {
		acc = "int32 accumulator"
	}
	if k.Op.HasWeights() && k.In == dtype.S1 && k.W == dtype.S1 {
		acc = "int32 accumulator, xor + popcount"
	}
	switch k.Op {
	case matrix.Dense:
		return fmt.Sprintf("Dense, %s input x %s weights -> %s output (%s), then the output stage.", k.In, k.W, k.Out, acc)
	case matrix.Conv2D:
		return fmt.Sprintf("2-D convolution (k_h x k_w, stride, dilation, padding, fused max-pool), %s input x %s weights -> %s output (%s).", k.In, k.W, k.Out, acc)
	case matrix.PWConv2D:
		return fmt.Sprintf("Pointwise (1x1) convolution with stride and fused max-pool, %s input x %s weights -> %s output (%s).", k.In, k.W, k.Out, acc)
	case matrix.DWConv2D:
		return fmt.Sprintf("Depthwise convolution (depth_multiplier, stride, dilation, padding, fused max-pool), %s input x %s weights -> %s output (%s).", k.In, k.W, k.Out, acc)
	case matrix.MaxPool:
		return fmt.Sprintf("Max pooling of an %s tensor.", k.In)
	case matrix.AvgPool:
		return "Average pooling of an f32 tensor (average over valid taps)."
	case matrix.Concat:
		return fmt.Sprintf("Concatenation of n %s tensors along channels.", k.In)
	case matrix.Convert:
		return fmt.Sprintf("Conversion of an %s tensor to %s.", k.In, k.Out)
	case matrix.Affine:
		x := "acc = x"
		if k.In == dtype.S8 {
			x = "acc = q - p->zp"
		}
		return fmt.Sprintf("Per-channel output stage (batch-norm) of an %s tensor (%s, %s) -> %s output.", k.In, x, acc, k.Out)
	case matrix.Softmax:
		return "Softmax of f32 rows along the last axis."
	case matrix.Relu:
		return "ReLU of an f32 tensor: max(x, 0)."
	case matrix.Tanh:
		return "tanh of an f32 tensor (libm tanhf)."
	case matrix.Sigmoid:
		return "Logistic sigmoid of an f32 tensor: 1 / (1 + expf(-x))."
	case matrix.Add:
		return "Element-wise sum of two f32 tensors."
	}
	return ""
}

func dataOf(r matrix.Row) KernelData {
	k := r.Kernel
	d := KernelData{
		Name: k.Name(), Template: templateOf(k.Op), Covers: r.Covers, Op: string(k.Op),
		In: k.In.Tag(), Out: k.Out.Tag(), IT: k.In.CType(), OT: k.Out.CType(),
		AccInt: k.AccInt(), AccT: "float", Proto: Proto(k), Doc: Doc(k), ISAs: isaSels(),
	}
	d.Paths = matrix.PathsOf(k)
	if k.W != dtype.Invalid {
		d.W, d.WT = k.W.Tag(), k.W.CType()
	}
	switch k.In {
	case dtype.S1:
		d.XT = "uint32_t"
	case dtype.S8:
		d.XT = "int32_t"
	default:
		d.XT = "float"
	}
	if d.AccInt {
		d.AccT = "int32_t"
	}
	return d
}

// isaSels returns the selection macros of gen/matrix.ISAs.
func isaSels() []ISASel {
	var out []ISASel
	for _, i := range matrix.ISAs {
		if i.Cond != "" {
			out = append(out, ISASel{Name: string(i.ISA), Macro: i.Macro(), Disable: i.Disable(), Cond: i.Cond, Cores: i.Cores})
		}
	}
	return out
}

// KernelDir and DocsPath are where Generate's files go, relative to the
// repository root; InternalHeader is the kernels' internal header there (the
// helpers several kernels share, not part of the API).
const (
	KernelDir      = "kernels_c"
	DocsPath       = "docs/kernels.md"
	InternalHeader = "dq_internal.h"
)

// Managed tells render.Write which stale generated files Generate owns.
var Managed = map[string][]string{KernelDir: {"*.c", "*.h"}}

// Generate validates rows and renders every kernel file, dq_kernels.h,
// dq_types.h, dq_internal.h and docs/kernels.md. Paths are slash-separated, relative to the
// repository root. Nothing is returned unless every template succeeded.
func Generate(rows []matrix.Row) (map[string][]byte, error) {
	if err := matrix.Validate(rows); err != nil {
		return nil, err
	}
	t, err := render.Load(templates.FS, "kernels/*.tmpl")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	var all []KernelData
	for _, r := range rows {
		d := dataOf(r)
		if d.Template == "" {
			return nil, fmt.Errorf("kernel %s: no template for op %q", d.Name, d.Op)
		}
		src, err := render.Execute(t, d.Template, d)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", d.Name, err)
		}
		files[KernelDir+"/"+d.Name+".c"] = render.FormatC(src)
		all = append(all, d)
	}
	h, err := render.Execute(t, "kernels/dq_kernels.h.tmpl", HeaderData{Template: "kernels/dq_kernels.h.tmpl", Kernels: all})
	if err != nil {
		return nil, err
	}
	files[KernelDir+"/dq_kernels.h"] = render.FormatC(h)

	structs, err := cparams.Decls()
	if err != nil {
		return nil, err
	}
	th, err := render.Execute(t, "kernels/dq_types.h.tmpl", TypesData{Template: "kernels/dq_types.h.tmpl", Enums: cparams.EnumDecls(), Structs: structs})
	if err != nil {
		return nil, err
	}
	// Tidy, not FormatC: the header's inline assembly keeps its layout.
	files[KernelDir+"/dq_types.h"] = render.Tidy(th)

	ih, err := render.Execute(t, "kernels/dq_internal.h.tmpl", InternalData{Template: "kernels/dq_internal.h.tmpl"})
	if err != nil {
		return nil, err
	}
	// FormatC, as the kernel files these helpers were rendered into before.
	files[KernelDir+"/"+InternalHeader] = render.FormatC(ih)

	docs := DocsData{Template: "kernels/kernels.md.tmpl"}
	counts := map[string]*FamilyCount{}
	var order []string
	for _, r := range rows {
		acc := "float"
		if r.AccInt() {
			acc = "int32"
		}
		w := "-"
		if r.W != dtype.Invalid {
			w = r.W.Tag()
		}
		vs := "-"
		if names := matrix.VariantsOf(r.Kernel); len(names) > 0 {
			vs = strings.Join(names, ", ")
		}
		docs.Rows = append(docs.Rows, DocRow{Name: r.Name(), Op: string(r.Op), In: r.In.Tag(), W: w, Out: r.Out.Tag(), Acc: acc, Covers: r.Covers, Variants: vs})
		fc, ok := counts[string(r.Op)]
		if !ok {
			fc = &FamilyCount{Op: string(r.Op)}
			counts[string(r.Op)] = fc
			order = append(order, string(r.Op))
		}
		fc.Kernels++
		docs.Total++
		if r.MirrorsReference() {
			fc.Mirror++
			docs.Mirrored++
		}
	}
	for _, op := range []matrix.Op{matrix.Dense, matrix.Conv2D, matrix.PWConv2D, matrix.DWConv2D} {
		for _, in := range dtype.Compute {
			docs.Grid = append(docs.Grid, GridRow{Op: string(op), In: in.Tag(),
				F32: matrixCell(rows, op, in, dtype.F32), S8: matrixCell(rows, op, in, dtype.S8), S1: matrixCell(rows, op, in, dtype.S1)})
		}
	}
	refIndex := map[string]int{}
	for _, r := range rows {
		if !r.MirrorsReference() {
			continue
		}
		i, ok := refIndex[r.Covers]
		if !ok {
			i = len(docs.Refs)
			refIndex[r.Covers] = i
			docs.Refs = append(docs.Refs, RefRow{Covers: r.Covers})
		}
		docs.Refs[i].Kernels = append(docs.Refs[i].Kernels, r.Name())
	}
	for _, op := range order {
		docs.Families = append(docs.Families, *counts[op])
	}
	if err := matrix.ValidateVariants(matrix.Variants, rows); err != nil {
		return nil, err
	}
	for _, v := range matrix.Variants {
		docs.Variants = append(docs.Variants, variantRow(v, rows))
	}
	docs.Rules = ruleRows()
	md, err := render.Execute(t, "kernels/kernels.md.tmpl", docs)
	if err != nil {
		return nil, err
	}
	files[DocsPath] = render.Tidy(md)
	return files, nil
}

// variantRow renders v for the docs: its kernels as "ops, types" unless the
// variant states a narrower scope, its sources as paths.
func variantRow(v matrix.Variant, rows []matrix.Row) VariantRow {
	isa, _ := matrix.ISAOf(v.ISA)
	var ops, pairs, srcs []string
	for _, op := range v.Ops {
		ops = append(ops, string(op))
	}
	for _, p := range v.Pairs {
		pairs = append(pairs, p.String())
	}
	for _, s := range v.Sources {
		if !strings.Contains(s, "/") {
			s = "templates/kernels/" + s
		}
		srcs = append(srcs, "`"+s+"`")
	}
	kernels := strings.Join(pairs, ", ") + ": " + strings.Join(ops, ", ")
	if v.Scope != "" {
		kernels = strings.Join(pairs, ", ") + ": " + v.Scope
	}
	return VariantRow{Name: v.Name, ISA: string(v.ISA), Macros: isa.Macros, Cores: isa.Cores, Kernels: kernels,
		Technique: v.Technique, Sources: strings.Join(srcs, ", "), Count: len(v.Kernels(rows)), Asm: v.Asm}
}

// ruleRows lists the selection rules of gen/matrix.Variants grouped by
// site, in dispatch order: the kernels they apply to (ops, type pairs,
// output), the preprocessor condition and the shape test as generated.
func ruleRows() []RuleRow {
	var out []RuleRow
	for _, site := range matrix.Sites {
		for _, v := range matrix.Variants {
			for _, r := range v.Rules {
				if r.Site != site {
					continue
				}
				ops := r.Ops
				if ops == nil {
					ops = v.Ops
				}
				k := opsPairs(ops, v.Pairs)
				outs := r.Outs
				if outs == nil && v.Out != dtype.Invalid {
					outs = []dtype.DType{v.Out}
				}
				if outs != nil {
					var ts []string
					for _, o := range outs {
						ts = append(ts, o.Tag())
					}
					k += " -> " + strings.Join(ts, ", ")
				}
				shape := "every shape"
				if r.Shape != "" {
					shape = "`" + cell(strings.ReplaceAll(r.Shape, "$k", "<kernel>")) + "`"
				}
				cond := "always"
				if c := r.Cond(v); c != "" {
					cond = "`" + cell(c) + "`"
				}
				out = append(out, RuleRow{Variant: v.Name, Kernels: k, Site: string(site), Cond: cond, Shape: shape, Words: cell(r.Words)})
			}
		}
	}
	for _, v := range matrix.Variants {
		if in, ok := matrix.Nested[v.Name]; ok {
			words := v.Scope
			if words == "" {
				words = "cores without an FPU (M0, M0+, M3: `DQ_SMALL_STACK`)"
			}
			out = append(out, RuleRow{Variant: v.Name, Kernels: opsPairs(v.Ops, v.Pairs), Site: "inside `" + in + "`",
				Cond: "in the body", Shape: "in the body", Words: cell(words)})
		}
	}
	return out
}

// opsPairs renders ops and type pairs as "conv2d, pwconv2d, s8 x s8".
func opsPairs(ops []matrix.Op, pairs []matrix.Pair) string {
	var out []string
	for _, op := range ops {
		out = append(out, string(op))
	}
	for _, p := range pairs {
		out = append(out, p.String())
	}
	return strings.Join(out, ", ")
}

// cell escapes the column separator of a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// Paths returns the sorted keys of files.
func Paths(files map[string][]byte) []string {
	ps := make([]string, 0, len(files))
	for p := range files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// matrixCell renders one cell of the op x types overview: the output types
// for a given op and input x weights pair.
func matrixCell(rows []matrix.Row, op matrix.Op, in, w dtype.DType) string {
	var outs []string
	for _, r := range rows {
		if r.Op == op && r.In == in && r.W == w {
			s := r.Out.Tag()
			if r.MirrorsReference() {
				s += "*"
			}
			outs = append(outs, s)
		}
	}
	return strings.Join(outs, " ")
}
