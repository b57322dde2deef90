package passes

import (
	"fmt"
	"sort"

	"github.com/dqnn/dqnn/ir"
)

// Storage kinds of a planned tensor.
const (
	InArena  = "arena"
	InInput  = "input"  // the caller's input buffer Index
	InOutput = "output" // the caller's output buffer Index
)

// Buffer is where a tensor lives.
type Buffer struct {
	Kind   string // InArena, InInput or InOutput
	Index  int    // model input/output index for InInput/InOutput
	Offset int    // byte offset in the arena (InArena)
	Size   int    // bytes
}

// Plan is the memory plan: one arena for every activation tensor that is not
// a model input or output; tensors whose lifetimes do not overlap share
// bytes; aliases (reshape, identity quantizers) and in-place calls share their
// input's bytes.
type Plan struct {
	ArenaSize int
	Buffers   map[*ir.Tensor]Buffer
	// Live is, per arena root tensor, the node index range [first, last]
	// during which its bytes are in use (for tests and reports).
	Live map[*ir.Tensor][2]int
	Root map[*ir.Tensor]*ir.Tensor
}

// inPlaceKinds are the kernels that may write their output over their
// (first) input: element-wise maps of one type to itself where element i is
// read before it is written and no other element is read afterwards.
var inPlaceKinds = map[ir.KernelKind]bool{ir.KindRelu: true, ir.KindTanh: true, ir.KindSigmoid: true, ir.KindAffine: true, ir.KindAdd: true}

func planMemory(s *State) error {
	p, err := PlanMemory(s.G)
	if err != nil {
		return err
	}
	s.Plan = p
	return nil
}

// PlanMemory plans the activation memory of a lowered graph: greedy by size
// (largest first), each tensor at the lowest 4-aligned offset that overlaps no
// already placed tensor with an overlapping lifetime.
func PlanMemory(g *ir.Graph) (*Plan, error) {
	root := map[*ir.Tensor]*ir.Tensor{}
	find := func(t *ir.Tensor) *ir.Tensor {
		for root[t] != nil && root[t] != t {
			t = root[t]
		}
		return t
	}
	isInput := map[*ir.Tensor]int{}
	for i, t := range g.Inputs {
		isInput[t] = i
	}
	lastUse := map[*ir.Tensor]int{}
	for i, n := range g.Nodes {
		for _, t := range n.Inputs {
			lastUse[t] = i
		}
	}
	outRoot := map[*ir.Tensor]bool{}
	for _, n := range g.Nodes {
		if n.Op == ir.OpAlias {
			root[n.Outputs[0]] = find(n.Inputs[0])
		}
	}
	for _, o := range g.Outputs {
		outRoot[find(o)] = true
	}
	// In-place: only when the input's storage dies at this node, is in the
	// arena, and is as large as the output.
	for i, n := range g.Nodes {
		k := kattrs(n)
		if k == nil || !inPlaceKinds[k.Kind] || k.In != k.Out {
			continue
		}
		in, out := find(n.Inputs[0]), n.Outputs[0]
		if _, ext := isInput[in]; ext || outRoot[in] || outRoot[find(out)] {
			continue
		}
		if lastOf(g, find, in) != i || bytesOf(in) != bytesOf(out) {
			continue
		}
		root[out] = in
	}

	p := &Plan{Buffers: map[*ir.Tensor]Buffer{}, Live: map[*ir.Tensor][2]int{}, Root: map[*ir.Tensor]*ir.Tensor{}}
	// Roots, lifetimes and external buffers.
	var roots []*ir.Tensor
	seen := map[*ir.Tensor]bool{}
	ext := map[*ir.Tensor]Buffer{}
	for i, t := range g.Outputs {
		r := find(t)
		if _, ok := ext[r]; ok {
			return nil, fmt.Errorf("plan: model outputs %d and another one share storage (tensor %q); dqnn needs distinct output tensors", i, t.Name)
		}
		if _, in := isInput[r]; in {
			return nil, fmt.Errorf("plan: model output %q is a model input; nothing to compute", t.Name)
		}
		ext[r] = Buffer{Kind: InOutput, Index: i, Size: bytesOf(r)}
	}
	for t, i := range isInput {
		ext[t] = Buffer{Kind: InInput, Index: i, Size: bytesOf(t)}
	}
	visit := func(t *ir.Tensor, at int) {
		r := find(t)
		p.Root[t] = r
		if _, e := ext[r]; e {
			return
		}
		if !seen[r] {
			seen[r] = true
			roots = append(roots, r)
			p.Live[r] = [2]int{at, at}
		}
		lv := p.Live[r]
		lv[0], lv[1] = min(lv[0], at), max(lv[1], at)
		p.Live[r] = lv
	}
	for i, n := range g.Nodes {
		for _, t := range n.Inputs {
			visit(t, i)
		}
		for _, t := range n.Outputs {
			visit(t, i)
		}
	}
	for _, t := range g.Inputs {
		p.Root[t] = t
	}
	// Greedy placement, largest first; ties by first use then name (deterministic).
	sort.SliceStable(roots, func(a, b int) bool {
		sa, sb := bytesOf(roots[a]), bytesOf(roots[b])
		if sa != sb {
			return sa > sb
		}
		la, lb := p.Live[roots[a]][0], p.Live[roots[b]][0]
		if la != lb {
			return la < lb
		}
		return roots[a].Name < roots[b].Name
	})
	type placed struct{ off, size, from, to int }
	var done []placed
	for _, r := range roots {
		size := align4(bytesOf(r))
		lv := p.Live[r]
		var busy []placed
		for _, d := range done {
			if d.from <= lv[1] && lv[0] <= d.to {
				busy = append(busy, d)
			}
		}
		sort.Slice(busy, func(a, b int) bool { return busy[a].off < busy[b].off })
		off := 0
		for _, b := range busy {
			if off+size <= b.off {
				break
			}
			off = max(off, align4(b.off+b.size))
		}
		done = append(done, placed{off, size, lv[0], lv[1]})
		p.Buffers[r] = Buffer{Kind: InArena, Offset: off, Size: bytesOf(r)}
		p.ArenaSize = max(p.ArenaSize, off+size)
	}
	for t, r := range p.Root {
		if b, ok := ext[r]; ok {
			b.Size = bytesOf(t)
			p.Buffers[t] = b
			continue
		}
		b := p.Buffers[r]
		b.Size = bytesOf(t)
		p.Buffers[t] = b
	}
	return p, nil
}

func lastOf(g *ir.Graph, find func(*ir.Tensor) *ir.Tensor, r *ir.Tensor) int {
	last := -1
	for i, n := range g.Nodes {
		for _, t := range n.Inputs {
			if find(t) == r {
				last = i
			}
		}
	}
	for _, o := range g.Outputs {
		if find(o) == r {
			return len(g.Nodes)
		}
	}
	return last
}

func bytesOf(t *ir.Tensor) int { return t.Quant.DType.Bytes(t.Shape) }

func align4(n int) int { return (n + 3) &^ 3 }
