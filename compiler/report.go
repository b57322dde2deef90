package compiler

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dqnn/dqnn/internal/textfmt"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes"
)

// Report is what `dqnn analyze` prints: the figures of §7 of the X-CUBE-AI
// DQNN reference, counted by the rules in docs/analyze.md.
type Report struct {
	Model string `json:"model"`
	// WeightsAbsent marks a pre-analyze: the model was an architecture
	// without weights, so the figures come from shapes and quantizers and
	// nothing was compiled to C or validated.
	WeightsAbsent  bool  `json:"weights_absent"`
	Params         int64 `json:"params"`
	MACC           int64 `json:"macc"`
	WeightsROBytes int   `json:"weights_ro_bytes"`
	// WeightsRORange (pre-analyze only) bounds weights (ro) over weight
	// values: arrays that trivial values leave out (multipliers all 1,
	// offsets all 0) or that negative batch-norm gammas add (flip masks).
	WeightsRORange     *ByteRange `json:"weights_ro_bytes_range,omitempty"`
	FloatModelBytes    int64      `json:"float_model_bytes"`
	ActivationsRWBytes int        `json:"activations_rw_bytes"`
	InputBytes         int        `json:"input_bytes"`
	OutputBytes        int        `json:"output_bytes"`
	RAMTotalBytes      int        `json:"ram_total_bytes"`
	// StackBytes is the stack NAME_run needs on StackTarget (analyze
	// --target; AddStack in stack.go), included in RAMTotalBytes; 0 and
	// not counted without a Cortex-M target.
	StackBytes  int              `json:"stack_bytes"`
	StackTarget string           `json:"stack_target,omitempty"`
	StackPath   []string         `json:"stack_path,omitempty"` // the deepest call chain
	Layers      []Layer          `json:"layers"`
	OpTypes     map[string]int64 `json:"op_types"`
	Fallbacks   []Fallback       `json:"fallbacks"`
	Inexact     []Fallback       `json:"inexact"`
	// DependsOnWeights lists, in a pre-analyze, the decisions taken under
	// an assumption about weight values, with what real weights may change
	// (empty with weights: nothing is assumed).
	DependsOnWeights []Fallback `json:"depends_on_weights"`
	// Unsupported lists, in a pre-analyze, the layers dqnn cannot compile
	// (Wanted: their class); the figures leave them out.
	Unsupported   []Fallback `json:"unsupported"`
	ImporterNotes []string   `json:"importer_notes,omitempty"`
}

// ByteRange is an interval of byte counts.
type ByteRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Layer is one generated C-layer (kernel call).
type Layer struct {
	CID    int      `json:"c_id"`
	MID    int      `json:"m_id"` // index of the Keras layer it comes from
	Name   string   `json:"name"`
	Type   string   `json:"type"` // kernel family
	Ops    int64    `json:"ops"`
	OpType string   `json:"op_type"` // sxor_s1_s1, smul_f32_s1, conv_f32_s1, op_s1_s1, ...
	Kernel string   `json:"kernel"`
	Fused  []string `json:"fused,omitempty"`
	// In, Weights and Out are the kernel's data types (Weights "" when it
	// has none).
	In      string `json:"in"`
	Weights string `json:"weights,omitempty"`
	Out     string `json:"out"`
	// WeightsBytes is this layer's share of weights (ro): its packed
	// weights and output-stage constants.
	WeightsBytes int `json:"weights_ro_bytes"`
	// Outputs name the tensors the layer writes, as dqnn bench and
	// dqnn validate --per-layer name their rows.
	Outputs []string `json:"outputs"`
	node    int      // index in the lowered graph
}

// Fallback is a layer that does not run on the kernel it asked for (or is
// not bit-exact), with why and what to change.
type Fallback struct {
	Layer  string `json:"layer"`
	Wanted string `json:"wanted,omitempty"`
	Used   string `json:"used,omitempty"`
	Reason string `json:"reason"`
	Hint   string `json:"hint"`
}

