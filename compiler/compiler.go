// Package compiler turns an imported model (ir.Graph) into a standalone C
// library: it runs the lowering passes (package passes), plans memory,
// renders the C files (package emit) and reports sizes and operation counts
// in the format of the X-CUBE-AI analyze command.
//
// Compile is a pure function of the graph and the options: it returns file
// contents; writing them is the caller's business (cmd/dqnn generate).
package compiler

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dqnn/dqnn/emit"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/passes"
)

// Targets are the accepted --target values. Kernels are portable C99; the
// target is recorded in the generated files' provenance.
var Targets = []string{"cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "host"}

// Options configure a compilation.
type Options struct {
	Name        string // C prefix and file stem; "" = the graph's name made a C identifier
	Target      string // one of Targets; "" = cortex-m4
	QuantizedIO bool   // NAME_run takes/returns the quantized types of the model's inputs/outputs
	Amalgamate  bool   // exactly NAME.h and NAME.c
	// Matrix overrides the kernel matrix (nil = gen/matrix).
	Matrix passes.Matrix
}

// Result is a compiled model.
type Result struct {
	Name   string            // the C prefix and file stem used
	Files  map[string][]byte // file name -> content; nil for a shapes-only graph
	Report *Report
	Graph  *ir.Graph    // the lowered graph
	Plan   *passes.Plan // its memory plan
}

// Compile lowers g (which it does not modify) and renders its C library.
// A shapes-only graph (an architecture without weights, see
// ir.Graph.ShapesOnly) is lowered and planned the same way but not
// rendered: its Result has the report (the pre-analyze) and no files.
func Compile(g *ir.Graph, opt Options) (*Result, error) {
	if g == nil {
		return nil, fmt.Errorf("compiler: nil graph")
	}
	if opt.Target == "" {
		opt.Target = "cortex-m4"
	}
	okTarget := false
	for _, t := range Targets {
		okTarget = okTarget || t == opt.Target
	}
	if !okTarget {
		return nil, fmt.Errorf("compiler: unknown target %q (want one of %s)", opt.Target, strings.Join(Targets, ", "))
	}
	if opt.Name == "" {
		opt.Name = CName(g.Name)
	}
	if opt.Matrix == nil {
		opt.Matrix = Table{}
	}
	orig := g
	g = Clone(g)
	mids := map[string]int{}
	for i, n := range orig.Nodes {
		mids[n.Name] = i
	}
	st := passes.NewState(g, opt.Matrix, passes.Options{QuantizedIO: opt.QuantizedIO})
	if err := passes.Run(st); err != nil {
		return nil, fmt.Errorf("model %s: %w", displaySource(orig), err)
	}
	if g.ShapesOnly {
		rom, err := constBytes(g)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", displaySource(orig), err)
		}
		rep := buildReport(orig, g, st, mids)
		rep.WeightsROBytes = rom.est
		rep.WeightsRORange = &ByteRange{Min: rom.lo, Max: rom.hi}
		for i := range rep.Layers {
			rep.Layers[i].WeightsBytes = rom.node[rep.Layers[i].node]
		}
		return &Result{Name: opt.Name, Report: rep, Graph: g, Plan: st.Plan}, nil
	}
	// The provenance names every file the importer read, with the hash of
	// the bytes it read (never re-read here: the files may have changed).
	var srcs []emit.Source
	for _, f := range orig.Files {
		srcs = append(srcs, emit.Source{Name: filepath.Base(f.Path), SHA256: f.SHA256})
	}
	out, err := emit.Render(g, st.Plan, emit.Options{Name: opt.Name, Target: opt.Target, QuantizedIO: opt.QuantizedIO, Amalgamate: opt.Amalgamate,
		Source: displaySource(orig), Sources: srcs})
	if err != nil {
		return nil, err
	}
	rep := buildReport(orig, g, st, mids)
	rep.WeightsROBytes = out.DataBytes
	for i := range rep.Layers {
		rep.Layers[i].WeightsBytes = out.NodeDataBytes[rep.Layers[i].node]
	}
	return &Result{Name: opt.Name, Files: out.Files, Report: rep, Graph: g, Plan: st.Plan}, nil
}

// CName makes s a model name that emit.CheckName accepts: lower case
// [a-z0-9_], starting with a letter, "model_" in front of a name that
// would not (or that is in dqnn's runtime namespace), at most emit.MaxName
// characters. It is the default of --name; an explicit --name is checked,
// never changed.
func CName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	n := b.String()
	if n == "" || n[0] < 'a' || n[0] > 'z' || emit.CheckName(n[:min(len(n), emit.MaxName)]) != nil {
		n = "model_" + n
	}
	if len(n) > emit.MaxName {
		n = strings.TrimRight(n[:emit.MaxName], "_")
	}
	return n
}

// displaySource is the model's file name(s) without directories: generated
// files must not depend on where the model was.
func displaySource(g *ir.Graph) string { return g.SourceName() }

// Clone copies g deeply enough for the passes to rewrite it: tensors, nodes
// and attribute structs are copied; weight data is shared (never written).
func Clone(g *ir.Graph) *ir.Graph {
	tm := map[*ir.Tensor]*ir.Tensor{}
	ct := func(t *ir.Tensor) *ir.Tensor {
		if t == nil {
			return nil
		}
		if c, ok := tm[t]; ok {
			return c
		}
		c := *t
		c.Shape = append([]int(nil), t.Shape...)
		tm[t] = &c
		return &c
	}
	out := &ir.Graph{Name: g.Name, Source: g.Source, Files: g.Files, ShapesOnly: g.ShapesOnly}
	for _, t := range g.Inputs {
		out.Inputs = append(out.Inputs, ct(t))
	}
	for _, n := range g.Nodes {
		c := *n
		c.Inputs, c.Outputs = nil, nil
		for _, t := range n.Inputs {
			c.Inputs = append(c.Inputs, ct(t))
		}
		for _, t := range n.Outputs {
			c.Outputs = append(c.Outputs, ct(t))
		}
		switch a := n.Attrs.(type) {
		case *ir.DenseAttrs:
			cp := *a
			c.Attrs = &cp
		case *ir.ConvAttrs:
			cp := *a
			c.Attrs = &cp
		case *ir.BatchNormAttrs:
			cp := *a
			c.Attrs = &cp
		case *ir.PoolAttrs:
			cp := *a
			c.Attrs = &cp
		case *ir.QuantizeAttrs:
			cp := *a
			c.Attrs = &cp
		case *ir.ActivationAttrs:
			cp := *a
			c.Attrs = &cp
		case *ir.ConcatAttrs:
			cp := *a
			c.Attrs = &cp
		}
		out.Nodes = append(out.Nodes, &c)
	}
	for _, t := range g.Outputs {
		out.Outputs = append(out.Outputs, ct(t))
	}
	return out
}
