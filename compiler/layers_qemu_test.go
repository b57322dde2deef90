package compiler_test

import (
	"path/filepath"
	"testing"

	"github.com/dqnn/dqnn/compiler"
	"github.com/dqnn/dqnn/internal/testenv"
	"github.com/dqnn/dqnn/ir"
	"github.com/dqnn/dqnn/keras"
	"github.com/dqnn/dqnn/target"
	"github.com/dqnn/dqnn/validate"
)

// TestCortexM4NewLayers runs the single-input exact fixtures of the layers
// added for issue #13 (N-ary add, leaky quantized_relu, 1-D, separable,
// quantized average pooling, folded depthwise batch norm) on an emulated
// Cortex-M4 and compares bit for bit with the numpy oracle's outputs.
func TestCortexM4NewLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("QEMU run")
	}
	testenv.Need(t, "a runner for cortex-m4", target.Available(target.CortexM4))
	for _, name := range []string{"qk_nary_leaky", "qk_conv1d", "lq_conv1d", "qk_separable", "lq_separable", "qk_qpool", "qk_dwconv_bn"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := filepath.Join(root, "testdata/models", name)
			g, err := keras.Load(base+".h5", keras.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := compiler.Compile(g, compiler.Options{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			x, shape, err := validate.ReadNPY(base + ".inputs.npy")
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := validate.ReadNPY(base + ".expected.npy")
			if err != nil {
				t.Fatal(err)
			}
			samples := min(shape[0], 3)
			m := ir.NumElements(g.Outputs[0].Shape)
			got := runOnCPU(t, target.CortexM4, name, res, g, x, samples)
			for i := range samples * m {
				if !close32(got[i], want[i], true) {
					t.Fatalf("output %d (sample %d): Cortex-M4 %v, oracle %v", i, i/m, got[i], want[i])
				}
			}
		})
	}
}