func buildReport(orig, g *ir.Graph, st *passes.State, mids map[string]int) *Report {
	r := &Report{Model: displaySource(orig), OpTypes: map[string]int64{}, Fallbacks: []Fallback{}, Inexact: []Fallback{}, DependsOnWeights: []Fallback{}, Unsupported: []Fallback{}, WeightsAbsent: orig.ShapesOnly}
	r.Params = countParams(orig)
	r.ImporterNotes = orig.Notes
	r.FloatModelBytes = 4 * r.Params
	r.ActivationsRWBytes = st.Plan.ArenaSize
	for _, t := range g.Inputs {
		r.InputBytes += t.Quant.DType.Bytes(t.Shape)
	}
	for _, t := range g.Outputs {
		r.OutputBytes += t.Quant.DType.Bytes(t.Shape)
	}
	r.RAMTotalBytes = r.ActivationsRWBytes + r.InputBytes + r.OutputBytes
	cid := 0
	for i, n := range g.Nodes {
		k, ok := n.Attrs.(*ir.KernelAttrs)
		if n.Op != ir.OpKernel || !ok {
			continue
		}
		ops, typ := countOps(n, k)
		mid, ok := mids[k.Layer]
		if !ok {
			mid = -1
		}
		kind := k.Kind.String()
		if k.Kind == ir.KindUnsupported {
			kind = "not supported: " + n.Class
		}
		l := Layer{CID: cid, MID: mid, Name: k.Layer, Type: kind, Ops: ops, OpType: typ, Kernel: k.Name, Fused: k.Fused,
			In: k.In.Tag(), Out: k.Out.Tag(), node: i}
		if k.Weights != nil {
			l.Weights = k.Weights.DType.Tag()
		}
		for _, o := range n.Outputs {
			l.Outputs = append(l.Outputs, o.Name)
		}
		r.Layers = append(r.Layers, l)
		r.MACC += ops
		r.OpTypes[typ] += ops
		cid++
	}
	for _, nt := range st.Notes {
		f := Fallback{Layer: nt.Layer, Wanted: nt.Wanted, Used: nt.Used, Reason: nt.Reason, Hint: nt.Hint}
		switch nt.Kind {
		case "fallback":
			r.Fallbacks = append(r.Fallbacks, f)
		case passes.NoteWeights:
			r.DependsOnWeights = append(r.DependsOnWeights, f)
		case passes.NoteUnsupported:
			r.Unsupported = append(r.Unsupported, f)
		default:
			r.Inexact = append(r.Inexact, f)
		}
	}
	return r
}

// countParams counts parameters in the reference tool's convention (derived
// exactly in the semantics spec §5): every kernel and bias element, and two
// folded values per batch-norm channel. It reads shapes only, so an
// architecture without weights counts the same.
func countParams(g *ir.Graph) int64 {
	var p int64
	weights := func(kernel ir.Weights, bias *ir.Weights) {
		p += int64(ir.NumElements(kernel.Shape))
		if bias != nil {
			p += int64(ir.NumElements(bias.Shape))
		}
	}
	for _, n := range g.Nodes {
		switch a := n.Attrs.(type) {
		case *ir.DenseAttrs:
			weights(a.Kernel, a.Bias)
		case *ir.ConvAttrs:
			weights(a.Kernel, a.Bias)
		case *ir.BatchNormAttrs:
			if s := n.Outputs[0].Shape; len(s) > 0 {
				p += 2 * int64(s[len(s)-1])
			}
		}
	}
	return p
}

