// Package emit renders a lowered, planned IR graph as a standalone C library
// for one model: NAME.h (API, sizes, shapes), NAME.c (static arena, the
// kernel calls in order with their const parameter structs), NAME_data.c
// (weights packed per kernel layout, thresholds, multipliers), plus
// dq_types.h, dq_kernels.h, exactly the kernel sources the model uses and,
// when they include it, the kernels' internal header dq_internal.h. With
// Amalgamate it renders only NAME.h and NAME.c, everything inlined.
//
// Rendering is a pure function returning file contents (deterministic bytes);
// writing them is the caller's business.
//
// Names from the model (layers, tensors, files) reach the C only as comment
// text or string literals, through the escaping functions of internal/cstr
// (in the templates: ccomment, cstring); every C identifier is derived from
// Options.Name and a layer index and checked with cstr.IsIdent.
//
// Files by concern: emit.go (Render), api.go (the templates' data and the
// name rules), arena.go (where tensors live), call.go (the call statements),
// params.go (parameter structs, as gen/cparams values), stage.go (output
// stages), weights.go (packing), arrays.go (const data) and amalgamate.go.
package emit

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/dqnn/dqnn/gen/render"
	"github.com/dqnn/dqnn/internal/cstr"
	"github.com/dqnn/dqnn/ir"
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
	if err := addInternal(files); err != nil {
		return nil, err
	}
	return e.output(files), nil
}

// addInternal adds the kernels' internal header, dq_internal.h, to files when
// one of the kernel sources there includes it (the dense and convolution
// kernels do): a library ships only what its kernels compile.
func addInternal(files map[string][]byte) error {
	for f, b := range files {
		if strings.HasSuffix(f, ".c") && reInternal.Match(b) {
			h, err := fs.ReadFile(kernelsc.FS, kernelsc.InternalHeader)
			if err != nil {
				return fmt.Errorf("emit: kernel library has no %s: %w", kernelsc.InternalHeader, err)
			}
			files[kernelsc.InternalHeader] = h
			return nil
		}
	}
	return nil
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
