package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dqnn/dqnn/target"
)

const example = "../examples/mnist_bnn/mnist_bnn.h5"

func TestValidateExample(t *testing.T) {
	if _, err := os.Stat(example); err != nil {
		t.Skipf("skipping: %v", err)
	}
	for _, cpu := range []target.CPU{target.Host, target.CortexM4} {
		t.Run(string(cpu), func(t *testing.T) {
			if err := target.Available(cpu); err != nil {
				t.Skipf("skipping: %v", err)
			}
			out := filepath.Join(t.TempDir(), "y.npy")
			rep, err := Run(context.Background(), Options{
				Model:        example,
				Inputs:       []string{"../examples/mnist_bnn/samples.inputs.npy"},
				SaveOutputs:  out,
				CheckOptions: CheckOptions{Target: cpu, PerLayer: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.WriteText(&b)
			t.Logf("build %v, run %v\n%s", rep.BuildTime, rep.RunTime, b.String())
			if !rep.Pass {
				t.Fatal("the bundled example does not validate")
			}
			y, shape, err := ReadNPY(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(shape) != 2 || shape[0] != 8 || shape[1] != 10 || len(y) != 80 {
				t.Errorf("saved outputs have shape %v", shape)
			}
		})
	}
}
