package validate

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
)

// TestValidateOverflowingSignLayer: the f32 x s8 -> s1 first layer of the
// fixture qk_sign_first (QConv2D with codes up to ±32 and scale 2^-5, batch
// norm, binary) on inputs whose products with the codes overflow float32
// while their products with the dequantized weights do not. The kernel then
// takes the sign of Keras's float path on the rescued sum
// (gen/ref.ScaledS1); before, a NaN or infinite sum gave the threshold's
// answer (docs/semantics.md).
func TestValidateOverflowingSignLayer(t *testing.T) {
	model := filepath.Join("..", "testdata", "models", "qk_sign_first.h5")
	g, err := keras.Load(model, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	shape := g.Inputs[0].Shape
	n := ir.NumElements(shape)
	cycles := [][]float32{
		{1e38, 1e38, -3e37, 2e37, 1, 0, -1e38, 5e37, -1.5},
		{1e38, -1e38},
		{5e37, 1e38, 3e37, -0.5},
		{-1e38, 2e37, math.MaxFloat32, 1e38, -2e37},
	}
	data := make([]float32, len(cycles)*n)
	for j, c := range cycles {
		for i := range n {
			data[j*n+i] = c[(i+j)%len(c)]
		}
	}
	npy := filepath.Join(t.TempDir(), "overflow.npy")
	if err := WriteNPY(npy, data, append([]int{len(cycles)}, shape...)); err != nil {
		t.Fatal(err)
	}
	validatesOnHostM4M55(t, g, model, npy)
}

// validatesOnHostM4M55 validates g (read from model) per layer with the
// samples of npy on the host and, without -short, on Cortex-M4 and M55.
func validatesOnHostM4M55(t *testing.T, g *ir.Graph, model, npy string) {
	t.Helper()
	cpus := []target.CPU{target.Host}
	if !testing.Short() {
		cpus = append(cpus, target.CortexM4, target.CortexM55)
	}
	for _, cpu := range cpus {
		t.Run(string(cpu), func(t *testing.T) {
			testenv.Need(t, string(cpu), target.Available(cpu))
			rep, err := Run(context.Background(), g, Options{Model: model, Inputs: []string{npy},
				CheckOptions: CheckOptions{Target: cpu, PerLayer: true}})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass {
				var b strings.Builder
				rep.WriteText(&b)
				t.Fatalf("does not validate:\n%s", b.String())
			}
		})
	}
}
