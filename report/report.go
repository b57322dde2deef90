// Package report renders `dqnn report`: one self-contained HTML page (inline
// CSS and SVG, no script, no network) that shows a compiled model as a graph
// of C-layers, its per-layer cost, its memory plan and, when given, its
// agreement with the reference interpreter. The page is a pure function of
// its inputs: the same model and measurements give the same bytes.
package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/dqnn/dqnn/bench"
	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/textfmt"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/passes"
	"github.com/dqnn/dqnn/validate"
)

//go:embed page.html.tmpl
var pageFS embed.FS

var pageTmpl = template.Must(template.New("page.html.tmpl").Option("missingkey=error").Funcs(template.FuncMap{
	"group": groupAny,
}).ParseFS(pageFS, "page.html.tmpl"))

// groupAny is textfmt.Group for the integer types the page holds.
func groupAny(n any) (string, error) {
	switch v := n.(type) {
	case int:
		return textfmt.Group(v), nil
	case int64:
		return textfmt.Group(v), nil
	case uint64:
		return textfmt.Group(v), nil
	}
	return "", fmt.Errorf("group: %T is not an integer", n)
}

// Inputs are what a report shows: the compiled model, and optionally its
// instruction counts (dqnn bench) and its validation (dqnn validate).
type Inputs struct {
	Result   *compiler.Result
	Bench    *bench.ModelReport // nil: no per-layer instructions
	Validate *validate.Report   // nil: no agreement section
	// Commands reproduce each section; shown verbatim.
	Commands Commands
}

// Commands are the command lines that reproduce the report's sections.
type Commands struct {
	Report, Analyze, Bench, Validate string
}

// Render writes the page for in to w.
func Render(w io.Writer, in Inputs) error {
	if in.Result == nil || in.Result.Report == nil || in.Result.Graph == nil || in.Result.Plan == nil {
		return fmt.Errorf("report: no compiled model")
	}
	p, err := build(in)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, p); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// page is the template's data.
type page struct {
	Model     string
	Summary   []figure
	Findings  []string // plain sentences: the costliest layer, fallbacks, agreement
	Graph     graph
	Bars      []bars
	Memory    memory
	Layers    []layer
	Agreement *validate.Report
	Fallbacks []compiler.Fallback
	Inexact   []compiler.Fallback
	Commands  Commands
	// AnalyzeJSON and BenchJSON are the reports as --json prints their
	// fields, embedded for tools and for the tests that check the page's
	// numbers against the commands'.
	AnalyzeJSON, BenchJSON template.JS
	Bench                  bool // instructions were measured
}

type figure struct{ Label, Value, Detail string }

// layer is one C-layer with everything the page says about it.
type layer struct {
	compiler.Layer
	Class        string // s1, s8, f32 or conv (a data-type conversion): the colour
	Fallback     string // hint when the layer fell back to another kernel
	Inexact      string // why the lowering is not bit-exact
	InShapes     string
	OutShapes    string
	Instructions uint64
	HasBench     bool
	Line3        string // the box's third line: the fallback, else the fused layers (shortened)
}

