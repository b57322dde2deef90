package bench

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

func TestModelExample(t *testing.T) {
	const example = "../examples/mnist_bnn/mnist_bnn.h5"
	if _, err := os.Stat(example); err != nil {
		t.Skipf("skipping: %v", err)
	}
	testenv.Need(t, "a runner for cortex-m4", target.Available(target.CortexM4))
	g, err := keras.Load(example, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(g, compiler.Options{Name: "mnist", Target: "cortex-m4"})
	if err != nil {
		t.Fatal(err)
	}
	lib := validate.Library{Name: "mnist", Files: res.Files, Lowered: res.Graph}
	a, err := Model(context.Background(), g, lib, target.CortexM4, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	a.WriteText(&b)
	t.Log("\n" + b.String())
	if len(a.Layers) < 5 || a.Total == 0 {
		t.Fatalf("%d layers, total %d", len(a.Layers), a.Total)
	}
	var sum uint64
	for _, l := range a.Layers {
		sum += l.Instructions
	}
	if len(a.Layers[0].Kernels) == 0 || !strings.HasPrefix(a.Layers[0].Kernels[0], "dq_") {
		t.Errorf("first layer's kernels: %q", a.Layers[0].Kernels)
	}
	if sum != a.TracedTotal {
		t.Errorf("layers sum to %d, traced total %d", sum, a.TracedTotal)
	}
	// Tracing adds a few instructions per layer, never removes any.
	if a.TracedTotal < a.Total || a.TraceOverhead > 100 {
		t.Errorf("traced %d vs untraced %d (%.1f per layer)", a.TracedTotal, a.Total, a.TraceOverhead)
	}
	m := a.Memory
	if m.ArenaSymbol != "mnist_arena" || m.ArenaBytes == 0 || m.ConstBytes < 11000 || m.CodeBytes == 0 {
		t.Errorf("memory %+v: want the arena, >= 11 KB of packed weights and some code", m)
	}
	c, err := Model(context.Background(), g, lib, target.CortexM4, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != a.Total || c.TracedTotal != a.TracedTotal {
		t.Errorf("not repeatable: total %d then %d, traced %d then %d", a.Total, c.Total, a.TracedTotal, c.TracedTotal)
	}
}
