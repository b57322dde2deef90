package passes_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/passes"
	"github.com/dqnn/dqnn/passes/passestest"
)

var update = flag.Bool("update", false, "update golden files")

// golden compares got with testdata/<name>, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, d)
	}
}

type goldenCase struct {
	name   string
	build  func() *ir.Graph
	matrix passes.Matrix
	opt    passes.Options
}

func cases() []goldenCase {
	var cs []goldenCase
	for _, c := range passestest.Cases() {
		gc := goldenCase{name: c.Name, build: c.Build, opt: passes.Options{QuantizedIO: c.QuantizedIO}}
		if c.ReferenceKernels {
			gc.matrix = compiler.ReferenceOnly{}
		}
		cs = append(cs, gc)
	}
	return cs
}

// TestGolden runs the pipeline on each case, verifies the graph after every
// pass and compares the dump after every pass that changed it with
// testdata/<case>/<NN>-<pass>.txt.
func TestGolden(t *testing.T) {
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			m := c.matrix
			if m == nil {
				m = compiler.Table{}
			}
			if *update {
				os.RemoveAll(filepath.Join("testdata", c.name)) // drop goldens of passes that no longer change the graph
			}
			s := passes.NewState(c.build(), m, c.opt)
			if err := s.G.Verify(); err != nil {
				t.Fatal(err)
			}
			prev := passes.Dump(s.G, nil)
			golden(t, filepath.Join(c.name, "00-input.txt"), prev)
			for i, p := range passes.Pipeline {
				if err := p.Run(s); err != nil {
					t.Fatalf("pass %s: %v", p.Name, err)
				}
				if err := s.G.Verify(); err != nil {
					t.Fatalf("after pass %s: %v", p.Name, err)
				}
				got := passes.Dump(s.G, s.Plan)
				if got == prev {
					continue
				}
				prev = got
				golden(t, filepath.Join(c.name, fmt.Sprintf("%02d-%s.txt", i+1, p.Name)), got)
			}
			var notes []string
			for _, n := range s.Notes {
				notes = append(notes, n.String())
			}
			golden(t, filepath.Join(c.name, "notes.txt"), strings.Join(notes, "\n")+"\n")
			if !s.G.IsLowered() {
				t.Errorf("graph not lowered")
			}
		})
	}
}

// TestPipelineOrder checks the table's ordering constraints hold and that
// a reordered table is rejected.
func TestPipelineOrder(t *testing.T) {
	for _, name := range []string{"fuse-quantize", "select-kernels", "plan-memory"} {
		if _, ok := passes.Lookup(name); !ok {
			t.Errorf("pass %s missing", name)
		}
	}
	if err := passes.CheckOrder(passes.Pipeline); err != nil {
		t.Fatal(err)
	}
	rev := append([]passes.Pass(nil), passes.Pipeline...)
	rev[0], rev[len(rev)-1] = rev[len(rev)-1], rev[0]
	if err := passes.CheckOrder(rev); err == nil {
		t.Error("a reversed table passed the order check")
	}
}

// TestPassesAlone runs single passes on small graphs, as a pass author
// would: each pass works on any graph in the form its predecessors produce.
func TestPassesAlone(t *testing.T) {
	run := func(s *passes.State, names ...string) {
		t.Helper()
		for _, name := range names {
			p, ok := passes.Lookup(name)
			if !ok {
				t.Fatalf("no pass %s", name)
			}
			if err := p.Run(s); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := s.G.Verify(); err != nil {
				t.Fatalf("after %s: %v", name, err)
			}
		}
	}
	// hoist-quantize: flatten → sign becomes sign → flatten.
	b := passestest.New("hoist", 1, 2, 2, 32)
	b.Conv("conv", 32, 1, 1, "valid", dtype.S1, false, "linear")
	b.Flatten("flatten")
	b.Quantize("dense/input_quantizer", passestest.SignQuant())
	s := passes.NewState(b.Done(), compiler.Table{}, passes.Options{})
	run(s, "hoist-quantize")
	if s.G.Nodes[1].Op != ir.OpQuantize || s.G.Nodes[2].Op != ir.OpReshape {
		t.Errorf("hoist-quantize: order %s, %s", s.G.Nodes[1].Op, s.G.Nodes[2].Op)
	}
	// lower-compute + fuse-batchnorm: the BN disappears into the stage.
	b = passestest.New("bn", 2, 4, 4, 8)
	b.Conv("conv", 8, 3, 1, "same", dtype.F32, true, "relu")
	b.BatchNorm("bn", true, true)
	s = passes.NewState(b.Done(), compiler.Table{}, passes.Options{})
	run(s, "lower-compute", "fuse-batchnorm")
	if len(s.G.Nodes) != 1 {
		t.Fatalf("fuse-batchnorm left %d nodes", len(s.G.Nodes))
	}
	k := s.G.Nodes[0].Attrs.(*ir.KernelAttrs)
	if k.Stage.BN == nil || !k.Stage.Relu || k.Stage.Bias == nil || s.G.Outputs[0] != s.G.Nodes[0].Outputs[0] {
		t.Errorf("stage %+v", k.Stage)
	}
	// fuse-pool refuses a pool after a BN with a negative gamma.
	b = passestest.New("pool", 3, 4, 4, 8)
	b.Conv("conv", 8, 3, 1, "same", dtype.F32, false, "linear")
	b.BatchNorm("bn", true, true)
	b.MaxPool("pool", 2)
	s = passes.NewState(b.Done(), compiler.Table{}, passes.Options{})
	run(s, "lower-compute", "fuse-batchnorm", "fuse-pool-after-bn")
	if len(s.G.Nodes) != 2 {
		t.Errorf("a pool after a flipping BN was fused")
	}
}
