package keras_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/internal/sharedmodels"

	"github.com/dqnn/dqnn/keras"
)

// BenchmarkImportLargest imports the largest model file (by bytes) among the
// fixtures, the bundled example and the shared real models that Load accepts.
func BenchmarkImportLargest(b *testing.B) {
	cands, _ := filepath.Glob("../testdata/models/*.h5")
	more, _ := filepath.Glob("../testdata/models/*.keras")
	cands = append(cands, more...)
	cands = append(cands, "../examples/mnist_bnn/mnist_bnn.h5",
		sharedmodels.Path("qkeras", "mlperf-tiny-v0.7", "RN07_model_best.h5"),
		sharedmodels.Path("qkeras", "mlperf-tiny-v0.7", "AD08_model.h5"),
		sharedmodels.Path("qkeras", "example-models", "qkeras-v3_3layer.keras"))
	best, size := "", int64(-1)
	for _, p := range cands {
		st, err := os.Stat(p)
		if err != nil || st.Size() <= size {
			continue
		}
		if _, err := keras.Load(p, keras.Options{}); err != nil {
			continue
		}
		best, size = p, st.Size()
	}
	if best == "" {
		b.Fatal("no model imports")
	}
	b.Logf("importing %s (%d bytes)", best, size)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := keras.Load(best, keras.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
