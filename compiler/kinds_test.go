package compiler

import (
	"testing"

	"github.com/dqnn/dqnn/gen/matrix"
	"github.com/dqnn/dqnn/ir"
)

// TestKernelKindsAreMatrixOps checks that ir's kernel families and the
// kernel matrix's ops are the same list, in the same order: Table.Find
// converts one into the other by name.
func TestKernelKindsAreMatrixOps(t *testing.T) {
	if len(ir.KernelKinds) != len(matrix.Ops) {
		t.Fatalf("ir.KernelKinds has %d kinds, matrix.Ops %d ops", len(ir.KernelKinds), len(matrix.Ops))
	}
	for i, k := range ir.KernelKinds {
		if k.String() != string(matrix.Ops[i]) {
			t.Errorf("kind %d: ir %q, matrix %q", i, k, matrix.Ops[i])
		}
		if k.IsConv() != matrix.Ops[i].IsConv() {
			t.Errorf("%s: ir IsConv %v, matrix IsConv %v", k, k.IsConv(), matrix.Ops[i].IsConv())
		}
	}
	for _, k := range ir.KernelKinds {
		if k == ir.KindUnsupported {
			t.Errorf("KernelKinds lists %s", k)
		}
	}
}
