package vectors

import (
	"math"
	"testing"

	"github.com/dqnn/dqnn/gen/ref"
	"github.com/dqnn/dqnn/ir/dtype"
)

// TestWantIsReference re-runs the Go reference on every committed case: the
// stored outputs must be exactly what gen/ref computes today.
func TestWantIsReference(t *testing.T) {
	for i, c := range Cases {
		got, err := c.Eval()
		if err != nil {
			t.Errorf("case %d: %v", i, err)
			continue
		}
		if !same(got, c.Want) {
			t.Errorf("case %d (%s, %s): reference output differs from the stored one", i, c.Kernel, c.Desc)
		}
	}
}

func same(a, b ref.Buf) bool {
	if a.T != b.T || a.Len() != b.Len() {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		switch a.T {
		case dtype.F32:
			x, y := a.F32[i], b.F32[i]
			if x != y && !(math.IsNaN(float64(x)) && math.IsNaN(float64(y))) {
				return false
			}
		case dtype.S8:
			if a.S8[i] != b.S8[i] {
				return false
			}
		case dtype.S1:
			if a.S1[i] != b.S1[i] {
				return false
			}
		}
	}
	return true
}
