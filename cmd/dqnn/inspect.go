package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/dqnn/dqnn/internal/textfmt"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/quant"
)

func init() {
	register("inspect", command{summary: "print the imported graph of a model (layers, shapes, types, quantizers)", run: runInspect})
}

// inspectNode is one node of `dqnn inspect --json`.
type inspectNode struct {
	Name        string   `json:"name"`
	Class       string   `json:"class"`
	Op          string   `json:"op"`
	Inputs      []string `json:"inputs"`
	InShapes    [][]int  `json:"input_shapes"`
	OutShape    []int    `json:"output_shape"`
	DType       string   `json:"dtype"`
	Quant       string   `json:"quant"`
	Quantizers  []string `json:"quantizers,omitempty"`
	KernelQuant string   `json:"kernel_quant,omitempty"`
	Activation  string   `json:"activation,omitempty"`
	Params      int      `json:"params"`
	// NotSupported is why dqnn cannot compile this layer (an architecture
	// without weights keeps such layers so analyze can pre-analyze the rest).
	NotSupported string `json:"not_supported,omitempty"`
}

// inspectTensor is a model input or output of `dqnn inspect --json`.
type inspectTensor struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	DType string `json:"dtype"`
	Quant string `json:"quant"`
}

func (t inspectTensor) String() string { return fmt.Sprintf("%s %v %s", t.Name, t.Shape, t.Quant) }

