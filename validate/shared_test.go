package validate

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
)

// TestValidateSharedModelsCortexM runs dqnn validate on the real QKeras
// models of the shared models folder under QEMU, on Cortex-M4 (DSP paths)
// and Cortex-M55 (Helium paths): every traced tensor must equal the
// reference interpreter (s1/s8 bit for bit, f32 within the tolerances).
func TestValidateSharedModelsCortexM(t *testing.T) {
	if testing.Short() {
		t.Skip("short: QEMU runs skipped")
	}
	dir := sharedmodels.Require(t, "qkeras")
	models := []struct{ model, weights string }{
		{"example-models/qkeras_3layer.json", "example-models/qkeras_3layer_weights.h5"},
		{"example-models/qkeras_mnist_cnn.json", "example-models/qkeras_mnist_cnn_weights.h5"},
		{"example-models/qkeras_mnist_dense.json", "example-models/qkeras_mnist_dense_weights.h5"},
		{"example-models/qkeras-v3_3layer.keras", ""},
		{"mlperf-tiny-v0.7/AD08_model.h5", ""},
		{"mlperf-tiny-v0.7/RN07_model_best.h5", ""},
	}
	// M0 and M3 (issue #15): the models too large for the micro:bit's 16 KB
	// of RAM (RN07) run their M0 code on the mps2-an385 (Report.Board).
	for _, cpu := range []target.CPU{target.CortexM4, target.CortexM55, target.CortexM3, target.CortexM0} {
		for _, m := range models {
			t.Run(string(cpu)+"/"+filepath.Base(m.model), func(t *testing.T) {
				testenv.Need(t, "QEMU for "+string(cpu), target.Available(cpu))
				opt := Options{Model: filepath.Join(dir, m.model), Samples: 4, Seed: 7,
					CheckOptions: CheckOptions{Target: cpu, PerLayer: true}}
				weights := ""
				if m.weights != "" {
					weights = filepath.Join(dir, m.weights)
				}
				rep, err := loadAndRun(opt, weights)
				if err != nil {
					t.Fatal(err)
				}
				if !rep.Pass {
					var b strings.Builder
					rep.WriteText(&b)
					t.Fatalf("does not validate:\n%s", b.String())
				}
				if big := cpu == target.CortexM0 && strings.Contains(m.model, "RN07"); big != (rep.Board != "") {
					t.Errorf("ran on board %q (%s)", rep.Board, rep.BoardReason)
				}
			})
		}
	}
}

// TestValidateOverflowingInputs: inputs whose products with the s8 weight
// codes overflow float32 while their products with the dequantized weights
// (what Keras and the interpreter multiply by) do not. The f32 x s8 kernels
// recompute such sums with scaled weights (gen/ref.Rescued); before, the
// sample (1e38, 1e38, 0, ...) gave relu1 code 0 in C where the interpreter
// gives 63 (docs/semantics.md).
func TestValidateOverflowingInputs(t *testing.T) {
	dir := sharedmodels.Require(t, "qkeras")
	model := filepath.Join(dir, "example-models/qkeras_3layer.json")
	g, err := keras.Load(model, keras.Options{Weights: filepath.Join(dir, "example-models/qkeras_3layer_weights.h5")})
	if err != nil {
		t.Fatal(err)
	}
	shape := g.Inputs[0].Shape
	n := ir.NumElements(shape)
	// two samples of a few values then zeros, one cycling through values
	starts := [][]float32{{1e38, 1e38}, {-1e38, 1e38, 3e37}}
	cycle := []float32{1e38, -3e37, 2e37, 1, -1e38, 5e37, 0, -1.5, math.MaxFloat32}
	data := make([]float32, 3*n)
	for j, v := range starts {
		copy(data[j*n:(j+1)*n], v)
	}
	for i := range n {
		data[2*n+i] = cycle[i%len(cycle)]
	}
	npy := filepath.Join(t.TempDir(), "overflow.npy")
	if err := WriteNPY(npy, data, append([]int{3}, shape...)); err != nil {
		t.Fatal(err)
	}
	validatesOnHostM4M55(t, g, model, npy)
}
