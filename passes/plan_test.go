package passes_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes"
	"github.com/dqnn/dqnn/passes/passestest"
)

// randomLowered builds a random lowered DAG: kernel calls reading one or two
// earlier tensors, aliases, in-place candidates (relu) and several outputs.
func randomLowered(r *rand.Rand) *ir.Graph {
	types := []dtype.DType{dtype.F32, dtype.S8, dtype.S1}
	newT := func(i int) *ir.Tensor {
		return &ir.Tensor{Name: fmt.Sprintf("t%d", i), Shape: []int{1 + r.IntN(6), 1 + r.IntN(70)}, Quant: ir.Quant{DType: types[r.IntN(3)]}}
	}
	in := newT(0)
	in.Quant = ir.Float()
	g := &ir.Graph{Name: "random", Inputs: []*ir.Tensor{in}}
	avail := []*ir.Tensor{in}
	n := 2 + r.IntN(25)
	for i := 1; i <= n; i++ {
		src := avail[r.IntN(len(avail))]
		var node *ir.Node
		switch r.IntN(4) {
		case 0: // alias
			out := &ir.Tensor{Name: fmt.Sprintf("t%d", i), Shape: []int{ir.NumElements(src.Shape)}, Quant: src.Quant}
			node = &ir.Node{Name: fmt.Sprintf("n%d", i), Op: ir.OpAlias, Inputs: []*ir.Tensor{src}, Outputs: []*ir.Tensor{out}}
		case 1: // in-place candidate
			out := &ir.Tensor{Name: fmt.Sprintf("t%d", i), Shape: append([]int(nil), src.Shape...), Quant: ir.Float()}
			src2 := src
			if src.Quant.DType != dtype.F32 {
				src2 = avail[0]
				out.Shape = append([]int(nil), src2.Shape...)
			}
			node = &ir.Node{Name: fmt.Sprintf("n%d", i), Op: ir.OpKernel, Inputs: []*ir.Tensor{src2}, Outputs: []*ir.Tensor{out},
				Attrs: &ir.KernelAttrs{Kind: ir.KindRelu, In: dtype.F32, Out: dtype.F32}}
		default:
			ins := []*ir.Tensor{src}
			if r.IntN(3) == 0 {
				ins = append(ins, avail[r.IntN(len(avail))])
			}
			out := newT(i)
			node = &ir.Node{Name: fmt.Sprintf("n%d", i), Op: ir.OpKernel, Inputs: ins, Outputs: []*ir.Tensor{out},
				Attrs: &ir.KernelAttrs{Kind: ir.KindDense, In: src.Quant.DType, Out: out.Quant.DType}}
		}
		g.Nodes = append(g.Nodes, node)
		avail = append(avail, node.Outputs[0])
	}
	// Outputs: the last tensor and maybe another unaliased one.
	g.Outputs = []*ir.Tensor{avail[len(avail)-1]}
	return g
}

// checkPlan verifies independently of the planner's own lifetimes that at
// every node, no two tensors in use (read later or being written) with
// different storage roots overlap in the arena, and that sizes fit.
func checkPlan(t *testing.T, g *ir.Graph, p *passes.Plan) {
	t.Helper()
	last := map[*ir.Tensor]int{}
	first := map[*ir.Tensor]int{}
	for i, n := range g.Nodes {
		for _, x := range n.Inputs {
			last[p.Root[x]] = max(last[p.Root[x]], i)
		}
		for _, x := range n.Outputs {
			r := p.Root[x]
			if _, ok := first[r]; !ok {
				first[r] = i
			}
			last[r] = max(last[r], i)
		}
	}
	for i := range g.Nodes {
		var live []*ir.Tensor
		for r, f := range first {
			if f <= i && i <= last[r] && p.Buffers[r].Kind == passes.InArena {
				live = append(live, r)
			}
		}
		for a := 0; a < len(live); a++ {
			ba := p.Buffers[live[a]]
			if ba.Offset%4 != 0 || ba.Offset+ba.Size > p.ArenaSize {
				t.Fatalf("tensor %s at %d+%d outside arena %d or unaligned", live[a].Name, ba.Offset, ba.Size, p.ArenaSize)
			}
			for b := a + 1; b < len(live); b++ {
				bb := p.Buffers[live[b]]
				if ba.Offset < bb.Offset+bb.Size && bb.Offset < ba.Offset+ba.Size {
					t.Fatalf("node %d: live tensors %s [%d,%d) and %s [%d,%d) overlap", i, live[a].Name, ba.Offset, ba.Offset+ba.Size, live[b].Name, bb.Offset, bb.Offset+bb.Size)
				}
			}
		}
	}
	// Every tensor of an alias chain has its root's storage.
	for x, r := range p.Root {
		if p.Buffers[x].Kind != p.Buffers[r].Kind || p.Buffers[x].Offset != p.Buffers[r].Offset {
			t.Fatalf("tensor %s does not share its root %s's storage", x.Name, r.Name)
		}
	}
}

func TestPlanRandomGraphs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 500; i++ {
		g := randomLowered(r)
		if err := g.Verify(); err != nil {
			t.Fatal(err)
		}
		p, err := passes.PlanMemory(g)
		if err != nil {
			if strings.Contains(err.Error(), "is a model input") {
				continue // the random output is an alias of the input: rightly refused
			}
			t.Fatalf("graph %d: %v", i, err)
		}
		checkPlan(t, g, p)
	}
}

func TestPlanCompiledModels(t *testing.T) {
	for _, g := range []*ir.Graph{passestest.MNIST(3), passestest.Deep(20, 3)} {
		s := passes.NewState(g, compiler.Table{}, passes.Options{})
		if err := passes.Run(s); err != nil {
			t.Fatal(err)
		}
		checkPlan(t, s.G, s.Plan)
	}
	// The example's figure: two live s1 maps at most.
	s := passes.NewState(passestest.MNIST(1), compiler.Table{}, passes.Options{})
	if err := passes.Run(s); err != nil {
		t.Fatal(err)
	}
	if s.Plan.ArenaSize != 876 {
		t.Errorf("mnist arena = %d, want 876 (13x13x32 s1 + 5x5x64 s1)", s.Plan.ArenaSize)
	}
}