type inspectGraph struct {
	Model   string          `json:"model"` // the model's file name(s), as every command's report names it
	Name    string          `json:"name"`  // the Keras model's name
	Source  string          `json:"source"`
	Inputs  []inspectTensor `json:"inputs"`
	Outputs []inspectTensor `json:"outputs"`
	Nodes   []inspectNode   `json:"nodes"`
	Params  int             `json:"params"`
	Notes   []string        `json:"notes,omitempty"`
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	weights := fs.String("weights", "", "weights `FILE` of a .json model (default: <stem>_weights.h5 or <stem>.h5 beside it)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	limits := limitFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dqnn inspect MODEL [--weights FILE] [--json]\n\nPrints the graph dqnn imports from MODEL (.h5, .keras, .json, or a SavedModel\ndirectory); a .json without weights is shown architecture-only.")
		printFlags(stderr, fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitFor(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	g, err := keras.LoadArchitecture(pos[0], keras.Options{Weights: *weights, Limits: *limits})
	if err != nil {
		fmt.Fprintf(stderr, "dqnn inspect: %v\n", err)
		return 1
	}
	ig := describeGraph(g)
	if *asJSON {
		if err := writeJSON(stdout, "inspect", ig); err != nil {
			fmt.Fprintf(stderr, "dqnn inspect: %v\n", err)
			return 1
		}
		return 0
	}
	printGraph(stdout, ig)
	return 0
}

func describeGraph(g *ir.Graph) inspectGraph {
	ig := inspectGraph{Model: g.SourceName(), Name: g.Name, Source: g.Source, Notes: g.Notes}
	for _, t := range g.Inputs {
		ig.Inputs = append(ig.Inputs, inspectTensor{t.Name, t.Shape, t.Quant.DType.Tag(), quantString(t.Quant)})
	}
	for _, t := range g.Outputs {
		ig.Outputs = append(ig.Outputs, inspectTensor{t.Name, t.Shape, t.Quant.DType.Tag(), quantString(t.Quant)})
	}
	for _, n := range g.Nodes {
		in := inspectNode{Name: n.Name, Class: n.Class, Op: string(n.Op), Params: keras.Params(n)}
		for _, t := range n.Inputs {
			in.Inputs = append(in.Inputs, t.Name)
			in.InShapes = append(in.InShapes, t.Shape)
		}
		if len(n.Outputs) > 0 {
			o := n.Outputs[0]
			in.OutShape = o.Shape
			in.DType = o.Quant.DType.Tag()
			in.Quant = quantString(o.Quant)
		}
		switch a := n.Attrs.(type) {
		case *ir.DenseAttrs:
			in.Quantizers = quantizers(a.InputQuantizer, a.KernelQuant.Quantizer)
			in.KernelQuant = quantString(a.KernelQuant)
			in.Activation = a.Activation
		case *ir.ConvAttrs:
			in.Quantizers = quantizers(a.InputQuantizer, a.KernelQuant.Quantizer)
			in.KernelQuant = quantString(a.KernelQuant)
			in.Activation = a.Activation
		case *ir.QuantizeAttrs:
			in.Quantizers = quantizers(a.Quantizer)
		case *ir.ActivationAttrs:
			in.Activation = a.Function
		case *ir.UnsupportedAttrs:
			in.NotSupported = a.Reason
		}
		ig.Params += in.Params
		ig.Nodes = append(ig.Nodes, in)
	}
	return ig
}

func quantizers(qs ...*ir.Quantizer) []string {
	var out []string
	for i, q := range qs {
		if q == nil {
			continue
		}
		role := "kernel: "
		if len(qs) == 1 {
			role = ""
		} else if i == 0 {
			role = "input: "
		}
		out = append(out, role+quant.String(q))
	}
	return out
}

// quantString renders a Quant as "s8 scale=0.0039 zp=-128 q=[0,255]".
func quantString(q ir.Quant) string {
	var b strings.Builder
	b.WriteString(q.DType.Tag())
	if q.DType == dtype.F32 {
		return b.String()
	}
	if len(q.Scale) == 1 {
		fmt.Fprintf(&b, " scale=%g", q.Scale[0])
	} else if len(q.Scale) > 1 {
		fmt.Fprintf(&b, " scale=per-channel(%d)", len(q.Scale))
	}
	if q.DType == dtype.S8 {
		fmt.Fprintf(&b, " zp=%d q=[%d,%d]", q.ZeroPoint, q.QMin, q.QMax)
	}
	return b.String()
}

func printGraph(w io.Writer, g inspectGraph) {
	fmt.Fprintf(w, "model   %s (%s)\nsource  %s\ninputs  %s\noutputs %s\n\n", g.Model, g.Name, g.Source, joinTensors(g.Inputs), joinTensors(g.Outputs))
	// Columns are as wide as their longest entry, so long layer names
	// ("quant_conv2d_1/input_quantizer") keep the table aligned.
	wName, wClass, wOp := 1, 1, 1
	for _, n := range g.Nodes {
		wName, wClass, wOp = max(wName, utf8.RuneCountInString(n.Name)), max(wClass, utf8.RuneCountInString(n.Class)), max(wOp, utf8.RuneCountInString(n.Op))
	}
	for _, n := range g.Nodes {
		fmt.Fprintf(w, "%-*s %-*s %-*s %v -> %v %s", wName, n.Name, wClass, n.Class, wOp, n.Op, shapes(n.InShapes), n.OutShape, n.Quant)
		if n.Activation != "" && n.Activation != "linear" {
			fmt.Fprintf(w, " act=%s", n.Activation)
		}
		if len(n.Quantizers) > 0 {
			fmt.Fprintf(w, " quantizers=[%s]", strings.Join(n.Quantizers, "; "))
		}
		if n.KernelQuant != "" {
			fmt.Fprintf(w, " kernel=%s", n.KernelQuant)
		}
		if n.Params > 0 {
			fmt.Fprintf(w, " params=%d", n.Params)
		}
		if n.NotSupported != "" {
			fmt.Fprintf(w, " NOT SUPPORTED: %s", n.NotSupported)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%d nodes, %s parameters as Keras counts them (model.count_params(): every saved weight, 4 per batch-norm channel;\n"+
		"dqnn analyze's \"params #\" follows the reference tool and counts 2 per batch-norm channel)\n", len(g.Nodes), textfmt.Group(g.Params))
	for _, n := range g.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func shapes(s [][]int) string {
	p := make([]string, len(s))
	for i, x := range s {
		p[i] = fmt.Sprint(x)
	}
	return strings.Join(p, ",")
}

func joinTensors(ts []inspectTensor) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}