// countOps counts a call's operations and names their type, in the
// reference tool's convention (docs/analyze.md).
func countOps(n *ir.Node, k *ir.KernelAttrs) (int64, string) {
	tag := func(t dtype.DType) string { return t.Tag() }
	elems := int64(ir.NumElements(n.Outputs[0].Shape))
	bias := k.Stage != nil && (k.Stage.Bias != nil || k.Stage.UnknownBias)
	mulType := func() string {
		if k.In == dtype.S1 && k.W == dtype.S1 {
			return "sxor_s1_s1"
		}
		return "smul_" + tag(k.In) + "_" + tag(k.W)
	}
	switch k.Kind {
	case ir.KindDense:
		ops := int64(k.Dense.InN) * int64(k.Dense.OutN)
		if bias {
			ops += int64(k.Dense.OutN)
		}
		return ops, mulType()
	case ir.KindConv2D, ir.KindPWConv2D, ir.KindDWConv2D:
		c := k.Conv
		per := int64(c.KH * c.KW * c.InC)
		if k.Kind == ir.KindDWConv2D {
			per = int64(c.KH * c.KW)
		}
		ops := int64(c.ConvH*c.ConvW*c.OutC) * per
		if bias {
			ops += int64(c.OutC)
		}
		if c.PoolH*c.PoolW > 1 {
			ops += int64(c.OutH*c.OutW*c.OutC) * int64(c.PoolH*c.PoolW)
		}
		return ops, mulType()
	case ir.KindMaxPool, ir.KindAvgPool:
		return elems * int64(k.Pool.PoolH*k.Pool.PoolW), "op_" + tag(k.In) + "_" + tag(k.Out)
	case ir.KindConvert:
		return 2 * elems, "conv_" + tag(k.In) + "_" + tag(k.Out)
	case ir.KindAffine:
		return 2 * elems, "op_" + tag(k.In) + "_" + tag(k.Out)
	case ir.KindSoftmax:
		return 15 * elems, "op_f32_f32"
	case ir.KindConcat:
		return 0, "op_" + tag(k.In) + "_" + tag(k.Out)
	case ir.KindUnsupported:
		return 0, "none"
	}
	return elems, "op_" + tag(k.In) + "_" + tag(k.Out)
}

// group prints n with thousands separators.
func group(n int64) string { return textfmt.Group(n) }

func kib(n int64) string { return fmt.Sprintf("%.2f KiB", float64(n)/1024) }

// WriteText prints the report in the layout of the reference's analyze
// command (§7), followed by the fallbacks with a hint each.
func (r *Report) WriteText(w io.Writer) {
	var b strings.Builder
	r.writeText(&b)
	textfmt.WriteTrimmed(w, b.String())
}