func build(in Inputs) (*page, error) {
	r := in.Result.Report
	p := &page{Model: r.Model, Agreement: in.Validate, Fallbacks: r.Fallbacks, Inexact: r.Inexact, Commands: in.Commands}
	aj, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	p.AnalyzeJSON = template.JS(aj) // json.Marshal escapes <, > and &: safe inside <script>
	if in.Bench != nil {
		bj, err := json.Marshal(in.Bench)
		if err != nil {
			return nil, err
		}
		p.BenchJSON = template.JS(bj)
		p.Bench = true
	}

	fallback := map[string]string{}
	for _, f := range r.Fallbacks {
		fallback[f.Layer] = f.Reason + " — " + f.Hint
	}
	inexact := map[string]string{}
	for _, f := range r.Inexact {
		inexact[f.Layer] = f.Reason
	}
	instr := map[int]uint64{}
	if in.Bench != nil {
		for _, l := range in.Bench.Layers {
			instr[l.CID] += l.Instructions
		}
	}
	g := in.Result.Graph
	for _, l := range r.Layers {
		n := g.Nodes[nodeOf(g, l.CID)]
		row := layer{Layer: l, Class: class(l), Fallback: fallback[l.Name], Inexact: inexact[l.Name],
			InShapes: shapes(n.Inputs), OutShapes: shapes(n.Outputs), Instructions: instr[l.CID], HasBench: in.Bench != nil}
		row.Line3 = "fused: " + strings.Join(l.Fused, ", ")
		if row.Fallback != "" {
			row.Line3 = "⚠ fallback: " + row.Fallback
		}
		row.Line3 = shorten(row.Line3, 100)
		p.Layers = append(p.Layers, row)
	}

	p.Summary = summary(r, in.Bench, in.Validate)
	p.Findings = findings(p.Layers, r, in.Bench, in.Validate)
	p.Graph = layoutGraph(g, p.Layers)
	p.Bars = barCharts(p.Layers, in.Bench)
	p.Memory = layoutMemory(g, in.Result.Plan, r)
	if in.Bench != nil {
		p.Memory.StackPeak = in.Bench.Memory.StackPeakBytes
	}
	return p, nil
}

// nodeOf returns the index in g.Nodes of C-layer cid (the cid-th kernel call).
func nodeOf(g *ir.Graph, cid int) int {
	k := 0
	for i, n := range g.Nodes {
		if n.Op == ir.OpKernel {
			if k == cid {
				return i
			}
			k++
		}
	}
	return 0
}

// class is the colour class of a layer: the type its arithmetic runs in (the
// weights' type, else the input's), or "conv" for a conversion between types.
func class(l compiler.Layer) string {
	switch {
	case l.Weights != "":
		return l.Weights
	case l.In != l.Out:
		return "conv"
	default:
		return l.In
	}
}

func shapes(ts []*ir.Tensor) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = fmt.Sprintf("%v %s", t.Shape, t.Quant.DType.Tag())
	}
	return strings.Join(s, ", ")
}

func summary(r *compiler.Report, b *bench.ModelReport, v *validate.Report) []figure {
	f := []figure{
		{"params", textfmt.Group(r.Params), "reference convention: 2 per batch-norm channel"},
		{"MACs", textfmt.Group(r.MACC), "multiply-accumulates per inference"},
		{"weights (ro)", textfmt.Group(r.WeightsROBytes) + " B", fmt.Sprintf("%.1f× smaller than float32 (%s B)", float64(r.FloatModelBytes)/float64(max(1, r.WeightsROBytes)), textfmt.Group(r.FloatModelBytes))},
		{"activations (rw)", textfmt.Group(r.ActivationsRWBytes) + " B", "the arena; inputs and outputs are the caller's"},
		{"ram (total)", textfmt.Group(r.RAMTotalBytes) + " B", fmt.Sprintf("arena %s + input %s + output %s", textfmt.Group(r.ActivationsRWBytes), textfmt.Group(r.InputBytes), textfmt.Group(r.OutputBytes))},
		{"fallbacks", fmt.Sprint(len(r.Fallbacks)), "layers not on the kernel their types ask for"},
	}
	if b != nil {
		f = append(f, figure{"instructions", textfmt.Group(b.Total), "one inference on " + b.Target + " (QEMU; a proxy for cycles)"},
			figure{"flash", textfmt.Group(b.Memory.CodeBytes+b.Memory.ConstBytes) + " B", fmt.Sprintf("code %s + constants %s", textfmt.Group(b.Memory.CodeBytes), textfmt.Group(b.Memory.ConstBytes))})
	}
	if v != nil {
		verdict := "FAIL"
		if v.Pass {
			verdict = "PASS"
		}
		f = append(f, figure{"validation", verdict, fmt.Sprintf("%d samples on %s against the reference interpreter", v.Samples, v.Target)})
	}
	return f
}

