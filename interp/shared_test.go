package interp_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"

	"github.com/dqnn/dqnn/interp"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
)

// TestSharedModelsRun imports the real models with weights under
// the shared models folder (internal/sharedmodels) and runs them on a fixed pseudo-random input: no
// reference outputs exist, so it checks that every value is finite and that
// softmax outputs sum to 1.
func TestSharedModelsRun(t *testing.T) {
	dir := sharedmodels.Require(t)
	for _, rel := range []string{
		"qkeras/example-models/qkeras_3layer.json", "qkeras/example-models/qkeras_mnist_cnn.json",
		"qkeras/example-models/qkeras_mnist_dense.json", "qkeras/example-models/qkeras-v3_3layer.keras",
		"qkeras/mlperf-tiny-v0.7/AD08_model.h5", "qkeras/mlperf-tiny-v0.7/RN07_model_best.h5",
	} {
		t.Run(rel, func(t *testing.T) {
			g, err := keras.Load(filepath.Join(dir, rel), keras.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ins [][]float32
			seed := uint32(12345)
			for _, in := range g.Inputs {
				v := make([]float32, ir.NumElements(in.Shape))
				for i := range v {
					seed = seed*1664525 + 1013904223
					v[i] = float32(seed>>8)/float32(1<<24)*2 - 1
				}
				ins = append(ins, v)
			}
			outs, err := interp.Run(g, ins)
			if err != nil {
				t.Fatal(err)
			}
			for o, out := range outs {
				var sum float64
				for _, v := range out {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("output %d has a non-finite value: %v", o, out)
					}
					sum += float64(v)
				}
				last := g.Nodes[len(g.Nodes)-1]
				if a, ok := last.Attrs.(*ir.ActivationAttrs); ok && a.Function == "softmax" && math.Abs(sum-1) > 1e-5 {
					t.Errorf("softmax output sums to %g", sum)
				}
			}
		})
	}
}

// TestSharedContainersAgree: qkeras_3layer.json + weights (Keras 2.4) and
// qkeras-v3_3layer.keras (Keras 3) hold the same network and weights, so
// they must give bit-identical outputs.
func TestSharedContainersAgree(t *testing.T) {
	dir := sharedmodels.Require(t, "qkeras", "example-models")
	a, err := keras.Load(filepath.Join(dir, "qkeras_3layer.json"), keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := keras.Load(filepath.Join(dir, "qkeras-v3_3layer.keras"), keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 20; k++ {
		in := make([]float32, 16)
		for i := range in {
			in[i] = float32((i*7+k*13)%23)/8 - 1.4
		}
		oa, err := interp.Run(a, [][]float32{in})
		if err != nil {
			t.Fatal(err)
		}
		ob, err := interp.Run(b, [][]float32{in})
		if err != nil {
			t.Fatal(err)
		}
		for i := range oa[0] {
			if math.Float32bits(oa[0][i]) != math.Float32bits(ob[0][i]) {
				t.Fatalf("input %d: .json+h5 gives %v, .keras gives %v", k, oa[0], ob[0])
			}
		}
	}
}