func (r *Report) writeText(w io.Writer) {
	if r.WeightsAbsent {
		fmt.Fprintln(w, " PRE-ANALYZE: weights were not given (architecture only).")
		fmt.Fprintln(w, " The figures come from the layer shapes and quantizers; no C was generated and nothing was")
		fmt.Fprintln(w, " validated. Decisions that depend on weight values are listed under \"depends on weights\".")
		if n := len(r.Unsupported); n > 0 {
			fmt.Fprintf(w, " %d layer(s) are not supported (listed at the end): the figures cover every other layer.\n", n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, " model                : %s\n", r.Model)
	// Say which count this is: dqnn inspect prints Keras's (issue #18).
	fmt.Fprintf(w, " params #             : %s items (%s; 2 per batch-norm channel as the reference tool counts, dqnn inspect gives Keras's count_params() with 4)\n", group(r.Params), kib(4*r.Params))
	fmt.Fprintf(w, " macc                 : %s\n", group(r.MACC))
	diff := int64(r.WeightsROBytes) - r.FloatModelBytes
	pct := 0.0
	if r.FloatModelBytes > 0 {
		pct = 100 * float64(diff) / float64(r.FloatModelBytes)
	}
	fmt.Fprintf(w, " weights (ro)         : %s B (%s) (1 segment) / %s(%.1f%%) vs float model\n", group(int64(r.WeightsROBytes)), kib(int64(r.WeightsROBytes)), group(diff), pct)
	if rg := r.WeightsRORange; rg != nil && rg.Min != rg.Max {
		fmt.Fprintf(w, "                        %s to %s B depending on weight values\n", group(int64(rg.Min)), group(int64(rg.Max)))
	}
	fmt.Fprintf(w, " activations (rw)     : %s B (%s) (1 segment)\n", group(int64(r.ActivationsRWBytes)), kib(int64(r.ActivationsRWBytes)))
	fmt.Fprintf(w, " ram (total)          : %s B (%s) = %s + %s + %s%s\n", group(int64(r.RAMTotalBytes)), kib(int64(r.RAMTotalBytes)),
		group(int64(r.ActivationsRWBytes)), group(int64(r.InputBytes)), group(int64(r.OutputBytes)), r.stackTerm())
	fmt.Fprintln(w)
	fmt.Fprintln(w, " Number of operations and param per C-layer")
	line := " " + strings.Repeat("-", 100)
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, " %-7s %-6s %-48s %15s %s\n", "c_id", "m_id", "name (type)", "#op", "(type)")
	fmt.Fprintln(w, line)
	for _, l := range r.Layers {
		fmt.Fprintf(w, " %-7d %-6d %-48s %15s (%s)\n", l.CID, l.MID, l.Name+" ("+l.Type+")", group(l.Ops), l.OpType)
	}
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, " %-63s %15s\n", "total", group(r.MACC))
	fmt.Fprintln(w)
	fmt.Fprintln(w, "   Number of operation types")
	fmt.Fprintln(w, "   "+strings.Repeat("-", 45))
	for _, t := range r.opTypeOrder() {
		pct := 0.0
		if r.MACC > 0 {
			pct = 100 * float64(r.OpTypes[t]) / float64(r.MACC)
		}
		fmt.Fprintf(w, "   %-20s %15s %10.1f%%\n", t, group(r.OpTypes[t]), pct)
	}
	fmt.Fprintln(w)
	if len(r.Fallbacks) == 0 {
		fmt.Fprintln(w, " fallbacks: none (every layer runs on the kernel its types ask for)")
	} else {
		fmt.Fprintf(w, " fallbacks to f32: %d\n", len(r.Fallbacks))
		for _, f := range r.Fallbacks {
			fmt.Fprintf(w, "   %s: %s not available, using %s: %s\n     hint: %s\n", f.Layer, f.Wanted, f.Used, f.Reason, f.Hint)
		}
	}
	for _, f := range r.Inexact {
		fmt.Fprintf(w, " not bit-exact: %s: %s\n     hint: %s\n", f.Layer, f.Reason, f.Hint)
	}
	if r.WeightsAbsent {
		rg := r.WeightsRORange
		switch {
		case len(r.DependsOnWeights) == 0 && (rg == nil || rg.Min == rg.Max):
			fmt.Fprintln(w, " depends on weights: nothing (every figure and kernel above holds for any weight values)")
		case len(r.DependsOnWeights) == 0:
			fmt.Fprintln(w, " depends on weights: only weights (ro), within its range (all-1 multipliers and all-0 offsets are")
			fmt.Fprintln(w, "   left out, negative batch-norm gammas add flip masks); every other figure and kernel holds")
		default:
			fmt.Fprintf(w, " depends on weights: %d\n", len(r.DependsOnWeights))
			for _, f := range r.DependsOnWeights {
				fmt.Fprintf(w, "   %s: %s\n", f.Layer, f.Reason)
			}
		}
	}
	if len(r.Unsupported) > 0 {
		fmt.Fprintf(w, " not supported: %d (left out of every figure)\n", len(r.Unsupported))
		for _, f := range r.Unsupported {
			fmt.Fprintf(w, "   %s (%s): %s\n     hint: %s\n", f.Layer, f.Wanted, f.Reason, f.Hint)
		}
	}
	for _, n := range r.ImporterNotes {
		fmt.Fprintf(w, " note: %s\n", n)
	}
}

// opTypeOrder lists op types in order of first appearance in the layer table.
func (r *Report) opTypeOrder() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range r.Layers {
		if !seen[l.OpType] {
			seen[l.OpType] = true
			out = append(out, l.OpType)
		}
	}
	var rest []string
	for t := range r.OpTypes {
		if !seen[t] {
			rest = append(rest, t)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