func findings(ls []layer, r *compiler.Report, b *bench.ModelReport, v *validate.Report) []string {
	var out []string
	if len(ls) > 0 {
		top, what, total := 0, "MACs", float64(r.MACC)
		cost := func(l layer) float64 { return float64(l.Ops) }
		if b != nil {
			what, total = "instructions on "+b.Target, float64(b.TracedTotal)
			cost = func(l layer) float64 { return float64(l.Instructions) }
		}
		for i, l := range ls {
			if cost(l) > cost(ls[top]) {
				top = i
			}
		}
		share := 0.0
		if total > 0 {
			share = 100 * cost(ls[top]) / total
		}
		out = append(out, fmt.Sprintf("The costliest layer is c_id %d, %s (%s, %s): %.0f %% of the %s.", ls[top].CID, ls[top].Name, ls[top].Type, ls[top].Kernel, share, what))
	}
	switch len(r.Fallbacks) {
	case 0:
		out = append(out, "Nothing fell back to f32: every layer runs on the kernel its data types ask for.")
	default:
		names := make([]string, len(r.Fallbacks))
		for i, f := range r.Fallbacks {
			names[i] = f.Layer
		}
		out = append(out, fmt.Sprintf("%d layer(s) fell back to another kernel: %s (red in the graph; hints below).", len(r.Fallbacks), strings.Join(names, ", ")))
	}
	if len(r.Inexact) > 0 {
		out = append(out, fmt.Sprintf("%d layer(s) are lowered inexactly (dashed in the graph; reasons below).", len(r.Inexact)))
	}
	if v != nil {
		if v.Pass {
			out = append(out, fmt.Sprintf("The C library agrees with the reference interpreter on %d samples (%s).", v.Samples, v.Target))
		} else {
			out = append(out, fmt.Sprintf("The C library does NOT agree with the reference interpreter (%s); first diverging tensor: %q.", v.Target, v.FirstDiverging))
		}
	}
	return out
}

// graph is the model drawn top to bottom: an inputs box, one box per
// C-layer, an outputs box, and the edges between them.
type graph struct {
	Width, Height int
	Boxes         []box
	Edges         []edge
}

type box struct {
	X, Y, W, H int
	Layer      *layer // nil for the inputs and outputs boxes
	Label      string // inputs/outputs boxes
	Title      string // hover text
}

type edge struct{ Path string }

const (
	boxW, boxH, gapY = 640, 58, 30
	graphX, graphY   = 20, 10
	laneW            = 12
)

func layoutGraph(g *ir.Graph, ls []layer) graph {
	clayers := ir.CLayers(g)
	row := map[int]int{} // c_id -> row; row 0 is the inputs box
	for i, l := range ls {
		row[l.CID] = i + 1
	}
	outRow := len(ls) + 1
	y := func(r int) int { return graphY + r*(boxH+gapY) }
	gr := graph{}
	names := func(ts []*ir.Tensor) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = fmt.Sprintf("%s %v %s", t.Name, t.Shape, t.Quant.DType.Tag())
		}
		return strings.Join(s, "; ")
	}
	gr.Boxes = append(gr.Boxes, box{X: graphX, Y: y(0), W: boxW, H: boxH / 2, Label: "input: " + names(g.Inputs), Title: "model inputs (the caller's buffers)"})
	for i := range ls {
		l := &ls[i]
		gr.Boxes = append(gr.Boxes, box{X: graphX, Y: y(i + 1), W: boxW, H: boxH, Layer: l, Title: layerTitle(l)})
	}
	gr.Boxes = append(gr.Boxes, box{X: graphX, Y: y(outRow), W: boxW, H: boxH / 2, Label: "output: " + names(g.Outputs), Title: "model outputs (the caller's buffers)"})

	// Edges: producer row -> consumer row, deduplicated; adjacent rows get a
	// straight arrow, others a route on the right in their own lane.
	type pair struct{ from, to int }
	seen := map[pair]bool{}
	var pairs []pair
	add := func(from, to int) {
		if p := (pair{from, to}); from < to && !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	rowOf := func(t *ir.Tensor) int {
		if l, ok := clayers[t.Name]; ok && l.CID >= 0 {
			return row[l.CID]
		}
		return 0 // a model input (or a view of one)
	}
	k := 0
	for _, n := range g.Nodes {
		if n.Op != ir.OpKernel {
			continue
		}
		for _, t := range n.Inputs {
			add(rowOf(t), row[k])
		}
		k++
	}
	for _, t := range g.Outputs {
		add(rowOf(t), outRow)
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].to-pairs[i].from != pairs[j].to-pairs[j].from {
			return pairs[i].to-pairs[i].from < pairs[j].to-pairs[j].from
		}
		return pairs[i].from < pairs[j].from
	})
	bottom := func(r int) int {
		if r == 0 {
			return y(0) + boxH/2
		}
		return y(r) + boxH
	}
	lanes := 0
	cx := graphX + boxW/2
	for _, p := range pairs {
		if p.to == p.from+1 {
			gr.Edges = append(gr.Edges, edge{fmt.Sprintf("M%d %d V%d", cx, bottom(p.from), y(p.to)-2)})
			continue
		}
		lanes++
		x := graphX + boxW + lanes*laneW
		y0 := (y(p.from) + bottom(p.from)) / 2
		y1 := y(p.to) + (bottom(p.to)-y(p.to))/2
		if p.to == outRow {
			y1 = y(p.to) + boxH/4
		}
		gr.Edges = append(gr.Edges, edge{fmt.Sprintf("M%d %d H%d V%d H%d", graphX+boxW, y0, x, y1, graphX+boxW+2)})
	}
	gr.Width = graphX + boxW + (lanes+2)*laneW
	gr.Height = y(outRow) + boxH/2 + graphY
	return gr
}

