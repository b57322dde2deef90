// Package passes lowers an imported Keras-level IR graph into a graph of C
// kernel calls: it folds quantizers, bias, batch-norm and max-pool into the
// neighbouring compute kernel (§8 of the X-CUBE-AI DQNN reference, §4 of the
// quantizer semantics spec), infers every tensor's data type from the
// quantizers, picks a kernel from the kernel matrix for every call (falling
// back to f32 with explicit conversions where a combination is missing),
// derives the exact output-stage constants (thresholds, multipliers) and plans
// the activation memory.
//
// The passes form a table (Pipeline) whose ordering constraints are checked
// when the package is initialised; each pass can be run and tested alone.
package passes

import (
	"fmt"
	"strings"

	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
)

// Matrix answers which kernels exist. The compiler adapts gen/matrix to it;
// tests use small tables.
type Matrix interface {
	// Find returns the C name of the kernel for op with the given input,
	// weight (dtype.Invalid for ops without weights) and output types.
	Find(op ir.KernelKind, in, w, out dtype.DType) (name string, ok bool)
}

// Options configure the pipeline.
type Options struct {
	// QuantizedIO makes the model's inputs and outputs keep their quantized
	// types (s8/s1) instead of converting from/to float at the boundary.
	QuantizedIO bool
}

// Note is something the user should know about the lowering: a fallback to
// f32 kernels, or a lowering that is not bit-exact.
type Note struct {
	Layer  string // Keras layer
	Kind   string // "fallback", "inexact"
	Wanted string // the kernel the layer asked for, e.g. "dq_conv2d_s8_s1_s8"
	Used   string // what dqnn does instead
	Reason string
	Hint   string // what to change in the model
}

func (n Note) String() string {
	s := fmt.Sprintf("%s: layer %q", n.Kind, n.Layer)
	if n.Wanted != "" {
		s += fmt.Sprintf(": %s not available, using %s", n.Wanted, n.Used)
	}
	if n.Reason != "" {
		s += ": " + n.Reason
	}
	if n.Hint != "" {
		s += " (hint: " + n.Hint + ")"
	}
	return s
}

// State is what the passes share: the graph being rewritten, the kernel
// matrix, the options and the notes collected so far.
type State struct {
	G      *ir.Graph
	Matrix Matrix
	Opt    Options
	Notes  []Note
	Plan   *Plan // set by plan-memory

	seq int // for unique names of derived nodes/tensors
}

// NewState prepares g for the pipeline.
func NewState(g *ir.Graph, m Matrix, opt Options) *State {
	return &State{G: g, Matrix: m, Opt: opt}
}

func (s *State) note(n Note) { s.Notes = append(s.Notes, n) }

// Pass is one rewrite of the graph.
type Pass struct {
	Name  string
	Doc   string
	Run   func(*State) error
	After []string // passes that must have run before this one
}

