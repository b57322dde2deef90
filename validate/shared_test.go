package validate

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"
	"github.com/dqnn/dqnn/internal/testenv"
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
	for _, cpu := range []target.CPU{target.CortexM4, target.CortexM55} {
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
			})
		}
	}
}
