package bench

import (
	"context"
	"testing"

	"github.com/dqnn/dqnn/ir/dtype"
	"github.com/dqnn/dqnn/target"
)

func TestKernelSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the kernel suite under QEMU runs in the full suite")
	}
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

// TestFlashDataIsFillData: a case with its inputs and weights as constants
// (how the micro:bit runs the suite) computes what the filled case does,
// for each element kind (f32, s8, packed s1): on the M3 both programs
// execute the same number of instructions (the soft-float f32 kernel and
// every output stage branch on the data), and the s8 data start as fill()
// starts.
func TestFlashDataIsFillData(t *testing.T) {
	if err := target.Available(target.CortexM3); err != nil {
		t.Skipf("skipping: %v", err)
	}
	in, w := flashData(5, 2, 3, 1)
	if len(in) != 2 || in[1]>>8 != 0 || len(w) != 3 {
		t.Fatalf("flashData(5 s8, 3 f32): %d and %d words (%08x), want 2 (the last one byte) and 3", len(in), len(w), in)
	}
	for _, ty := range Types[:3] {
		sh := []Shape{Shapes[0]}
		a, err := kernelsOnce(context.Background(), target.CortexM3, t.TempDir(), sh, [][3]dtype.DType{ty}, false)
		if err != nil {
			t.Fatal(err)
		}
		b, err := kernelsOnce(context.Background(), target.CortexM3, t.TempDir(), sh, [][3]dtype.DType{ty}, true)
		if err != nil {
			t.Fatal(err)
		}
		if a.Results[0].Instructions != b.Results[0].Instructions {
			t.Errorf("%s: filled %d instructions, constant %d", a.Results[0].Kernel, a.Results[0].Instructions, b.Results[0].Instructions)
		}
	}
}
