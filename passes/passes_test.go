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

// Patterns of the reference's §8 and the compiler's own fusions.
func cases() []goldenCase {
	return []goldenCase{
		{name: "mnist_bnn", build: func() *ir.Graph { return passestest.MNIST(1) }},
		{name: "mnist_bnn_quantized_io", build: func() *ir.Graph { return passestest.MNIST(1) }, opt: passes.Options{QuantizedIO: true}},
		{name: "mnist_bnn_reference_kernels", build: func() *ir.Graph { return passestest.MNIST(1) }, matrix: compiler.ReferenceOnly{}},
		{name: "qkeras_dense_s8", build: func() *ir.Graph { // §8.2 second example
			b := passestest.New("qdense", 2, 8, 8, 1)
			b.Flatten("flatten")
			b.Quantize("q_activation", passestest.BitsQuant(7))
			b.Dense("dense_0", 64, dtype.S1, true, "linear")
			b.BatchNorm("batch_normalization", true, true)
			b.Quantize("q_activation_1", passestest.SignQuant())
			b.Dense("dense_1", 10, dtype.S1, true, "linear")
			b.Activation("activation", "softmax")
			return b.Done()
		}},
		{name: "fallback_s8_conv", build: func() *ir.Graph { // §8.5: s8 x s1 -> s8 conv, reference kernels only
			b := passestest.New("fallback", 3, 8, 8, 1)
			b.Quantize("q_activation", passestest.BitsQuant(7))
			b.Conv("dense_0", 16, 3, 2, "same", dtype.S1, true, "linear")
			b.BatchNorm("batch_normalization", true, false)
			b.Quantize("q_activation_1", passestest.BitsQuant(7))
			return b.Done()
		}, matrix: compiler.ReferenceOnly{}},
		{name: "bn_pool_sign_flip", build: func() *ir.Graph { // BN -> max-pool -> sign with negative and zero gammas
			b := passestest.New("bnpool", 4, 8, 8, 32)
			b.Quantize("conv/input_quantizer", passestest.SignQuant())
			b.Conv("conv", 32, 3, 1, "same", dtype.S1, false, "linear")
			b.BatchNorm("bn", true, true)
			b.MaxPool("pool", 2)
			b.Quantize("next/input_quantizer", passestest.SignQuant())
			return b.Done()
		}},
		{name: "conv_pool_bn_sign_flip", build: func() *ir.Graph { // conv -> max-pool -> BN(neg gamma) -> sign: fused, flip bits
			b := passestest.New("convpool", 5, 8, 8, 32)
			b.Quantize("conv/input_quantizer", passestest.SignQuant())
			b.Conv("conv", 32, 3, 1, "valid", dtype.S1, false, "linear")
			b.MaxPool("pool", 2)
			b.BatchNorm("bn", true, true)
			b.Quantize("next/input_quantizer", passestest.SignQuant())
			return b.Done()
		}},
		{name: "s1_flatten_31_channels", build: func() *ir.Graph { // packed rows padded: not an alias
			b := passestest.New("flat31", 6, 4, 4, 31)
			b.Quantize("q", passestest.SignQuant())
			b.Flatten("flatten")
			b.Dense("dense", 8, dtype.S1, false, "linear")
			return b.Done()
		}},
		{name: "relu_s8_chain", build: func() *ir.Graph { // quantized_relu grid with zero point, relu folded, depthwise
			b := passestest.New("relus8", 7, 6, 6, 4)
			b.Quantize("q_in", passestest.ReluQuant(0))
			b.DWConv("dw", 2, 3, "same", dtype.S8)
			b.Activation("relu", "relu")
			b.Quantize("q_out", passestest.ReluQuant(2))
			return b.Done()
		}},
	}
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