func layerTitle(l *layer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "c_id %d: %s (%s)\nkernel %s\ninput %s\noutput %s\nMACs %s, weights %s B", l.CID, l.Name, l.Type, l.Kernel, l.InShapes, l.OutShapes, textfmt.Group(l.Ops), textfmt.Group(l.WeightsBytes))
	if l.HasBench {
		fmt.Fprintf(&b, ", instructions %s", textfmt.Group(l.Instructions))
	}
	if len(l.Fused) > 0 {
		fmt.Fprintf(&b, "\nfused Keras layers: %s", strings.Join(l.Fused, ", "))
	}
	if l.Fallback != "" {
		fmt.Fprintf(&b, "\nFALLBACK: %s", l.Fallback)
	}
	if l.Inexact != "" {
		fmt.Fprintf(&b, "\ninexact: %s", l.Inexact)
	}
	return b.String()
}

// bars is one per-layer bar chart.
type bars struct {
	Title, Unit string
	Height      int
	Rows        []bar
}

type bar struct {
	Y, W         int
	Label        string
	Value        string
	Share        string
	Layer        *layer
	LabelX, BarX int
}

const barRowH, barMaxW, barLabelW = 22, 360, 260

func barCharts(ls []layer, b *bench.ModelReport) []bars {
	chart := func(title, unit string, v func(l layer) int64) bars {
		var total, top int64
		for _, l := range ls {
			total += v(l)
			top = max(top, v(l))
		}
		c := bars{Title: title, Unit: unit, Height: len(ls)*barRowH + 8}
		for i := range ls {
			x := v(ls[i])
			w := 0
			if top > 0 {
				w = int(float64(barMaxW) * float64(x) / float64(top))
			}
			share := "–"
			if total > 0 {
				share = fmt.Sprintf("%.1f %%", 100*float64(x)/float64(total))
			}
			c.Rows = append(c.Rows, bar{Y: 4 + i*barRowH, W: max(w, 1), Label: fmt.Sprintf("%d %s", ls[i].CID, ls[i].Name),
				Value: textfmt.Group(x), Share: share, Layer: &ls[i], LabelX: barLabelW - 6, BarX: barLabelW})
		}
		return c
	}
	out := []bars{
		chart("MACs", "", func(l layer) int64 { return l.Ops }),
		chart("Weights (ro)", " B", func(l layer) int64 { return int64(l.WeightsBytes) }),
	}
	if b != nil {
		out = append(out, chart("Executed instructions on "+b.Target, "", func(l layer) int64 { return int64(l.Instructions) }))
	}
	return out
}

