package bench

import (
	"context"
	"testing"

	"github.com/dqnn/dqnn/target"
)

func TestKernelSuite(t *testing.T) {
	if err := target.Available(target.CortexM4); err != nil {
		t.Skipf("skipping: %v", err)
	}
	ctx := context.Background()
	a, err := Kernels(ctx, target.CortexM4, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Results) != len(Shapes)*len(Types) {
		t.Fatalf("%d results, want %d", len(a.Results), len(Shapes)*len(Types))
	}
	for _, r := range a.Results {
		t.Logf("%-22s %-28s MACs %9d  insns %10d  MACs/insn %.3f  code %d B", r.Kernel, r.Shape, r.MACs, r.Instructions, r.MACsPerInsn, r.CodeBytes)
		if r.Instructions == 0 || r.CodeBytes == 0 {
			t.Errorf("%s on %s: %d instructions, %d bytes", r.Kernel, r.Shape, r.Instructions, r.CodeBytes)
		}
	}
	t.Logf("marker overhead %d instructions", a.Overhead)
	// Binary kernels do 32 MACs per xor+popcount: they must beat f32 on every shape.
	for i := 0; i < len(a.Results); i += len(Types) {
		s1, f32 := a.Results[i], a.Results[i+2]
		if s1.MACsPerInsn <= f32.MACsPerInsn {
			t.Errorf("%s: s1 %.3f MACs/insn not above f32 %.3f", s1.Shape, s1.MACsPerInsn, f32.MACsPerInsn)
		}
	}
	b, err := Kernels(ctx, target.CortexM4, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Results {
		if a.Results[i].Instructions != b.Results[i].Instructions {
			t.Errorf("%s %s: %d then %d instructions", a.Results[i].Kernel, a.Results[i].Shape, a.Results[i].Instructions, b.Results[i].Instructions)
		}
	}
}