// Pipeline is the compiler's pass order. Why this order: quantizers split
// off layers first so that every fusion sees one uniform node form; the
// compute layers are lowered before anything is fused into them; a max-pool
// directly after a convolution is fused before batch-norm (conv → pool → BN),
// and once more after it (conv → BN → pool) when batch-norm keeps the output
// monotone; quantizers fold last because they fix the output type; kernel
// selection needs every type; stage constants depend on the selected input
// type (integer vs float accumulator); memory is planned on the final graph.
var Pipeline = []Pass{
	{Name: "split-input-quantizers", Run: splitInputQuantizers,
		Doc: "turn a Larq input_quantizer kept in a layer's attrs into its own quantize node"},
	{Name: "quantized-io", Run: quantizedIO, After: []string{"split-input-quantizers"},
		Doc: "with QuantizedIO, let model inputs take the type of the quantizer that reads them"},
	{Name: "hoist-quantize", Run: hoistQuantize, After: []string{"split-input-quantizers"},
		Doc: "move quantizers above max-pools and reshapes so they meet the layer that computes their input"},
	{Name: "lower-compute", Run: lowerCompute, After: []string{"hoist-quantize"},
		Doc: "dense/conv/depthwise layers become kernel calls with weights in kernel layout"},
	{Name: "fuse-pool", Run: fusePool, After: []string{"lower-compute"},
		Doc: "conv → max-pool: max accumulator inside the conv kernel"},
	{Name: "fuse-relu", Run: fuseRelu, After: []string{"fuse-pool"},
		Doc: "fold a separate relu activation into the preceding call's stage"},
	{Name: "fuse-batchnorm", Run: fuseBatchNorm, After: []string{"fuse-relu"},
		Doc: "fold a batch-norm into the output stage of the preceding dense/conv"},
	{Name: "fuse-pool-after-bn", Run: fusePool, After: []string{"fuse-batchnorm"},
		Doc: "conv → BN → max-pool when the stage is non-decreasing in every channel"},
	{Name: "lower-batchnorm", Run: lowerBatchNorm, After: []string{"fuse-pool-after-bn"},
		Doc: "remaining batch-norms become affine kernel calls"},
	{Name: "fuse-quantize", Run: fuseQuantize, After: []string{"lower-batchnorm", "quantized-io"},
		Doc: "a quantizer after a compute kernel sets its output type (s1 threshold / s8 grid)"},
	{Name: "fuse-pool-after-quantize", Run: fusePool, After: []string{"fuse-quantize"},
		Doc: "conv → (BN →) quantizer → max-pool, when no channel is flipped"},
	{Name: "lower-rest", Run: lowerRest, After: []string{"fuse-pool-after-quantize"},
		Doc: "pools, activations, concat, add, unfused quantizers (convert), reshapes (alias)"},
	{Name: "io-types", Run: ioTypes, After: []string{"lower-rest"},
		Doc: "convert quantized model outputs to f32 unless QuantizedIO"},
	{Name: "select-kernels", Run: selectKernels, After: []string{"io-types"},
		Doc: "pick each call's kernel from the matrix; fall back to f32 with explicit converts"},
	{Name: "compute-stages", Run: computeStages, After: []string{"select-kernels"},
		Doc: "derive multipliers, exact integer/float thresholds and flips for the selected types"},
	{Name: "check-lowered", Run: checkLowered, After: []string{"compute-stages"},
		Doc: "every node is a selected kernel call or an alias whose types match its tensors"},
	{Name: "plan-memory", Run: planMemory, After: []string{"check-lowered"},
		Doc: "place every activation tensor in one arena"},
}

func init() {
	if err := checkOrder(Pipeline); err != nil {
		panic(err) // a programming error in the table above
	}
}

// checkOrder verifies that every pass's After constraints are satisfied by
// the table order and that names are unique.
func checkOrder(ps []Pass) error {
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name] {
			return fmt.Errorf("passes: pass %q listed twice", p.Name)
		}
		for _, a := range p.After {
			if !seen[a] {
				return fmt.Errorf("passes: pass %q must run after %q", p.Name, a)
			}
		}
		seen[p.Name] = true
	}
	return nil
}

// Lookup returns the pass with the given name.
func Lookup(name string) (Pass, bool) {
	for _, p := range Pipeline {
		if p.Name == name {
			return p, true
		}
	}
	return Pass{}, false
}

// Run runs the whole pipeline on s, verifying the graph after every pass.
func Run(s *State) error {
	if err := s.G.Verify(); err != nil {
		return fmt.Errorf("input graph: %w", err)
	}
	for _, p := range Pipeline {
		if err := p.Run(s); err != nil {
			return err
		}
		if err := s.G.Verify(); err != nil {
			return fmt.Errorf("after pass %s: %w", p.Name, err)
		}
	}
	return nil
}

// --- graph helpers ---

// consumers returns, for every tensor, the nodes that read it.
func consumers(g *ir.Graph) map[*ir.Tensor][]*ir.Node {
	m := map[*ir.Tensor][]*ir.Node{}
	for _, n := range g.Nodes {
		for _, t := range n.Inputs {
			m[t] = append(m[t], n)
		}
	}
	return m
}