// memory is the arena plan: one rectangle per planned tensor, placed at its
// arena offset over the nodes during which it is live.
type memory struct {
	Width, Height int
	Arena         int
	Rects         []rect
	PeakX, PeakW  int
	PeakBytes     int
	PeakAt        string
	AxisY         int
	Ticks         []tick
	Input, Output int
	Stack         int // bytes NAME_run needs on StackTarget (analyze --target); 0 = not counted
	StackTarget   string
	StackPeak     uint64 // painted under QEMU (bench); 0 = not measured
	StackH        int
	StackY        int
	OutsideX      int
	InH, OutH     int
	InY, OutY     int
}

type rect struct {
	X, Y, W, H int
	Title      string
	Hue        int
}

type tick struct {
	X     int
	Label string
}

const memX, memTop, memH, memW = 60, 10, 300, 620

func layoutMemory(g *ir.Graph, p *passes.Plan, r *compiler.Report) memory {
	m := memory{Arena: p.ArenaSize, Input: r.InputBytes, Output: r.OutputBytes, Stack: r.StackBytes, StackTarget: r.StackTarget}
	nodes := max(1, len(g.Nodes))
	cw := memW / nodes
	m.Width = memX + nodes*cw + 200
	m.Height = memTop + memH + 40
	m.AxisY = memTop + memH
	scale := func(b int) int {
		if p.ArenaSize == 0 {
			return 0
		}
		return b * memH / p.ArenaSize
	}
	// Roots in a stable order: by offset, then first use.
	var roots []*ir.Tensor
	for t := range p.Live {
		roots = append(roots, t)
	}
	sort.Slice(roots, func(i, j int) bool {
		a, b := p.Buffers[roots[i]], p.Buffers[roots[j]]
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		if p.Live[roots[i]][0] != p.Live[roots[j]][0] {
			return p.Live[roots[i]][0] < p.Live[roots[j]][0]
		}
		return roots[i].Name < roots[j].Name
	})
	live := make([]int, nodes)
	for i, t := range roots {
		b, lv := p.Buffers[t], p.Live[t]
		m.Rects = append(m.Rects, rect{X: memX + lv[0]*cw, Y: memTop + scale(b.Offset), W: (lv[1] - lv[0] + 1) * cw, H: max(2, scale(b.Size)),
			Title: fmt.Sprintf("%s: %s B at offset %s, live from node %d to %d", t.Name, textfmt.Group(b.Size), textfmt.Group(b.Offset), lv[0], lv[1]),
			Hue:   (i * 67) % 360})
		for n := lv[0]; n <= lv[1] && n < nodes; n++ {
			live[n] += b.Size
		}
	}
	peak := 0
	for n, b := range live {
		if b > live[peak] {
			peak = n
		}
	}
	m.PeakBytes, m.PeakX, m.PeakW = live[peak], memX+peak*cw, cw
	m.PeakAt = g.Nodes[min(peak, len(g.Nodes)-1)].Name
	cl := ir.CLayers(g)
	for i, n := range g.Nodes {
		if n.Op != ir.OpKernel || len(n.Outputs) == 0 {
			continue
		}
		m.Ticks = append(m.Ticks, tick{X: memX + i*cw + cw/2, Label: fmt.Sprint(cl[n.Outputs[0].Name].CID)})
	}
	m.OutsideX = memX + nodes*cw + 40
	total := max(1, r.InputBytes+r.OutputBytes+p.ArenaSize+r.StackBytes)
	m.InH = max(2, r.InputBytes*memH/total)
	m.OutH = max(2, r.OutputBytes*memH/total)
	m.StackH = max(2, r.StackBytes*memH/total)
	m.InY = memTop
	m.OutY = memTop + m.InH + 6
	m.StackY = m.OutY + m.OutH + 6
	return m
}

// shorten cuts s to at most n runes, marking the cut with an ellipsis (the
// full text is in the box's hover title and the layers table).
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
