// Package compiler turns an imported model (ir.Graph) into a standalone C
// library: it runs the lowering passes (package passes), plans memory,
// renders the C files (package emit) and reports sizes and operation counts
// in the format of the X-CUBE-AI analyze command.
//
// Compile is a pure function of the graph and the options: it returns file
// contents; writing them is the caller's business (cmd/dqnn generate).
package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
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
	// SourceSHA256 is the hex sha256 of the model file(s) for the provenance
	// lines; "" = computed from g.Source when those files are readable.
	SourceSHA256 string
	// Matrix overrides the kernel matrix (nil = gen/matrix).
	Matrix passes.Matrix
}

// Result is a compiled model.
type Result struct {
	Files  map[string][]byte // file name -> content
	Report *Report
	Graph  *ir.Graph    // the lowered graph
	Plan   *passes.Plan // its memory plan
}

// Compile lowers g (which it does not modify) and renders its C library.
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
	sum := opt.SourceSHA256
	if sum == "" {
		sum = hashSources(orig.Source)
	}
	out, err := emit.Render(g, st.Plan, emit.Options{Name: opt.Name, Target: opt.Target, QuantizedIO: opt.QuantizedIO, Amalgamate: opt.Amalgamate,
		Source: displaySource(orig), SHA256: sum})
	if err != nil {
		return nil, err
	}
	rep := buildReport(orig, g, st, mids)
	rep.WeightsROBytes = out.DataBytes
	for i := range rep.Layers {
		rep.Layers[i].WeightsBytes = out.NodeDataBytes[rep.Layers[i].node]
	}
	return &Result{Files: out.Files, Report: rep, Graph: g, Plan: st.Plan}, nil
}

// CName makes s a C identifier (lower case, [a-z0-9_], not starting with a digit).
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
	if n == "" || (n[0] >= '0' && n[0] <= '9') {
		n = "model_" + n
	}
	return n
}

// displaySource is the model's file name(s) without directories: generated
// files must not depend on where the model was.
func displaySource(g *ir.Graph) string { return g.SourceName() }

func hashSources(src string) string {
	if src == "" {
		return "unknown"
	}
	h := sha256.New()
	for _, p := range strings.Split(src, ",") {
		b, err := os.ReadFile(strings.TrimSpace(p))
		if err != nil {
			return "unknown"
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

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
	out := &ir.Graph{Name: g.Name, Source: g.Source}
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