func isGraphOutput(g *ir.Graph, t *ir.Tensor) bool {
	for _, o := range g.Outputs {
		if o == t {
			return true
		}
	}
	return false
}

// soleConsumer returns the only node reading t, if t is read by exactly one
// node and is not a model output (so it may disappear inside a fusion).
func soleConsumer(g *ir.Graph, cons map[*ir.Tensor][]*ir.Node, t *ir.Tensor) *ir.Node {
	if isGraphOutput(g, t) || len(cons[t]) != 1 {
		return nil
	}
	return cons[t][0]
}

// removeNodes drops the given nodes from g, keeping the order of the rest.
func removeNodes(g *ir.Graph, drop map[*ir.Node]bool) {
	if len(drop) == 0 {
		return
	}
	out := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !drop[n] {
			out = append(out, n)
		}
	}
	g.Nodes = out
}

// replaceUses makes every reader of old (and the model outputs) read new.
func replaceUses(g *ir.Graph, old, new *ir.Tensor) {
	for _, n := range g.Nodes {
		for i, t := range n.Inputs {
			if t == old {
				n.Inputs[i] = new
			}
		}
	}
	for i, t := range g.Outputs {
		if t == old {
			g.Outputs[i] = new
		}
	}
}

// uniqueName returns base, or base with a numeric suffix, unused by any node
// or tensor of g.
func (s *State) uniqueName(base string) string {
	used := map[string]bool{}
	for _, t := range s.G.Inputs {
		used[t.Name] = true
	}
	for _, n := range s.G.Nodes {
		used[n.Name] = true
		for _, t := range n.Outputs {
			used[t.Name] = true
		}
	}
	if !used[base] {
		return base
	}
	for {
		s.seq++
		c := fmt.Sprintf("%s_%d", base, s.seq)
		if !used[c] {
			return c
		}
	}
}

func kattrs(n *ir.Node) *ir.KernelAttrs {
	if n == nil || n.Op != ir.OpKernel {
		return nil
	}
	k, _ := n.Attrs.(*ir.KernelAttrs)
	return k
}

func layerOf(n *ir.Node) string {
	if k := kattrs(n); k != nil && k.Layer != "" {
		return k.Layer
	}
	if i := strings.IndexByte(n.Name, '/'); i > 0 {
		return n.Name[:i]
	}
	return n.Name
}

func shapeStr(s []int) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(p, " ") + "]"
}

// checkLowered verifies the contract between the passes and the emitter:
// only kernel calls with a selected kernel and aliases remain, every call's
// types match its tensors' types, and aliases keep the storage type.
func checkLowered(s *State) error {
	for _, n := range s.G.Nodes {
		switch n.Op {
		case ir.OpAlias:
			if len(n.Inputs) != 1 || len(n.Outputs) != 1 || n.Inputs[0].Quant.DType != n.Outputs[0].Quant.DType {
				return fmt.Errorf("internal: alias %q changes the storage type", n.Name)
			}
		case ir.OpKernel:
			k := kattrs(n)
			if k != nil && k.Kind == ir.KindUnsupported && s.G.ShapesOnly {
				continue
			}
			if k == nil || k.Name == "" {
				return fmt.Errorf("internal: node %q has no selected kernel", n.Name)
			}
			for _, t := range n.Inputs {
				if t.Quant.DType != k.In {
					return fmt.Errorf("internal: %s (%s) reads %s tensor %q", n.Name, k.Name, t.Quant.DType, t.Name)
				}
			}
			if len(n.Outputs) != 1 || n.Outputs[0].Quant.DType != k.Out {
				return fmt.Errorf("internal: %s (%s) writes a tensor of another type", n.Name, k.Name)
			}
			if k.Stage != nil && k.Out == dtype.S1 && k.Stage.ThrI == nil && k.Stage.ThrF == nil && !s.G.ShapesOnly {
				return fmt.Errorf("internal: %s has an s1 output without thresholds", n.Name)
			}
		default:
			return fmt.Errorf("layer %q: op %s was not lowered to a kernel", n.Name, n.Op)
		}
	}
	return nil
}
