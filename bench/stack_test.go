package bench

import (
	"context"
	"os"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

// TestStackStaticBoundsPainted: the stack analyze counts (static, from the
// compiler's frame sizes) bounds the peak bench measures by painting, and
// is close to it, on the cores without FPU and on the M4 (other kernel
// paths).
func TestStackStaticBoundsPainted(t *testing.T) {
	const example = "../examples/mnist_bnn/mnist_bnn.h5"
	if _, err := os.Stat(example); err != nil {
		t.Skipf("skipping: %v", err)
	}
	g, err := keras.Load(example, keras.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cpu := range []target.CPU{target.CortexM0, target.CortexM3, target.CortexM4} {
		t.Run(string(cpu), func(t *testing.T) {
			testenv.Need(t, "a runner for "+string(cpu), target.Available(cpu))
			t.Parallel()
			res, err := compiler.Compile(g, compiler.Options{Name: "mnist", Target: string(cpu)})
			if err != nil {
				t.Fatal(err)
			}
			st, err := compiler.Stack(context.Background(), res, "mnist", cpu)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Model(context.Background(), g, validate.Library{Name: "mnist", Files: res.Files, Lowered: res.Graph}, cpu, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			painted := int(rep.Memory.StackPeakBytes)
			t.Logf("%s: static %d B (%v), painted %d B", cpu, st.Bytes, st.Path, painted)
			if painted == 0 || painted > st.Bytes || st.Bytes-painted > 512 {
				t.Errorf("painted peak %d B, static bound %d B: want 0 < painted <= static <= painted + 512", painted, st.Bytes)
			}
		})
	}
}
